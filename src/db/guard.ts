import type postgres from 'postgres';
import { isConnectionError } from '../lib/errors';
import { type DatabaseHealth, DatabaseUnavailableError, type OutageTimings } from './health';

/**
 * The parts of a postgres.js `Query` (a Promise subclass) we hook. `handler` is called once,
 * when the query is first awaited (never for a fragment that is only interpolated);
 * `resolve`/`reject` are how the connection settles it.
 */
interface PendingQuery {
  handler(query: PendingQuery): unknown;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

function isPendingQuery(x: unknown): x is PendingQuery {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as PendingQuery).handler === 'function' &&
    typeof (x as PendingQuery).reject === 'function'
  );
}

const unavailable = () => new DatabaseUnavailableError('the database is unreachable');

// biome-ignore lint/suspicious/noExplicitAny: postgres.js's Sql and TransactionSql are distinct call signatures; the proxy serves both.
type AnySql = any;

/**
 * Watches one piece of work (a query or a transaction) until `settle()`: once it has waited
 * `suspectAfterMs`, the database is checked (a stall is how a black-holed or frozen
 * connection shows); past `deadlineMs` it fails whatever the check said. While watched it
 * can be failed by `failAll`, which the circuit breaker calls when it opens.
 */
function createWatch(health: DatabaseHealth, timings: OutageTimings) {
  const pending = new Set<(err: Error) => void>();

  function watch(fail: (err: Error) => void): () => void {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const settle = () => {
      clearTimeout(timer);
      pending.delete(failNow);
    };
    const failNow = (err: Error) => {
      settle();
      fail(err);
    };
    pending.add(failNow);
    timer = setTimeout(() => {
      health.suspect(new DatabaseUnavailableError(`no answer within ${timings.suspectAfterMs} ms`));
      timer = setTimeout(() => {
        const err = new DatabaseUnavailableError(`no answer within ${timings.deadlineMs} ms`);
        failNow(err);
        health.suspect(err);
      }, timings.deadlineMs - timings.suspectAfterMs);
    }, timings.suspectAfterMs);
    return settle;
  }

  return {
    watch,
    failAll(reason: Error) {
      for (const fail of [...pending]) fail(reason);
    },
  };
}
type Watch = ReturnType<typeof createWatch>;

/**
 * Hook a query's dispatch, without changing its type: while the database is down it rejects
 * before reaching the pool; otherwise it is watched, and a connection error it meets is
 * reported to the circuit breaker. A query failed early may still be answered (or, if it
 * waited in the pool's queue, run) later; that answer is dropped.
 */
function guardQuery(q: PendingQuery, health: DatabaseHealth, watch: Watch, expired: () => boolean) {
  const dispatch = q.handler;
  q.handler = (query) => {
    if (health.isDown() || expired()) return query.reject(unavailable());
    const { resolve, reject } = query;
    const settle = watch.watch(reject);
    query.resolve = (value) => {
      settle();
      resolve(value);
    };
    query.reject = (err) => {
      settle();
      if (isConnectionError(err)) health.suspect(err);
      reject(err);
    };
    return dispatch(query);
  };
}

/**
 * `sql.begin`, watched as a whole: once failed (deadline, or the circuit opening) the caller
 * gets 503 and every later statement of the transaction fails, so postgres.js rolls it back
 * rather than committing work whose caller was told it failed.
 */
function guardedBegin(raw: AnySql, args: unknown[], health: DatabaseHealth, watch: Watch) {
  if (health.isDown()) return Promise.reject(unavailable());
  const fn = args.pop() as (tx: AnySql) => unknown;
  let expired = false;
  const run: Promise<unknown> = raw.begin(...args, (tx: AnySql) =>
    fn(guard(tx, health, watch, () => expired)),
  );
  return new Promise((resolve, reject) => {
    const settle = watch.watch((err) => {
      expired = true;
      reject(err);
    });
    run.then(
      (value) => {
        settle();
        resolve(value);
      },
      (err) => {
        settle();
        if (isConnectionError(err)) health.suspect(err);
        reject(err);
      },
    );
  });
}

function guard(raw: AnySql, health: DatabaseHealth, watch: Watch, expired: () => boolean): AnySql {
  const guarded = <T>(q: T): T => {
    if (isPendingQuery(q)) guardQuery(q, health, watch, expired);
    return q;
  };
  return new Proxy(raw, {
    // sql`…` (a query or a fragment) and sql(…) helpers (not queries: left alone).
    apply: (target, thisArg, args) => guarded(Reflect.apply(target, thisArg, args)),
    get(target, prop, receiver) {
      if (prop === 'unsafe' || prop === 'file') return (...args: unknown[]) => guarded(target[prop](...args));
      if (prop === 'begin') return (...args: unknown[]) => guardedBegin(target, args, health, watch);
      return Reflect.get(target, prop, receiver);
    },
  });
}

/**
 * The pool as the server uses it: same API, but queries and transactions fail at once while
 * `health` says the database is down, a stalled one makes `health` check the database, and
 * `failPending` (called when the circuit opens) fails everything still waiting. `listen`,
 * `end` and the helpers pass through.
 */
export function guardSql(raw: postgres.Sql, health: DatabaseHealth, timings: OutageTimings) {
  const watch = createWatch(health, timings);
  return {
    sql: guard(raw, health, watch, () => false) as postgres.Sql,
    failPending: (reason: Error) => watch.failAll(reason),
  };
}
