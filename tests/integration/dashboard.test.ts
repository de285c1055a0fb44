/**
 * GET /api/v1/dashboard/summary and /trends: exact counts (compared with GROUP BY over
 * tasks), filters, ETag/304, freshness after writes made in SQL, presence, the live push.
 * Runs on the embedded database and on real PostgreSQL (where SQL writes also come from a
 * second connection, as psql would make them).
 */
import { afterAll, describe, expect, test } from 'bun:test';
import postgres from 'postgres';
import type { Sql } from '../../src/db/client';
import { apiClient } from '../helpers/api';
import { REAL_DB, REAL_STACK } from '../helpers/env';
import { startTestServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';

const server = await startTestServer();
const api = apiClient(server.url);
const sql = server.sql;

type Filters = { status?: string; priority?: string; category?: string };

/** What the summary's task counts must be, straight from GROUP BY over tasks. */
async function expectedCounts(f: Filters = {}) {
  const rows = await sql<{ status: string; priority: string; category: string; n: number }[]>`
    select status, priority, category, count(*)::int as n from tasks
     where true
       ${f.status ? sql`and status = ${f.status}` : sql``}
       ${f.priority ? sql`and priority = ${f.priority}` : sql``}
       ${f.category ? sql`and category = ${f.category}` : sql``}
     group by 1, 2, 3`;
  const by = (k: 'status' | 'priority' | 'category', keys: string[] = []) => {
    const out: Record<string, number> = Object.fromEntries(keys.map((x) => [x, 0]));
    for (const r of rows) out[r[k]] = (out[r[k]] ?? 0) + r.n;
    return out;
  };
  const tasks_by_status = by('status', ['todo', 'in_progress', 'review', 'completed', 'cancelled']);
  const total = rows.reduce((a, r) => a + r.n, 0);
  const [users] = await sql<{ active: number; online: number }[]>`
    select count(*) filter (where is_active)::int as active, count(*) filter (where is_online)::int as online from users`;
  return {
    total_tasks: total,
    completed_tasks: tasks_by_status.completed!,
    tasks_by_status,
    tasks_by_priority: by('priority', ['low', 'medium', 'high', 'urgent']),
    tasks_by_category: Object.fromEntries(
      Object.entries(by('category')).sort(([a], [b]) => (a < b ? -1 : 1)),
    ),
    active_users: users!.active,
    online_users: users!.online,
  };
}

function query(f: Filters) {
  const p = new URLSearchParams(f as Record<string, string>).toString();
  return p ? `?${p}` : '';
}

/** The endpoint agrees with GROUP BY (waiting out the freshness window, ≤ 1 s). */
async function expectSummaryExact(f: Filters = {}, timeoutMs = 1_500) {
  const expected = await expectedCounts(f);
  const res = await waitFor(
    async () => {
      const r = await api.get(`/api/v1/dashboard/summary${query(f)}`);
      // The time-dependent figures are checked against GROUP BY in dashboard-insights.test.ts.
      const { generated_at: _g, version: _v, completion_rate: _c, ...rest } = r.body;
      const { overdue_tasks: _o, due_soon_tasks: _d, cycle_time: _t, ...counts } = rest;
      return Bun.deepEquals(counts, expected) ? r : undefined;
    },
    { timeoutMs, what: `summary ${JSON.stringify(f)} to equal ${JSON.stringify(expected)}` },
  );
  const rate = expected.total_tasks === 0 ? 0 : expected.completed_tasks / expected.total_tasks;
  expect(res.body.completion_rate).toBeCloseTo(rate, 3);
  return res;
}

async function expectAggregatesExact() {
  const diffs = await sql`select * from analytics_check()`;
  expect(Array.from(diffs)).toEqual([]);
}

describe('dashboard summary', () => {
  test('an empty database answers every status and priority key with 0', async () => {
    const res = await api.get('/api/v1/dashboard/summary');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      total_tasks: 0,
      completed_tasks: 0,
      completion_rate: 0,
      active_users: 0,
      online_users: 0,
      tasks_by_status: { todo: 0, in_progress: 0, review: 0, completed: 0, cancelled: 0 },
      tasks_by_priority: { low: 0, medium: 0, high: 0, urgent: 0 },
      tasks_by_category: {},
      overdue_tasks: 0,
      due_soon_tasks: 0,
      cycle_time: { completed_last_30_days: 0, median_hours: null, p90_hours: null },
      generated_at: expect.any(String),
      version: expect.any(String),
    });
    expect(new Date(res.body.generated_at).toISOString()).toBe(res.body.generated_at);
    expect(res.headers.get('etag')).toBeTruthy();
  });

  test('is public and carries no personal data', async () => {
    await api.newUser('Private Person');
    const res = await expectSummaryExact();
    const text = JSON.stringify(res.body);
    expect(text).not.toContain('Private Person');
    expect(text).not.toContain('@example.com');
    expect(res.body.active_users).toBe(1);
  });

  test('follows API writes: create, update (status, priority and category at once), delete', async () => {
    const u = await api.newUser('Writer');
    const ids: string[] = [];
    const specs = [
      { status: 'todo', priority: 'low', category: 'backend' },
      { status: 'in_progress', priority: 'high', category: 'backend' },
      { status: 'completed', priority: 'urgent', category: 'design' },
      { status: 'review', priority: 'medium', category: 'design' },
      { status: 'cancelled', priority: 'medium', category: 'ops' },
      {},
    ];
    for (const s of specs) {
      const r = await api.post('/api/v1/tasks', { title: 'task', ...s }, u.token);
      expect(r.status).toBe(201);
      ids.push(r.body.id);
    }
    await expectSummaryExact();
    const r = await api.patch(
      `/api/v1/tasks/${ids[0]}`,
      { status: 'completed', priority: 'urgent', category: 'ops' },
      u.token,
    );
    expect(r.status).toBe(200);
    await expectSummaryExact();
    expect((await api.delete(`/api/v1/tasks/${ids[1]}`, u.token)).status).toBe(204);
    const res = await expectSummaryExact();
    // backend reached zero: its row is gone, so the key is absent.
    expect(res.body.tasks_by_category).toEqual({ design: 2, general: 1, ops: 2 });
    await expectAggregatesExact();
  });

  test('filters restrict every task count, answered from the cube', async () => {
    for (const f of [
      { status: 'completed' },
      { priority: 'medium' },
      { category: 'design' },
      { status: 'review', priority: 'medium', category: 'design' },
      { category: 'no-such-category' },
    ]) {
      await expectSummaryExact(f);
    }
    const none = await api.get('/api/v1/dashboard/summary?category=no-such-category');
    expect(none.body.total_tasks).toBe(0);
    expect(none.body.tasks_by_status).toEqual({
      todo: 0,
      in_progress: 0,
      review: 0,
      completed: 0,
      cancelled: 0,
    });
    expect(none.body.active_users).toBeGreaterThan(0); // user counts are not task counts
  });

  test('the OpenAPI document covers both routes with their query and response schemas', async () => {
    const doc = (await api.get('/swagger/json')).body;
    const summary = doc.paths['/api/v1/dashboard/summary'].get;
    const queryNames = (op: { parameters: { name: string; in: string }[] }) =>
      op.parameters.filter((p) => p.in === 'query').map((p) => p.name);
    expect(queryNames(summary).sort()).toEqual(['category', 'priority', 'status']);
    expect(Object.keys(summary.responses)).toEqual(expect.arrayContaining(['200', '304', '422']));
    const trends = doc.paths['/api/v1/dashboard/trends'].get;
    expect(queryNames(trends)).toEqual(['days']);
  });

  test('bad filters are 422 in the contract error format', async () => {
    for (const q of ['status=done', 'priority=extreme', `category=${'x'.repeat(51)}`]) {
      const res = await api.get(`/api/v1/dashboard/summary?${q}`);
      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe('validation_error');
    }
  });

  test('ETag and If-None-Match: 304 while nothing changed, 200 with a new tag after a change', async () => {
    const first = await api.get('/api/v1/dashboard/summary');
    const etag = first.headers.get('etag')!;
    expect(etag).toBeTruthy();
    const again = await api.request('GET', '/api/v1/dashboard/summary', {
      headers: { 'if-none-match': etag },
    });
    expect(again.status).toBe(304);
    expect(again.body).toBe('');
    expect(again.headers.get('etag')).toBe(etag);
    // A filtered summary is a different representation: the unfiltered tag does not match it.
    const filtered = await api.request('GET', '/api/v1/dashboard/summary?status=todo', {
      headers: { 'if-none-match': etag },
    });
    expect(filtered.status).toBe(200);
    expect(filtered.headers.get('etag')).not.toBe(etag);

    await sql`insert into tasks (title) values ('etag change')`;
    const changed = await waitFor(
      async () => {
        const r = await api.request('GET', '/api/v1/dashboard/summary', {
          headers: { 'if-none-match': etag },
        });
        return r.status === 200 ? r : undefined;
      },
      { timeoutMs: 1_500, what: 'a 200 after the change' },
    );
    expect(changed.headers.get('etag')).not.toBe(etag);
    expect(changed.body.version).not.toBe(first.body.version);
  });

  test('a title-only edit keeps the version (and so the ETag)', async () => {
    const [t] = await sql<{ id: string }[]>`select id from tasks limit 1`;
    const before = await expectSummaryExact();
    await sql`update tasks set title = 'renamed' where id = ${t!.id}`;
    const v = (await sql<{ v: string }[]>`select analytics_current_version()::text as v`)[0]!.v;
    expect(v).toBe(before.body.version);
  });
});

