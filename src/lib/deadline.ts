/**
 * `p`, or a rejection with `onTimeout()` once `ms` have passed, whichever comes first; the
 * timer is cleared either way. For calls that must answer on time whatever a dependency
 * does (readiness checks, metric probes, the database circuit breaker's probe).
 */
export function rejectAfter<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
