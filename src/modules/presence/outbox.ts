import type { HubSocket } from '../../realtime/hub';

/**
 * Per-socket writes get at most this much of an event-loop turn. A storm-sized presence batch
 * is one frame for each of thousands of sockets (a profile of a 10,000-user storm: ~5 µs per
 * write, 60 ms per batch); written in one go they would hold up upgrades, Redis replies and
 * the presence writes to the database, so they go out in slices with the loop turning between.
 */
const SLICE_MS = 4;
/** Fewer writes than this, with nothing queued, are done at once (a lone change: no delay). */
const SEND_NOW_BELOW = 64;

/** A frame for one socket, or something to do once everything queued before it is written. */
type Job = { socket: HubSocket; text: string } | { run: () => void };

/** Frames for individual sockets, written in order, in time-boxed slices. */
export function createOutbox() {
  let queue: Job[] = [];
  let head = 0;
  let scheduled = false;

  function drain(): void {
    scheduled = false;
    const until = performance.now() + SLICE_MS;
    while (head < queue.length) {
      const job = queue[head++]!;
      if ('run' in job) job.run();
      else job.socket.sendRaw(job.text);
      if ((head & 15) === 0 && performance.now() >= until) break;
    }
    if (head < queue.length) {
      scheduled = true;
      setImmediate(drain);
    } else {
      queue = [];
      head = 0;
    }
  }

  function enqueue(jobs: Job[]): void {
    for (const job of jobs) queue.push(job);
    if (!scheduled) {
      scheduled = true;
      setImmediate(drain);
    }
  }

  return {
    /** Run `fn` now, or once everything queued so far is written (a broadcast must not overtake them). */
    afterQueued(fn: () => void): void {
      if (scheduled) enqueue([{ run: fn }]);
      else fn();
    },
    /** Send these frames, in order after everything queued before them. */
    send(frames: { socket: HubSocket; text: string }[]): void {
      if (!scheduled && frames.length < SEND_NOW_BELOW) {
        for (const { socket, text } of frames) socket.sendRaw(text);
        return;
      }
      enqueue(frames);
    },
  };
}
