import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { readFile } from 'node:fs/promises';
import postgres from 'postgres';
import { createSql } from '../../src/db/client';
import { startEmbeddedDatabase } from '../../src/db/embedded';
import { runMigrations } from '../../src/db/migrate';
import { DEMO_USERS } from '../../src/demo-seed';
import { silentLogger } from '../../src/lib/logger';
import { createTestDatabase } from '../helpers/db';
import { REAL_DB } from '../helpers/env';
import { startTestServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';

/**
 * Migrations from an empty database: a fresh database on the real server, or a fresh
 * in-memory PGlite in embedded mode.
 */
setDefaultTimeout(30_000);
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const fn of cleanups.reverse()) await fn().catch(() => {});
});

async function emptyDatabase(): Promise<string> {
  if (REAL_DB) {
    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    return db.url!;
  }
  const embedded = await startEmbeddedDatabase(undefined, silentLogger);
  cleanups.push(() => embedded.stop());
  return embedded.url;
}

/**
 * One connection for the duration of `fn`, then closed: the embedded server takes a single
 * client at a time, so a test lets go before migrations connect again.
 */
async function withSql<T>(url: string, fn: (sql: ReturnType<typeof createSql>) => Promise<T>): Promise<T> {
  const sql = createSql(url, { max: 1 });
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 1 });
  }
}

const USERS_COLUMNS = [
  'id',
  'email',
  'password_hash',
  'full_name',
  'role',
  'is_active',
  'is_online',
  'last_seen_at',
  'created_at',
  'updated_at',
];
/**
 * Server-owned columns beyond the contract's list, each documented in its migration:
 * presence_seq (0010) orders presence writes from several instances; token_version (0011)
 * retires an account's tokens when its password, role or active flag changes.
 */
const USERS_INTERNAL_COLUMNS = ['presence_seq', 'token_version'];
const TASKS_COLUMNS = [
  'id',
  'title',
  'description',
  'status',
  'priority',
  'category',
  'assignee_id',
  'created_by',
  'due_date',
  'created_at',
  'updated_at',
  'completed_at',
];

describe('migrations from an empty database', async () => {
  const url = await emptyDatabase();

  test('apply every migration, in order, recorded in pgmigrations', async () => {
    const applied = await runMigrations(url, silentLogger);
    expect(applied.slice(0, 2)).toEqual(['0001_users_and_tasks', '0002_users_is_online']);
    const names = await withSql(
      url,
      (sql) => sql<{ name: string }[]>`select name from pgmigrations order by id`,
    );
    expect(names.map((r) => r.name)).toEqual(applied);
  });

  test('produce the contract tables and columns', async () => {
    const cols = await withSql(
      url,
      (sql) => sql<{ table_name: string; column_name: string }[]>`
        select table_name, column_name from information_schema.columns
         where table_schema = 'public' and table_name in ('users', 'tasks')`,
    );
    const of = (table: string) =>
      cols
        .filter((c) => c.table_name === table)
        .map((c) => c.column_name)
        .sort();
    expect(of('users')).toEqual([...USERS_COLUMNS, ...USERS_INTERNAL_COLUMNS].sort());
    expect(of('tasks')).toEqual([...TASKS_COLUMNS].sort());
  });

  test('is_online comes from its own, later migration', async () => {
    const first = await readFile(
      new URL('../../migrations/0001_users_and_tasks.sql', import.meta.url),
      'utf8',
    );
    const second = await readFile(
      new URL('../../migrations/0002_users_is_online.sql', import.meta.url),
      'utf8',
    );
    expect(first).not.toContain('is_online');
    expect(second).toMatch(/add column is_online\s+boolean not null default false/);
  });

  test('every filter the API offers has an index; emails are unique without regard to case', async () => {
    const idx = await withSql(
      url,
      (sql) => sql<{ tablename: string; indexdef: string }[]>`
        select tablename, indexdef from pg_indexes where schemaname = 'public'`,
    );
    const tasks = idx.filter((i) => i.tablename === 'tasks').map((i) => i.indexdef);
    for (const column of ['status', 'priority', 'category', 'assignee_id', 'created_at']) {
      expect(tasks.some((d) => new RegExp(`\\(${column}\\b`).test(d))).toBe(true);
    }
    const users = idx.filter((i) => i.tablename === 'users').map((i) => i.indexdef);
    expect(users.some((d) => /UNIQUE.*lower\(email\)/i.test(d))).toBe(true);
    expect(users.some((d) => /full_name.*WHERE is_online/i.test(d))).toBe(true);
  });

  test('psql users can INSERT a task with title, status, priority, category only', async () => {
    await withSql(url, async (sql) => {
      const [row] = await sql`
        insert into tasks (title, status, priority, category) values ('psql', 'completed', 'high', 'ops')
        returning *`;
      expect(row).toMatchObject({ title: 'psql', description: null, assignee_id: null, created_by: null });
      expect(row!.completed_at).toBeInstanceOf(Date);
      await sql`insert into users (email, password_hash, full_name) values ('x@example.com', 'h', 'X')`;
      // Stored lower-case by rule, unique by lower(email): a second spelling cannot sneak in.
      await expect(
        sql`insert into users (email, password_hash, full_name) values ('X@example.com', 'h', 'Y')`,
      ).rejects.toMatchObject({ code: '23514' });
      await expect(
        sql`insert into users (email, password_hash, full_name) values ('x@example.com', 'h', 'Y')`,
      ).rejects.toMatchObject({ code: '23505' });
    });
  });

  test('running them again is a no-op', async () => {
    const count = () =>
      withSql(url, async (sql) => (await sql`select count(*)::int as n from pgmigrations`)[0]!.n);
    const before = await count();
    expect(await runMigrations(url, silentLogger)).toEqual([]);
    expect(await count()).toBe(before);
  });
});

