import type { HubSocket } from './hub';

/**
 * Per-socket writes get at most this much of an event-loop turn. A storm-sized presence batch
 * is one frame for each of thousands of sockets (a profile of a 10,000-user storm: ~5 µs per
 * write, 60 ms per batch), and so is a broadcast to them all (src/realtime/hub.ts); written in
 * one go they would hold up upgrades, Redis replies and the presence writes to the database,
 * so they go out in slices with the loop turning between.
 */
export const SLICE_MS = 4;
/** Fewer writes than this, with nothing queued, are done at once (a lone change: no delay). */
const SEND_NOW_BELOW = 64;

/**
 * A frame for one socket: its text, or how to build it. A storm's presence batch is one frame
 * per follower socket, each joining that socket's share of the batch; built when written, so
 * the joining happens in the slices too (built up front, one 10,000-socket batch held the loop
 * for 140 ms).
 */
export type Frame = { socket: HubSocket; text: string | (() => string) };
/**
 * One text for many sockets, written from `next` on across as many slices as it takes. One job
 * rather than a frame per socket: a burst of broadcasts to 10,000 sockets queues a job each,
 * not 10,000 objects each, and consecutive ones share the hub's list of sockets.
 */
type Broadcast = { text: string; sockets: readonly HubSocket[]; next: number };
/** A frame, a broadcast, or something to do once everything queued before it is written. */
type Job = Frame | Broadcast | { run: () => void };

/** What a sent job's slot holds until the queue is compacted. */
const SENT: Job = { run: () => {} };
/** Sent jobs at the head of the queue before it is compacted. */
const COMPACT_AFTER = 4_096;

const textOf = (frame: Frame): string => (typeof frame.text === 'string' ? frame.text : frame.text());

/**
 * Frames for individual sockets, written in order, in time-boxed slices: presence frames and
 * subscription answers, and a presence batch for everyone among them (src/realtime/hub.ts). No
 * frame overtakes one queued before it. Broadcasts to every socket have a log of their own
 * (src/realtime/broadcast-log.ts).
 */
export function createOutbox() {
  let queue: Job[] = [];
  let head = 0;
  let scheduled = false;
  /** Socket writes queued and not yet done (a frame: one; a broadcast: one per socket left). */
  let writesWaiting = 0;
  /** Jobs queued and not yet taken (a job run from `drain` sees only those after it). */
  const waiting = () => queue.length - head;

  /** Write what the slice allows of a broadcast; true once it is all written. */
  function writeBroadcast(job: Broadcast, until: number): boolean {
    const { sockets, text } = job;
    while (job.next < sockets.length) {
      const socket = sockets[job.next++]!;
      writesWaiting -= 1;
      if (!socket.closed) socket.sendRaw(text);
      if ((job.next & 15) === 0 && job.next < sockets.length && performance.now() >= until) return false;
    }
    return true;
  }

  function drain(): void {
    scheduled = false;
    const until = performance.now() + SLICE_MS;
    while (head < queue.length) {
      const job = queue[head]!;
      if ('sockets' in job) {
        if (!writeBroadcast(job, until)) break;
        queue[head++] = SENT;
        continue;
      }
      // Let go of what was sent at once: during a storm the queue never empties, and frames
      // kept until it did were most of the heap (40,000 frames of 1–2 KiB at 10,000 sockets).
      queue[head++] = SENT;
      if ('run' in job) {
        job.run(); // may be a native write to a few hundred sockets: the clock is read after each
        if (performance.now() >= until) break;
      } else {
        writesWaiting -= 1;
        if (!job.socket.closed) job.socket.sendRaw(textOf(job));
        if ((head & 15) === 0 && performance.now() >= until) break;
      }
    }
    if (head < queue.length) {
      // Drop the sent prefix now and then, so the array does not grow for as long as the storm lasts.
      if (head >= COMPACT_AFTER && head * 2 >= queue.length) {
        queue = queue.slice(head);
        head = 0;
      }
      schedule();
    } else {
      queue = [];
      head = 0;
    }
  }

  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    setImmediate(drain);
  }

  function enqueue(jobs: Job[]): void {
    for (const job of jobs) {
      queue.push(job);
      if ('socket' in job) writesWaiting += 1;
      else if ('sockets' in job) writesWaiting += job.sockets.length;
    }
    schedule();
  }

  return {
    /** Whether frames are still waiting to be written (a storm's batch going out in slices). */
    busy: (): boolean => waiting() > 0,
    /** Socket writes waiting in the queue (`/metrics`: a backlog that only grows means the writes cannot keep up). */
    writesWaiting: (): number => writesWaiting,
    /** Run `fn` now, or once everything queued so far is written (a broadcast must not overtake them). */
    afterQueued(fn: () => void): void {
      if (waiting() > 0) enqueue([{ run: fn }]);
      else fn();
    },
    /** Send these frames, in order after everything queued before them. */
    send(frames: Frame[]): void {
      if (waiting() === 0 && frames.length < SEND_NOW_BELOW) {
        for (const frame of frames) frame.socket.sendRaw(textOf(frame));
        return;
      }
      enqueue(frames);
    },
    /** Send `text` to each of `sockets` (a list that is not changed afterwards), after everything queued, in slices. */
    broadcast(text: string, sockets: readonly HubSocket[]): void {
      enqueue([{ text, sockets, next: 0 }]);
    },
  };
}

export type Outbox = ReturnType<typeof createOutbox>;
