import { rejectAfter } from '../lib/deadline';
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
 * The numbers behind "every request answers within a second while PostgreSQL is away". A
 * query or transaction unanswered after `suspectAfterMs` makes us check the database: one
 * round trip on a connection of its own, given up after `probeTimeoutMs`. If that fails the
 * circuit opens and everything waiting fails at once, so a stall costs a request about
 * `suspectAfterMs + probeTimeoutMs`. A healthy but slow database only costs a probe (at most
 * one per `verifyCooldownMs`); the work fails after `deadlineMs` regardless (a connection
 * that died alone while the database answers probes; long enough for legitimately slow bulk
 * statements, which is why there is no `statement_timeout` either). While down, the
 * database is probed every `probeIntervalMs`, so service resumes about that soon after it
 * returns.
 */
export const OUTAGE_TIMINGS = {
  suspectAfterMs: 200,
  probeTimeoutMs: 300,
  verifyCooldownMs: 100,
  deadlineMs: 30_000,
  probeIntervalMs: 250,
};
export type OutageTimings = typeof OUTAGE_TIMINGS;

export interface DatabaseHealthDeps {
  /** One round trip on a connection that is not the pool's, so a busy pool never looks like an outage. */
  probe(): Promise<unknown>;
  /** A probe timed out: drop its connection, so the next probe starts afresh. */
  abandonProbe(reason: Error): void;
  /** The database was found unreachable: fail what waits, drop the connections (they may be black-holed). */
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
  let verifiedAt = Number.NEGATIVE_INFINITY;
  let probeTimer: ReturnType<typeof setTimeout> | undefined;

  async function probeOnce(): Promise<boolean> {
    try {
      await rejectAfter(
        deps.probe(),
        timings.probeTimeoutMs,
        () => new DatabaseUnavailableError(`no answer within ${timings.probeTimeoutMs} ms`),
      );
      return true;
    } catch (err) {
      if (err instanceof DatabaseUnavailableError) deps.abandonProbe(err);
      return false;
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

  /**
   * Up: probe now (once, however many callers ask) and open the circuit if it fails. Right
   * after a probe answered, say so without another: under load many queries are slow at
   * once, and one probe speaks for all of them.
   */
  function verify(reason: unknown): Promise<boolean> {
    if (down || stopped) return Promise.resolve(!down);
    if (!verifying && performance.now() - verifiedAt < timings.verifyCooldownMs) return Promise.resolve(true);
    verifying ??= probeOnce().then((ok) => {
      verifying = undefined;
      if (ok) verifiedAt = performance.now();
      else markDown(reason);
      return ok;
    });
    return verifying;
  }

  return {
    isDown: () => down,
    /** Something suggests the database may be gone (a connection error, a stalled query). */
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
