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
  });
}
