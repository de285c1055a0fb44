/**
 * How long the event loop has been unable to run anything, so timeouts can tell "the other
 * side did not answer" from "we were too busy to hear it". A 10,000-socket connect storm
 * keeps the loop in turns of 100 ms and more; a 300 ms probe timeout measured on the wall
 * clock then declared a healthy PostgreSQL down, and every query failed for a while.
 */
const SAMPLE_MS = 10;
let stalledTotal = 0;
let lastTick = performance.now();
let sampler: ReturnType<typeof setInterval> | undefined;

function startSampler(): void {
  lastTick = performance.now();
  sampler = setInterval(() => {
    const now = performance.now();
    stalledTotal += Math.max(0, now - lastTick - SAMPLE_MS);
    lastTick = now;
  }, SAMPLE_MS);
  // Never what keeps a process alive (tests, CLIs).
  sampler.unref?.();
}

/** Milliseconds the event loop has been stalled so far, including a stall still going on. */
export function loopStalledMs(): number {
  if (!sampler) startSampler();
  return stalledTotal + Math.max(0, performance.now() - lastTick - SAMPLE_MS);
}

/**
 * `p`, or a rejection with `onTimeout()` once `ms` have passed, whichever comes first; the
 * timer is cleared either way. For calls that must answer on time whatever a dependency
 * does (readiness checks, metric probes, the database circuit breaker's probe).
 *
 * Time this process spent stalled does not count: a dependency is judged on time its answer
 * could have been heard in. Unstalled, that is the wall clock; a process stalled 400 ms of
 * the first 500 gives up 400 ms later than it would have.
 */
export function rejectAfter<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const started = performance.now();
  const stalledAtStart = loopStalledMs();
  const timeout = new Promise<never>((_, reject) => {
    const check = () => {
      const elapsed = performance.now() - started;
      const heard = elapsed - (loopStalledMs() - stalledAtStart);
      if (heard >= ms) reject(onTimeout());
      else timer = setTimeout(check, Math.max(1, ms - heard));
    };
    timer = setTimeout(check, ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