describe('writes made in SQL', () => {
  test('single and multi-row INSERT, UPDATE of status, priority and category at once, DELETE', async () => {
    await sql`insert into tasks (title, status, priority, category) values ('psql one', 'review', 'high', 'imports')`;
    await expectSummaryExact();
    await sql`
      insert into tasks (title, status, priority, category)
      values ('a', 'todo', 'low', 'imports'), ('b', 'completed', 'low', 'imports'), ('c', 'cancelled', 'urgent', 'misc')`;
    await expectSummaryExact();
    await sql`update tasks set status = 'completed', priority = 'low', category = 'moved' where category = 'imports'`;
    await expectSummaryExact();
    await expectAggregatesExact();
    await sql`update tasks set status = 'todo' where category = 'moved' and title = 'a'`;
    await sql`delete from tasks where category in ('moved', 'misc')`;
    await expectSummaryExact();
    await expectAggregatesExact();
  });

  test('a bulk INSERT … SELECT, a bulk UPDATE and a bulk DELETE', async () => {
    const n = REAL_DB ? 100_000 : 20_000;
    await sql`
      insert into tasks (title, status, priority, category, created_at)
      select 'bulk ' || i,
             (array['todo','in_progress','review','completed','cancelled'])[1 + i % 5],
             (array['low','medium','high','urgent'])[1 + i % 4],
             'bulk-' || (i % 13),
             now() - make_interval(days => i % 40)
        from generate_series(1, ${n}::int) i`;
    await expectAggregatesExact();
    await expectSummaryExact();
    await expectSummaryExact({ category: 'bulk-3' });
    await sql`update tasks set status = 'completed', priority = 'urgent', category = 'bulk-x' where title like 'bulk %' and random() < 0.3`;
    await expectAggregatesExact();
    await sql`delete from tasks where title like 'bulk %' and random() < 0.5`;
    await expectAggregatesExact();
    await expectSummaryExact();
  }, 120_000);

  test('TRUNCATE empties the aggregates', async () => {
    await sql`truncate tasks`;
    await expectAggregatesExact();
    const res = await expectSummaryExact();
    expect(res.body.total_tasks).toBe(0);
    expect(res.body.tasks_by_category).toEqual({});
    expect(Array.from(await sql`select * from task_counts`)).toEqual([]);
    expect(Array.from(await sql`select * from task_daily`)).toEqual([]);
  });

  test('analytics_rebuild() repairs aggregates that were bypassed; analytics_check() reports the drift', async () => {
    await sql`insert into tasks (title, status, category) values ('r1', 'completed', 'rebuild'), ('r2', 'todo', 'rebuild')`;
    await sql.begin(async (tx) => {
      // What a restore without triggers would leave: rows the aggregates never saw.
      await tx`set local session_replication_role = replica`;
      await tx`insert into tasks (title, category) values ('unseen', 'rebuild')`;
    });
    const drift = await sql`select * from analytics_check()`;
    expect(drift.length).toBeGreaterThan(0);
    await sql`select * from analytics_rebuild()`;
    await expectAggregatesExact();
    await expectSummaryExact({ category: 'rebuild' });
  });

  test('X-Total-Count of GET /tasks agrees with the rows (answered from the cube)', async () => {
    const u = await api.newUser('Counter');
    for (const f of [
      '',
      '?status=completed',
      '?category=rebuild',
      '?priority=medium&category=rebuild',
      `?assignee_id=${u.id}`,
    ]) {
      const res = await api.get(`/api/v1/tasks${f}`, u.token);
      expect(res.status).toBe(200);
      expect(Number(res.headers.get('x-total-count'))).toBe(res.body.length);
    }
  });
});

