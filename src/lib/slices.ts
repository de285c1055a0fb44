/**
 * Run `fn` for each item, for at most about `budgetMs` per event-loop turn, with the loop
 * turning in between (setImmediate), so database and Redis replies, timers and other
 * requests are heard between slices. The first slice runs now.
 *
 * For answers shared by a crowd. A batched read that thousands of callers wait for (account
 * checks at a connect storm's upgrades, subscription snapshots) used to wake them all at
 * once: each continuation upgrades a socket, registers presence and writes a frame, and
 * thousands of them in one turn stalled the process for a second and more, database and
 * Redis replies included (bench/RESULTS.md, presence at scale). Waking a caller runs its
 * continuation as microtasks; awaiting after each one lets those steps run inside the slice,
 * so the budget counts them (roughly: a continuation's last steps may run just after).
 */
export function inSlices<T>(items: readonly T[], fn: (item: T) => void, budgetMs = SLICE_BUDGET_MS): void {
  const queue = slicedQueue(fn, budgetMs);
  for (const item of items) queue.push(item, false);
  queue.runNow();
}

/**
 * A first-in, first-out queue worked off by `fn` in slices (as inSlices), starting at the next
 * loop turn: work that arrives one I/O callback at a time (a socket closing) is taken in, and
 * done after the loop has heard everything else that was ready.
 */
export function slicedQueue<T>(fn: (item: T) => void, budgetMs = SLICE_BUDGET_MS) {
  let items: (T | undefined)[] = [];
  let next = 0;
  let scheduled = false;
  const step = async () => {
    const until = performance.now() + budgetMs;
    slicesRunning += 1;
    try {
      while (next < items.length) {
        const item = items[next] as T;
        items[next++] = undefined; // let go of it now: a storm's queue may never empty
        fn(item);
        await null;
        if (performance.now() >= until) break;
      }
    } finally {
      // The last callers' continuations are still a few microtasks from done: let them finish
      // (and ask for work at the slice's end) before that work is handed out.
      afterMicrotasks(endSlice);
    }
    if (next < items.length) {
      if (next >= 4_096 && next * 2 >= items.length) {
        items = items.slice(next);
        next = 0;
      }
      setImmediate(() => void step());
    } else {
      items = [];
      next = 0;
      scheduled = false;
    }
  };
  return {
    /** Queue `item`; unless `schedule` is false, its slice is asked for if none is coming. */
    push(item: T, schedule = true): void {
      items.push(item);
      if (schedule && !scheduled) {
        scheduled = true;
        setImmediate(() => void step());
      }
    },
    /** Start the slices now (the first one runs before this returns, up to its first await). */
    runNow(): void {
      if (scheduled) return;
      scheduled = true;
      void step();
    },
  };
}

/**
 * Long enough to wake a hundred callers per turn, short next to the 30–50 ms a storm's loop
 * turn lasts. 4 rather than 8 ms since presence writes left the main loop (nothing there
 * waits on these turns for its latency any more): six interleaved pairs of storms
 * (bench/RESULTS.md, round five) gave `/health` p99 54–128 ms against 104–154 ms, with the
 * same connect rate and commit latency.
 */
export const SLICE_BUDGET_MS = 4;

let slicesRunning = 0;
let sliceEndWork: (() => void)[] = [];

/** Whether a slice (see inSlices) is running now. */
export const inSlice = (): boolean => slicesRunning > 0;

function endSlice(): void {
  slicesRunning -= 1;
  if (slicesRunning > 0) return;
  const work = sliceEndWork;
  sliceEndWork = [];
  for (const fn of work) {
    try {
      fn();
    } catch (err) {
      queueMicrotask(() => {
        throw err; // a bug in `fn`: surfaced like any uncaught error, and the rest still run
      });
    }
  }
}

/**
 * Run `fn` once the work of this moment is done, for batching what it produces: at the end of
 * the slice running now (see inSlices), else at the next loop turn (setImmediate).
 *
 * Why not always the next turn: a slice runs in the loop's setImmediate phase, and work asked
 * for there with setImmediate waits for the whole next I/O phase. During a connect storm that
 * phase handles hundreds of sockets (50–100 ms), and a socket opened in a slice reached Redis
 * 30–40 ms later at the median. Why not always at once: outside slices, work comes one I/O
 * callback at a time (a socket opening, a reply), and one batch per callback is one batch
 * per socket.
 */
export function afterSlice(fn: () => void): void {
  if (slicesRunning > 0) sliceEndWork.push(fn);
  else setImmediate(fn);
}

/**
 * Microtask rounds to wait before calling it the end of the current burst of microtasks. A
 * woken caller's continuation (an upgrade: the account check, the route, `open`, presence) is
 * a chain of ten to twenty awaits; anything still running after this many rounds is batched
 * at the next turn instead, which costs time but loses nothing.
 */
const MICROTASK_ROUNDS = 64;

/**
 * Run `fn` after the microtasks queued now, and the ones they queue in turn, up to
 * MICROTASK_ROUNDS rounds: within this turn, once what the current callback set off has run.
 * For batching the work of many promise continuations resumed together (a reply answering a
 * batch) without waiting for the next loop turn.
 */
export function afterMicrotasks(fn: () => void, rounds = MICROTASK_ROUNDS): void {
  let left = rounds;
  const tick = () => {
    if (--left > 0) queueMicrotask(tick);
    else fn();
  };
  queueMicrotask(tick);
}
