import postgres from 'postgres';
import type { Logger } from '../lib/logger';
import { guardSql } from './guard';
import { createDatabaseHealth, type DatabaseHealth, OUTAGE_TIMINGS, type OutageTimings } from './health';
import { createSocketFactory } from './sockets';

export type Sql = postgres.Sql;
export type TransactionSql = postgres.TransactionSql;
/** Either the pool or a transaction: services take this so callers can compose them inside one `sql.begin`. */
export type Queryable = Sql | TransactionSql;

export interface SqlOptions {
  /** Pool size. The embedded database takes exactly one connection. */
  max: number;
  /** Application name shown in pg_stat_activity, e.g. the instance id. */
  applicationName?: string;
  /**
   * The server's pool: deadlines and a circuit breaker so requests answer 503 within a
   * second while PostgreSQL is away (see `src/db/health.ts`). Scripts leave it out: a
   * rebuild or a bulk load may legitimately run for minutes.
   */
  outageGuard?: { log: Logger; timings?: Partial<OutageTimings> };
}

/**
 * Seconds before postgres.js retries a connection, after `retries` failed attempts in a
 * row. Its default grows to 20 s, so a pool that saw a few failures would wait that long
 * after the database returned; the circuit breaker already keeps requests off a database
 * that is down, so this only has to stop a hot reconnect loop (e.g. the LISTEN connection's).
 */
const reconnectBackoff = (retries: number) => Math.min(0.05 * retries, 0.5);

/** Per pool: its health, for `/ready` and shutdown. */
const healthOf = new WeakMap<Sql, DatabaseHealth>();

/** The circuit breaker's view of this pool, when it has one (the server's, on real PostgreSQL). */
export function databaseHealth(sql: Sql): DatabaseHealth | undefined {
  return healthOf.get(sql);
}

function connectionOptions(options: SqlOptions, guarded: boolean) {
  return {
    max: options.max,
    // Fail fast while the database is down, so requests answer 503 rather than hang.
    connect_timeout: guarded ? 2 : 5,
    idle_timeout: 60,
    // Recycle connections now and then so a failover or a pooler restart is absorbed.
    max_lifetime: 30 * 60,
    backoff: reconnectBackoff,
    onnotice: () => {},
    transform: { undefined: null },
    connection: { application_name: options.applicationName ?? 'hive' },
  };
}

/** The one `sql` client of a process. */
export function createSql(url: string, options: SqlOptions): Sql {
  const guarded = options.outageGuard !== undefined;
  const sockets = createSocketFactory();
  // `socket` is a documented option (README "Custom socket") that the bundled typings omit.
  const raw = postgres(url, {
    ...connectionOptions(options, guarded),
    ...({ socket: sockets.open } as object),
  });
  if (!options.outageGuard) return raw;

  const timings = { ...OUTAGE_TIMINGS, ...options.outageGuard.timings };
  const probeSockets = createSocketFactory();
  // The probe has a connection of its own: a pool busy with slow queries is not an outage.
  const probeSql = postgres(url, {
    ...connectionOptions({ max: 1, applicationName: `${options.applicationName ?? 'hive'} probe` }, false),
    idle_timeout: 10,
    // The probe's own cadence paces it; postgres.js must not add a wait of its own.
    backoff: () => 0,
    ...({ socket: probeSockets.open } as object),
  });
  let failPending: (reason: Error) => void = () => {};
  const health = createDatabaseHealth({
    probe: () => probeSql`select 1`,
    abandonProbe: (reason) => probeSockets.destroyAll(reason),
    onDown: (reason) => {
      failPending(reason);
      sockets.destroyAll(reason);
    },
    log: options.outageGuard.log,
    timings,
  });
  // Ending the pool ends the probing too.
  const end = raw.end;
  raw.end = async (opts?: { timeout?: number }) => {
    // Nothing can be flushed to a database that is gone: do not wait for it.
    const timeout = health.isDown() ? 0 : opts?.timeout;
    health.stop();
    await Promise.all([end({ ...opts, timeout }), probeSql.end({ timeout: 0 })]);
  };
  const pool = guardSql(raw, health, timings);
  failPending = pool.failPending;
  healthOf.set(pool.sql, health);
  return pool.sql;
}