describe('presence', () => {
  test('online_users follows users.is_online as written by the presence service', async () => {
    const u = await api.newUser('Online Olga');
    const before = (
      await sql<{ before: number }[]>`select count(*)::int as before from users where is_online`
    )[0]!.before;
    const [status] = await server.runtime.users.setUsersOnlineStatus([
      { userId: u.id, isOnline: true, at: new Date() },
    ]);
    server.runtime.bus.publish('presence', { changes: [{ user: status!, seq: 0 }] });
    await waitFor(async () => (await api.get('/api/v1/dashboard/summary')).body.online_users === before + 1, {
      timeoutMs: 1_500,
      what: 'online_users to count the user',
    });
    await server.runtime.users.setUsersOnlineStatus([{ userId: u.id, isOnline: false, at: new Date() }]);
    await waitFor(async () => (await api.get('/api/v1/dashboard/summary')).body.online_users === before, {
      timeoutMs: 1_500,
      what: 'online_users to drop the user again',
    });
    await expectAggregatesExact();
  });
});

describe('live push', () => {
  test('dashboard_summary frames reach a WebSocket client after changes, coalesced', async () => {
    const u = await api.newUser('Pusher');
    const frames: { type: string; data: { summary: { total_tasks: number; version: string } } }[] = [];
    const ws = new WebSocket(`${server.wsUrl}/ws?token=${u.token}`);
    ws.onmessage = (e) => frames.push(JSON.parse(String(e.data)));
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    try {
      const summaries = () => frames.filter((f) => f.type === 'dashboard_summary');
      const writes = 40;
      for (let i = 0; i < writes; i++) {
        expect((await api.post('/api/v1/tasks', { title: `push ${i}` }, u.token)).status).toBe(201);
      }
      const n = (await sql<{ n: number }[]>`select count(*)::int as n from tasks`)[0]!.n;
      await waitFor(() => summaries().at(-1)?.data.summary.total_tasks === n, {
        timeoutMs: 2_000,
        what: `a dashboard_summary frame with total_tasks ${n}`,
      });
      // Coalesced: fewer frames than writes, and never the same version twice.
      expect(summaries().length).toBeLessThan(writes);
      const versions = summaries().map((f) => f.data.summary.version);
      expect(new Set(versions).size).toBe(versions.length);

      // A write made in SQL is pushed too.
      await sql`insert into tasks (title) values ('pushed from sql')`;
      await waitFor(() => summaries().at(-1)?.data.summary.total_tasks === n + 1, {
        timeoutMs: 2_000,
        what: 'a frame after the SQL write',
      });
    } finally {
      ws.close();
    }
  });
});

