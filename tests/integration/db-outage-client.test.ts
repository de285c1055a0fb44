import { afterAll, describe, expect, test } from 'bun:test';
import postgres from 'postgres';
import { createSql, type Sql } from '../../src/db/client';
import { isConnectionError } from '../../src/lib/errors';
import { createTestDatabase } from '../helpers/db';
import { REAL_DB, TEST_DATABASE_URL } from '../helpers/env';
import { startTcpProxy } from '../helpers/tcp-proxy';
import { waitFor } from '../helpers/wait';

/**
 * The root causes of "a PostgreSQL outage kills the process" (issue 10, defect 1), on the
 * bare client, each fixed by `patches/postgres+3.4.9.patch`.
 *
 * 1. When a connection closes while `sql.begin` waits on it, postgres.js 3.4.9 when a connection closes while `sql.begin` waits on it, postgres.js 3.4.9
 * rejects the statement and then writes the transaction's ROLLBACK to the closed connection
 * from a `setImmediate`, dereferencing a null socket: an uncaught TypeError (fatal to a
 * server; reported by bun test as an unhandled error). Unpatched, the cancelled write also
 * stays queued and is glued in front of the connection's next start-up message, so the
 * connection never works again.
 * 2. Every new connection first fetches the array types; when that query fails (its
 *    connection cut, or cancelled), the rejection was unobserved: fatal too.
 */
async function setUp() {
  const target = new URL(TEST_DATABASE_URL!);
  const proxy = startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  const db = await createTestDatabase();
  // One connection, so the pool must reuse the very connection the transaction died on.
  const sql: Sql = createSql(proxy.url(db.url!), { max: 1 });
  const direct = postgres(db.url!, { max: 1, onnotice: () => {} });
  afterAll(async () => {
    await sql.end({ timeout: 1 });
    await direct.end();
    await db.drop();
  });
  return { proxy, sql, direct, dbUrl: db.url! };
}
const ctx = REAL_DB ? await setUp() : undefined;

describe.skipIf(!ctx)('a transaction whose connection closes under it', () => {
  const { proxy, sql, direct } = ctx ?? ({} as NonNullable<typeof ctx>);

  for (const mode of ['accept-and-close', 'refuse'] as const) {
    test(`${mode}: the transaction rejects with a connection error, the process lives, the pool recovers`, async () => {
      const tx = sql.begin(async (t) => {
        await t`select 1`;
        await t`select pg_sleep(10), 'in the transaction' as marker`;
      });
      const settled = tx.then(
        () => undefined,
        (err: unknown) => err,
      );
      await waitFor(
        async () =>
          (
            await direct`select 1 from pg_stat_activity
              where query like '%in the transaction%' and query not like '%pg_stat_activity%'`
          ).length > 0,
        { what: 'the transaction to be waiting on PostgreSQL' },
      );
      proxy.cut(mode);
      const err = await settled;
      expect(isConnectionError(err)).toBe(true);
      // The ROLLBACK's write is where the process used to die: give it its turn.
      await new Promise((resolve) => setImmediate(resolve));
      proxy.restore();
      const rows = await waitFor(() => sql`select 'recovered' as state`.catch(() => undefined), {
        timeoutMs: 3_000,
        what: 'the pool to work again',
      });
      expect(rows[0]?.state).toBe('recovered');
    });
  }
});

describe.skipIf(!ctx)('a new connection whose type fetch fails', () => {
  test('the waiting query fails with a 503-class error; no unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const collect = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', collect);
    // The type fetch cancelled (57014) by a 1 ms statement_timeout: the same unobserved
    // rejection a connection cut during start-up gives, without racing the cut. On its own a
    // 1 ms timeout raced the fetch (it finished in time about half the time on a fast
    // machine), so the fetch is made to wait: this scratch database's pg_type is locked
    // meanwhile (start-up itself does not need that lock).
    const sql = postgres(ctx!.dbUrl, { max: 1, connection: { statement_timeout: 1 }, onnotice: () => {} });
    try {
      const err = await ctx!.direct.begin(async (tx) => {
        await tx`lock table pg_catalog.pg_type in access exclusive mode`;
        return sql`select 1`.then(
          () => undefined,
          (e: unknown) => e,
        );
      });
      expect(isConnectionError(err)).toBe(true);
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', collect);
      await sql.end();
    }
  });
});