// Several instances on one database exist only on a real server: an embedded database
// belongs to one process (its data directory) and takes one connection at a time.
describe.skipIf(!REAL_DB)('several instances starting at once', () => {
  test('concurrent runners on one empty database: each migration applied exactly once, none fails', async () => {
    const url = await emptyDatabase();
    const results = await Promise.all([1, 2, 3, 4].map(() => runMigrations(url, silentLogger)));
    const all = results.flat();
    expect(new Set(all).size).toBe(all.length);
    expect(all).toContain('0001_users_and_tasks');
    expect(all).toContain('0002_users_is_online');
    const dupes = await withSql(
      url,
      (sql) => sql`select name from pgmigrations group by name having count(*) > 1`,
    );
    expect(dupes.length).toBe(0);
  });

  test('three servers starting at once on an empty database: all serve, demo data loaded once', async () => {
    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    const servers = await Promise.all(
      [1, 2, 3].map(() => startTestServer({ db, env: { HIVE_SEED_DEMO: 'true' } })),
    );
    for (const s of servers) expect((await fetch(`${s.url}/ready`)).status).toBe(200);
    const [counts] = await servers[0]!.sql<{ users: number; tasks: number }[]>`
      select (select count(*)::int from users) as users, (select count(*)::int from tasks) as tasks`;
    expect(counts).toEqual({ users: DEMO_USERS.length, tasks: 300 });
  });

  test('a starter waits while another holds the migration lock, then finds its work done or does it', async () => {
    const url = await emptyDatabase();
    const holder = postgres(url, { max: 1, onnotice: () => {} });
    cleanups.push(() => holder.end({ timeout: 1 }));
    const reserved = await holder.reserve();
    await reserved`select pg_advisory_lock(${0x48495645})`;
    let finished = false;
    const running = runMigrations(url, silentLogger).then((r) => {
      finished = true;
      return r;
    });
    // The runner is queued on the lock (not failed, not finished): PostgreSQL shows its wait.
    await waitFor(
      async () =>
        (
          await reserved`
            select 1 from pg_locks
             where locktype = 'advisory' and not granted and objid = ${0x48495645}`
        ).length > 0,
      { what: 'the runner to wait on the migration lock' },
    );
    expect(finished).toBe(false);
    await reserved`select pg_advisory_unlock(${0x48495645})`;
    reserved.release();
    expect((await running).length).toBeGreaterThanOrEqual(2);
  });
});