describe('trends', () => {
  test('one entry per UTC day ending today, zeros included, created by created_at and completed by completed_at', async () => {
    await sql`truncate tasks`;
    const today = new Date().toISOString().slice(0, 10);
    await sql`
      insert into tasks (title, status, created_at, completed_at) values
        ('old', 'completed', now() - interval '3 days', now() - interval '1 day'),
        ('old2', 'todo', now() - interval '3 days', null),
        ('new', 'todo', now(), null),
        ('ancient', 'todo', now() - interval '400 days', null)`;
    const res = await api.get('/api/v1/dashboard/trends?days=7');
    expect(res.status).toBe(200);
    expect(res.body).toHaveLength(7);
    expect(res.body.at(-1).date).toBe(today);
    const byDate = Object.fromEntries(res.body.map((p: { date: string }) => [p.date, p]));
    const day = (ago: number) => new Date(Date.now() - ago * 86_400_000).toISOString().slice(0, 10);
    expect(byDate[day(3)]).toEqual({ date: day(3), created: 2, completed: 0 });
    expect(byDate[day(1)]).toEqual({ date: day(1), created: 0, completed: 1 });
    expect(byDate[day(0)]).toEqual({ date: day(0), created: 1, completed: 0 });
    expect(byDate[day(2)]).toEqual({ date: day(2), created: 0, completed: 0 });
    const dates = res.body.map((p: { date: string }) => p.date);
    expect([...dates].sort()).toEqual(dates);

    // Completing a task moves it onto today's completions; reopening takes it off again.
    await sql`update tasks set status = 'completed' where title = 'new'`;
    const after = await api.get('/api/v1/dashboard/trends?days=1');
    expect(after.body).toEqual([{ date: today, created: 1, completed: 1 }]);
    await sql`update tasks set status = 'todo' where title = 'new'`;
    expect((await api.get('/api/v1/dashboard/trends?days=1')).body).toEqual([
      { date: today, created: 1, completed: 0 },
    ]);

    const year = await api.get('/api/v1/dashboard/trends?days=365');
    expect(year.body).toHaveLength(365);
    expect((await api.get('/api/v1/dashboard/trends')).body).toHaveLength(30);
    await expectAggregatesExact();
  });

  test('days outside 1–365 is 422', async () => {
    for (const d of ['0', '366', 'abc']) {
      const res = await api.get(`/api/v1/dashboard/trends?days=${d}`);
      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe('validation_error');
    }
  });
});

