import type { HubSocket } from './hub';
import { SLICE_MS } from './outbox';

/** A socket and the first broadcast it has not been sent yet (an index into the log). */
interface Reader {
  readonly socket: HubSocket;
  next: number;
}

/**
 * Broadcasts to every socket, as a log each socket reads at its own place. The log is written
 * in passes over the sockets, in 4 ms slices with the loop turning between; at its turn, a
 * socket is sent everything it has not been sent yet in ONE write (`sendRawMany`, a corked
 * write: several WebSocket frames in one syscall).
 *
 * Why a log and not a queue of broadcasts written one after the other: each write to a socket
 * costs the server ~9 µs and the client ~8 µs on the 2-core machine of bench/RESULTS.md, however
 * small the frame, and two frames in one corked write cost about what one does (round fifteen:
 * 10,000 sockets, a count and a summary each, 183 ms of server CPU written one broadcast after
 * the other against 88 ms corked). Broadcasts that come while a pass is under way (a burst of
 * task events, the count and the summary when they come close together) reach the sockets the
 * pass has not come to yet in one write each: under load, the writes batch themselves.
 *
 * Each socket gets every broadcast made after it joined, in the order they were made.
 */
export function createBroadcastLog() {
  /** The broadcasts from `base` on; those before it have been sent to every socket. */
  let texts: string[] = [];
  let base = 0;
  /** The index the next broadcast gets. */
  let end = 0;
  const readers = new Map<string, Reader>();
  /** The pass under way: an iterator over `readers` (it sees sockets that join meanwhile). */
  let pass: IterableIterator<Reader> | undefined;
  /** `end` when the pass under way started: once it ends, every socket has been sent what came before. */
  let passFrom = 0;
  /** Whether the pass under way has written anything (a pass that wrote nothing ends the writing). */
  let passWrote = false;
  /** Run once every socket has been sent the broadcasts made before `at`. */
  let runs: { at: number; fn: () => void }[] = [];
  /** Socket writes owed: for each socket, the broadcasts it has not been sent yet. */
  let writesWaiting = 0;
  let scheduled = false;

  function write(reader: Reader): void {
    const from = reader.next - base;
    const count = end - reader.next;
    reader.next = end;
    writesWaiting -= count;
    const { socket } = reader;
    if (socket.closed) return;
    if (count === 1) socket.sendRaw(texts[from]!);
    else if (socket.sendRawMany) socket.sendRawMany(texts.slice(from, from + count));
    else for (let i = from; i < from + count; i++) socket.sendRaw(texts[i]!);
  }

  /** A pass ended: run what every socket has now been sent, forget the broadcasts all have. */
  function passEnded(): void {
    pass = undefined;
    if (runs.length > 0) {
      const due = runs.filter((r) => r.at <= passFrom);
      runs = runs.filter((r) => r.at > passFrom);
      for (const r of due) r.fn();
    }
    texts = texts.slice(passFrom - base);
    base = passFrom;
  }

  function drain(): void {
    scheduled = false;
    const until = performance.now() + SLICE_MS;
    let visited = 0;
    for (;;) {
      if (!pass) {
        if (writesWaiting === 0 && runs.length === 0) return;
        pass = readers.values();
        passFrom = end;
        passWrote = false;
      }
      const step = pass.next();
      if (step.done) {
        const wrote = passWrote;
        passEnded();
        if (!wrote && writesWaiting === 0) return; // every socket is up to date
        continue;
      }
      const reader = step.value;
      if (reader.next < end) {
        write(reader);
        passWrote = true;
      }
      if ((++visited & 15) === 0 && performance.now() >= until) break;
    }
    schedule();
  }

  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    setImmediate(drain);
  }

  return {
    /** Whether broadcasts are still being written (or something waits to run after them). */
    busy: (): boolean => writesWaiting > 0 || runs.length > 0,
    /** Socket writes owed (`/metrics`: a backlog that only grows means the writes cannot keep up). */
    writesWaiting: (): number => writesWaiting,
    add(socket: HubSocket): void {
      readers.set(socket.connId, { socket, next: end });
    },
    remove(connId: string): void {
      const reader = readers.get(connId);
      if (!reader) return;
      readers.delete(connId);
      writesWaiting -= end - reader.next;
    },
    /** Send `text` to every socket, after the broadcasts made before it, in slices. */
    append(text: string): void {
      texts.push(text);
      end += 1;
      writesWaiting += readers.size;
      schedule();
    },
    /** Run `fn` now, or once every socket has been sent the broadcasts made so far. */
    afterWritten(fn: () => void): void {
      if (writesWaiting === 0 && runs.length === 0) {
        fn();
        return;
      }
      runs.push({ at: end, fn });
      schedule();
    },
  };
}
