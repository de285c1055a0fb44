import { connect, type Socket } from 'node:net';
import postgres from 'postgres';

export type Sql = postgres.Sql;
export type TransactionSql = postgres.TransactionSql;
/** Either the pool or a transaction: services take this so callers can compose them inside one `sql.begin`. */
export type Queryable = Sql | TransactionSql;

export interface SqlOptions {
  /** Pool size. The embedded database takes exactly one connection. */
  max: number;
  /** Application name shown in pg_stat_activity, e.g. the instance id. */
  applicationName?: string;
}

/**
 * A TCP (or Unix) socket for postgres.js that turns "the peer accepted and closed without a
 * word" into an error. postgres.js 3.4.9 answers such a clean close during start-up by
 * reconnecting at once, forever, leaving the waiting query pending (porsager/postgres#1193):
 * behind a proxy, pooler or container port mapping whose PostgreSQL is down, every request
 * would hang instead of failing. As an error, the waiting query rejects (CONNECTION_CLOSED,
 * which the app answers with 503) and the next query tries a fresh connection.
 */
function startupGuardedSocket(options: { host: string[]; port: number[]; path?: string | false }): Socket {
  const socket = options.path ? connect(options.path) : connect(options.port[0]!, options.host[0]!);
  socket.once('end', () => {
    if (socket.bytesRead === 0) {
      socket.destroy(
        Object.assign(new Error('the database closed the connection before answering'), {
          code: 'CONNECTION_CLOSED',
        }),
      );
    }
  });
  return socket;
}

/** The one `sql` client of a process. */
export function createSql(url: string, options: SqlOptions): Sql {
  return postgres(url, {
    max: options.max,
    // Fail fast while the database is down, so requests answer 503 rather than hang.
    connect_timeout: 5,
    idle_timeout: 60,
    // Recycle connections now and then so a failover or a pooler restart is absorbed.
    max_lifetime: 30 * 60,
    onnotice: () => {},
    transform: { undefined: null },
    connection: { application_name: options.applicationName ?? 'hive' },
    // A documented option (README "Custom socket") that the bundled typings omit.
    ...({ socket: startupGuardedSocket } as object),
  });
}