describe.skipIf(!REAL_DB)('writes from another connection (real PostgreSQL)', () => {
  const psql: Sql = postgres(server.db.url!, { max: 1, onnotice: () => {} });
  afterAll(() => psql.end());

  test('a change made in psql is seen by the endpoint within a second', async () => {
    const before = (await psql<{ before: number }[]>`select count(*)::int as before from tasks`)[0]!.before;
    await psql`insert into tasks (title, category) values ('from psql', 'psql')`;
    const started = performance.now();
    await waitFor(async () => (await api.get('/api/v1/dashboard/summary')).body.total_tasks === before + 1, {
      timeoutMs: 1_000,
      intervalMs: 10,
      what: 'the psql insert to show',
    });
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});

describe.skipIf(!REAL_STACK)('several instances (real PostgreSQL and Redis)', () => {
  test('a second instance on the same database sees psql writes within a second, and shares the summary through Redis', async () => {
    const second = await startTestServer({ db: server.db, redisPrefix: server.config.redisPrefix });
    const api2 = apiClient(second.url);
    const psql: Sql = postgres(server.db.url!, { max: 1, onnotice: () => {} });
    try {
      await psql`insert into tasks (title, category) values ('seen everywhere', 'cluster')`;
      const n = (await psql<{ n: number }[]>`select count(*)::int as n from tasks`)[0]!.n;
      for (const client of [api, api2]) {
        await waitFor(async () => (await client.get('/api/v1/dashboard/summary')).body.total_tasks === n, {
          timeoutMs: 1_000,
          intervalMs: 10,
          what: 'each instance to show the psql insert',
        });
      }
      // Both answer the same summary. Other tests' users going offline also move the version,
      // so compare two reads taken back to back, until they fall between such changes.
      const [a, b] = await waitFor(
        async () => {
          const pair = [
            await api.get('/api/v1/dashboard/summary'),
            await api2.get('/api/v1/dashboard/summary'),
          ] as const;
          return pair[0].body.version === pair[1].body.version ? pair : undefined;
        },
        { timeoutMs: 2_000, intervalMs: 20, what: 'both instances to answer the same version' },
      );
      expect(a.body.version).toBe(b.body.version);
      expect(a.headers.get('etag')).toBe(b.headers.get('etag'));
      // Keyed by the database's origin and the version (see createSummaryCache).
      const keys = await server.runtime.redis!.keys(
        `${server.config.redisPrefix}dashboard:summary:*:${a.body.version}`,
      );
      expect(keys).toHaveLength(1);
      const shared = await server.runtime.redis!.get(keys[0]!);
      expect(JSON.parse(shared!).total_tasks).toBe(n);
    } finally {
      await psql.end();
      await second.stop();
    }
  });

  test('after the LISTEN connection is cut, psql writes are still seen within a second', async () => {
    const psql: Sql = postgres(server.db.url!, { max: 1, onnotice: () => {} });
    try {
      // Only this test database's listener: the shared server is not touched otherwise.
      const killed = await psql`
        select pg_terminate_backend(pid) from pg_stat_activity
         where datname = current_database() and query ilike 'listen%'`;
      expect(killed.length).toBeGreaterThan(0);
      await psql`insert into tasks (title, category) values ('after reconnect', 'cluster')`;
      const n = (await psql<{ n: number }[]>`select count(*)::int as n from tasks`)[0]!.n;
      await waitFor(async () => (await api.get('/api/v1/dashboard/summary')).body.total_tasks === n, {
        timeoutMs: 1_000,
        intervalMs: 10,
        what: 'the insert made while the listener was reconnecting',
      });
      // And the listener comes back (postgres.js reconnects it and re-runs onlisten).
      await waitFor(
        async () =>
          (
            await psql`select 1 from pg_stat_activity where datname = current_database() and query ilike 'listen%'`
          ).length > 0,
        { timeoutMs: 10_000, what: 'the LISTEN connection to come back' },
      );
    } finally {
      await psql.end();
    }
  });
});
