/**
 * The link between SERVER_SESSION_PREFIX (src/db/bootstrap.ts) and hive_is_server_session()
 * (migrations/0020): the analytics triggers skip NOTIFY for the server's own sessions, which
 * is worth 3× write throughput under contention. If either side is renamed alone, these fail.
 */
import { describe, expect, test } from 'bun:test';
import postgres from 'postgres';
import { SERVER_SESSION_PREFIX } from '../../src/db/bootstrap';
import { REAL_DB } from '../helpers/env';
import { startTestServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';

const server = await startTestServer();
const sql = server.sql;

/** hive_is_server_session() in a transaction whose application_name is `name`. */
async function isServerSession(name: string): Promise<boolean> {
  return sql.begin(async (tx) => {
    await tx`select set_config('application_name', ${name}, true)`;
    const [row] = await tx<{ v: boolean }[]>`select hive_is_server_session() as v`;
    return row!.v;
  });
}

describe('the server-session rule', () => {
  test('the SQL rule is exactly "starts with SERVER_SESSION_PREFIX"', async () => {
    expect(await isServerSession(`${SERVER_SESSION_PREFIX}some-instance`)).toBe(true);
    expect(await isServerSession(SERVER_SESSION_PREFIX)).toBe(true);
    expect(await isServerSession(SERVER_SESSION_PREFIX.trimEnd())).toBe(false);
    expect(await isServerSession(`x${SERVER_SESSION_PREFIX}`)).toBe(false);
    expect(await isServerSession('psql')).toBe(false);
    expect(await isServerSession('analytics-rebuild')).toBe(false);
  });

  test('no database function reads application_name except hive_is_server_session()', async () => {
    const rows = await sql<{ name: string }[]>`
      select p.proname as name from pg_proc p
       where p.pronamespace = current_schema()::regnamespace and p.prosrc like '%application_name%'
       order by 1`;
    expect(rows.map((r) => r.name)).toEqual(['hive_is_server_session']);
  });

  test('the superseded trigger helpers of migration 0004 are gone', async () => {
    const rows = await sql`
      select 1 from pg_proc
       where pronamespace = current_schema()::regnamespace
         and proname in ('task_counts__apply', 'task_daily__apply')`;
    expect(rows.length).toBe(0);
  });
});

// Real PostgreSQL only: PGlite's socket server does not apply the application_name of the
// start-up packet (every session there counts as an outside one; there is one connection and
// no LISTEN, so the 250 ms version poll is what announces writes), and LISTEN needs a second
// connection.
describe.skipIf(!REAL_DB)('on real PostgreSQL', () => {
  test("the server's own pool is named with SERVER_SESSION_PREFIX and the database recognises it", async () => {
    const [row] = await sql<{ name: string; v: boolean }[]>`
      select current_setting('application_name') as name, hive_is_server_session() as v`;
    expect(row!.name.startsWith(SERVER_SESSION_PREFIX)).toBe(true);
    expect(row!.v).toBe(true);
  });

  test("a write from the server's session does not NOTIFY; the same write from psql does", async () => {
    const psql = postgres(server.db.url!, { max: 1, onnotice: () => {} });
    const payloads: string[] = [];
    try {
      await psql.listen('hive_analytics', (payload) => void payloads.push(payload));
      await sql`insert into tasks (title, category) values ('from the server', 'notify-probe')`;
      await psql`insert into tasks (title, category) values ('from psql', 'notify-probe')`;
      // Notifications arrive in commit order: once the marker is here, every earlier one is too.
      await psql`select pg_notify('hive_analytics', 'marker')`;
      await waitFor(() => payloads.includes('marker'), { what: 'the marker notification' });
      expect(payloads).toEqual(['', 'marker']);
    } finally {
      await psql.end();
    }
  });
});
