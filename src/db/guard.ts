import type postgres from 'postgres';
import { isConnectionError } from '../lib/errors';
import { type DatabaseHealth, DatabaseUnavailableError } from './health';

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

/**
 * Give a query a deadline and the circuit breaker's verdict, without changing its type:
 * while the database is down it rejects before reaching the pool; otherwise it rejects with
 * `DatabaseUnavailableError` if unanswered after `deadlineMs` (the connection may still
 * answer later; that answer is dropped) and reports connection errors to `health`.
 */
function guardQuery(q: PendingQuery, health: DatabaseHealth, deadlineMs: number, expired: () => boolean) {
  const dispatch = q.handler;
  q.handler = (query) => {
    if (health.isDown() || expired()) return query.reject(unavailable());
    const { resolve, reject } = query;
    const timer = setTimeout(() => {
      const err = new DatabaseUnavailableError(`the database did not answer within ${deadlineMs} ms`);
      reject(err);
      health.suspect(err);
    }, deadlineMs);
    query.resolve = (value) => {
      clearTimeout(timer);
      resolve(value);
    };
    query.reject = (err) => {
      clearTimeout(timer);
      if (isConnectionError(err)) health.suspect(err);
      reject(err);
    };
    return dispatch(query);
  };
}

// biome-ignore lint/suspicious/noExplicitAny: postgres.js's Sql and TransactionSql are distinct call signatures; the proxy serves both.
type AnySql = any;

/**
 * `sql.begin` with one deadline for the whole transaction: past it the caller gets 503 and
 * every later statement of the transaction fails, so postgres.js rolls it back rather than
 * committing work whose caller was already told it failed.
 */
function guardedBegin(raw: AnySql, args: unknown[], health: DatabaseHealth, deadlineMs: number) {
  if (health.isDown()) return Promise.reject(unavailable());
  const fn = args.pop() as (tx: AnySql) => unknown;
  let expired = false;
  const run: Promise<unknown> = raw.begin(...args, (tx: AnySql) =>
    fn(guard(tx, health, deadlineMs, () => expired)),
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      expired = true;
      const err = new DatabaseUnavailableError(`the transaction did not finish within ${deadlineMs} ms`);
      health.suspect(err);
      reject(err);
    }, deadlineMs);
  });
  run.catch((err) => {
    if (isConnectionError(err)) health.suspect(err);
  });
  return Promise.race([run, deadline]).finally(() => clearTimeout(timer));
}

function guard(raw: AnySql, health: DatabaseHealth, deadlineMs: number, expired: () => boolean): AnySql {
  const guarded = <T>(q: T): T => {
    if (isPendingQuery(q)) guardQuery(q, health, deadlineMs, expired);
    return q;
  };
  return new Proxy(raw, {
    // sql`…` (a query or a fragment) and sql(…) helpers (not queries: left alone).
    apply: (target, thisArg, args) => guarded(Reflect.apply(target, thisArg, args)),
    get(target, prop, receiver) {
      if (prop === 'unsafe' || prop === 'file') return (...args: unknown[]) => guarded(target[prop](...args));
      if (prop === 'begin') return (...args: unknown[]) => guardedBegin(target, args, health, deadlineMs);
      return Reflect.get(target, prop, receiver);
    },
  });
}

/**
 * The pool as the server uses it: same API, but every query and transaction answers within
 * `deadlineMs` (503 past it) and fails at once while `health` says the database is down.
 * `listen`, `end` and the helpers pass through.
 */
export function guardSql(raw: postgres.Sql, health: DatabaseHealth, deadlineMs: number): postgres.Sql {
  return guard(raw, health, deadlineMs, () => false);
}
