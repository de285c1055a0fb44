/**
 * Run `fn` for each item, for at most about `budgetMs` per event-loop turn, with the loop
 * turning in between (setImmediate), so database and Redis replies, timers and other
 * requests are heard between slices.
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
  let next = 0;
  const step = async () => {
    const until = performance.now() + budgetMs;
    while (next < items.length) {
      fn(items[next++]!);
      await null;
      if (performance.now() >= until) break;
    }
    if (next < items.length) setImmediate(() => void step());
  };
  void step();
}

/** Long enough to wake hundreds of callers per turn, short next to the 50–100 ms a reply may wait. */
export const SLICE_BUDGET_MS = 8;
