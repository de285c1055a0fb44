import type { Logger } from '../lib/logger';

/**
 * Raised instead of a query while the database is known to be unreachable, and when a
 * query outlives its deadline. `src/lib/errors.ts` answers it with 503 `service_unavailable`.
 */
export class DatabaseUnavailableError extends Error {
  readonly code = 'DATABASE_UNAVAILABLE';
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseUnavailableError';
  }
}

/**
 * The numbers behind "every request answers within a second while PostgreSQL is away":
 * a query still unanswered after `queryDeadlineMs` answers 503 and makes us check the
 * database; the check (one round trip on a connection of its own) gives up after
 * `probeTimeoutMs`; while the database is down it is checked every `probeIntervalMs`,
 * so service resumes within about that long of its return.
 */
export const OUTAGE_TIMINGS = {
  queryDeadlineMs: 700,
  probeTimeoutMs: 400,
  probeIntervalMs: 250,
};
export type OutageTimings = typeof OUTAGE_TIMINGS;

export interface DatabaseHealthDeps {
  /** One round trip on a connection that is not the pool's, so a busy pool never looks like an outage. */
  probe(): Promise<unknown>;
  /** A probe timed out: drop its connection, so the next probe starts afresh. */
  abandonProbe(reason: Error): void;
  /** The database was found unreachable: drop the pool's connections (they may be black-holed). */
  onDown(reason: Error): void;
  log: Logger;
  timings: OutageTimings;
}

/**
 * A circuit breaker in front of the pool. Up: queries go through. A connection error or
 * a missed deadline makes it *verify* with a probe (single-flight); only a failed probe
 * opens the circuit, so one killed backend or a slow moment under load does not. Down:
 * queries fail at once (no pool queueing, no connect timeouts) and a probe runs every
 * `probeIntervalMs` in the background; the first that answers closes the circuit.
 */
export function createDatabaseHealth(deps: DatabaseHealthDeps) {
  const { log, timings } = deps;
  let down = false;
  let downSince = 0;
  let stopped = false;
  let verifying: Promise<boolean> | undefined;
  let probeTimer: ReturnType<typeof setTimeout> | undefined;

  async function probeOnce(): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new DatabaseUnavailableError(`no answer within ${timings.probeTimeoutMs} ms`)),
        timings.probeTimeoutMs,
      );
    });
    try {
      await Promise.race([deps.probe(), timeout]);
      return true;
    } catch (err) {
      if (err instanceof DatabaseUnavailableError) deps.abandonProbe(err);
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  function markDown(reason: unknown) {
    if (down || stopped) return;
    down = true;
    downSince = performance.now();
    log.warn('database unreachable: answering 503 at once until it is back', { err: reason });
    deps.onDown(new DatabaseUnavailableError('the database became unreachable'));
    scheduleProbe();
  }

  function scheduleProbe() {
    if (stopped) return;
    probeTimer = setTimeout(async () => {
      probeTimer = undefined;
      if (stopped) return;
      if (!(await probeOnce())) return scheduleProbe();
      down = false;
      log.info('database reachable again', { down_ms: Math.round(performance.now() - downSince) });
    }, timings.probeIntervalMs);
  }

  /** Up: probe now (once, however many callers ask) and open the circuit if it fails. */
  function verify(reason: unknown): Promise<boolean> {
    if (down || stopped) return Promise.resolve(!down);
    verifying ??= probeOnce().then((ok) => {
      verifying = undefined;
      if (!ok) markDown(reason);
      return ok;
    });
    return verifying;
  }

  return {
    isDown: () => down,
    /** A query failed in a way that may mean the database is gone (connection error, deadline). */
    suspect(reason: unknown): void {
      void verify(reason);
    },
    /** For readiness: false at once while down, else the result of a fresh probe. */
    check: (): Promise<boolean> => verify(new DatabaseUnavailableError('readiness check failed')),
    stop(): void {
      stopped = true;
      if (probeTimer) clearTimeout(probeTimer);
    },
  };
}

export type DatabaseHealth = ReturnType<typeof createDatabaseHealth>;
