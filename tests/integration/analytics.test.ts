/**
 * The trigger-kept aggregates stay equal to GROUP BY over tasks under a property-based
 * storm of mixed writes (fast-check, seeded so a failure replays): on real PostgreSQL from
 * several connections at once, with deadlock victims rolled back mid-storm and the slot fold
 * running alongside; on the embedded database through its single connection.
 */
import { describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import postgres from 'postgres';
import type { Sql } from '../../src/db/client';
import { apiClient } from '../helpers/api';
import { REAL_DB } from '../helpers/env';
import { startTestServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';

const server = await startTestServer();
const api = apiClient(server.url);

const STATUSES = ['todo', 'in_progress', 'review', 'completed', 'cancelled'] as const;
const PRIORITIES = ['low', 'medium', 'high', 'urgent'] as const;
// Few categories, so writers collide on the same cube keys (the hot-row case).
const CATEGORIES = ['alpha', 'beta', 'gamma'] as const;

const row = fc.record({
  status: fc.constantFrom(...STATUSES),
  priority: fc.constantFrom(...PRIORITIES),
  category: fc.constantFrom(...CATEGORIES),
  daysAgo: fc.integer({ min: 0, max: 5 }),
});
const change = fc.record(
  {
    status: fc.constantFrom(...STATUSES),
    priority: fc.constantFrom(...PRIORITIES),
    category: fc.constantFrom(...CATEGORIES),
    daysAgo: fc.integer({ min: 0, max: 5 }),
  },
  { requiredKeys: [] },
);
const op = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), rows: fc.array(row, { minLength: 1, maxLength: 6 }) }),
  fc.record({ kind: fc.constant('update' as const), n: fc.integer({ min: 1, max: 8 }), set: change }),
  fc.record({ kind: fc.constant('delete' as const), n: fc.integer({ min: 1, max: 4 }) }),
  fc.record({
    kind: fc.constant('bulk' as const),
    n: fc.integer({ min: 20, max: 200 }),
    category: fc.constantFrom(...CATEGORIES),
  }),
);
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;
/** A unit of work: one statement, or several in one transaction. */
const unit = fc.oneof(
  { weight: 4, arbitrary: op.map((o) => [o]) },
  { weight: 1, arbitrary: fc.array(op, { minLength: 2, maxLength: 4 }) },
);

async function apply(q: Sql | postgres.TransactionSql, o: Op): Promise<void> {
  switch (o.kind) {
    case 'insert':
      await q`insert into tasks ${q(
        o.rows.map((r) => ({
          title: 'storm',
          status: r.status,
          priority: r.priority,
          category: r.category,
          created_at: new Date(Date.now() - r.daysAgo * 86_400_000),
        })),
      )}`;
      return;
    case 'bulk':
      await q`
        insert into tasks (title, status, priority, category)
        select 'storm bulk', (array['todo','in_progress','review','completed','cancelled'])[1 + i % 5],
               (array['low','medium','high','urgent'])[1 + i % 4], ${o.category}
          from generate_series(1, ${o.n}::int) i`;
      return;
    case 'update': {
      const s = o.set;
      if (Object.keys(s).length === 0) {
        await q`update tasks set title = 'touched' where id in (select id from tasks where id > gen_random_uuid() order by id limit ${o.n})`;
        return;
      }
      await q`
        update tasks set
          status = coalesce(${s.status ?? null}, status),
          priority = coalesce(${s.priority ?? null}, priority),
          category = coalesce(${s.category ?? null}, category),
          created_at = coalesce(now() - make_interval(days => ${s.daysAgo ?? null}::int), created_at)
         where id in (select id from tasks where id > gen_random_uuid() order by id limit ${o.n})`;
      return;
    }
    case 'delete':
      await q`delete from tasks where id in (select id from tasks where id > gen_random_uuid() order by id limit ${o.n})`;
      return;
  }
}

/** Conflicts a concurrent workload may legitimately meet: the transaction is rolled back whole. */
const RETRYABLE = new Set(['40P01', '40001']);

async function runUnit(q: Sql, ops: Op[]): Promise<'ok' | 'rolled back'> {
  try {
    if (ops.length === 1) await apply(q, ops[0]!);
    else
      await q.begin(async (tx) => {
        for (const o of ops) await apply(tx, o);
      });
    return 'ok';
  } catch (err) {
    if (RETRYABLE.has((err as { code?: string }).code ?? '')) return 'rolled back';
    throw err;
  }
}

async function expectExact(sql: Sql) {
  expect(Array.from(await sql`select * from analytics_check()`)).toEqual([]);
  const [truth] = await sql<{ total: number; completed: number }[]>`
    select count(*)::int as total, count(*) filter (where status = 'completed')::int as completed from tasks`;
  await waitFor(
    async () => {
      const s = (await api.get('/api/v1/dashboard/summary')).body;
      return s.total_tasks === truth!.total && s.completed_tasks === truth!.completed;
    },
    { timeoutMs: 1_500, what: 'the summary to match GROUP BY after the storm' },
  );
}

describe('aggregates under a storm of writes', () => {
  test('a seeded random sequence of mixed writes, one connection (both modes)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(unit, { minLength: 100, maxLength: 200 }), async (units) => {
        for (const u of units) await runUnit(server.sql, u);
        expect(Array.from(await server.sql`select * from analytics_check()`)).toEqual([]);
      }),
      { numRuns: 5, seed: 20261126, endOnFailure: true },
    );
    await expectExact(server.sql);
  }, 120_000);

  describe.skipIf(!REAL_DB)('concurrent writers (real PostgreSQL)', () => {
    const WORKERS = 6;
    test(`thousands of mixed writes from ${WORKERS} connections at once, with the slot fold running`, async () => {
      // Connections of their own, as psql sessions or an import job would use.
      const conns: Sql[] = Array.from({ length: WORKERS }, () =>
        postgres(server.db.url!, { max: 1, onnotice: () => {} }),
      );
      const plans = fc.sample(fc.array(unit, { minLength: 500, maxLength: 500 }), {
        numRuns: WORKERS,
        seed: 4242,
      });
      let rolledBack = 0;
      let done = false;
      let folds = 0;
      let foldsGivenWay = 0;
      const folder = (async () => {
        while (!done) {
          try {
            await server.sql`select analytics_fold()`;
            folds += 1;
          } catch (err) {
            // The fold gives way to writers (lock_timeout); it is retried, as the server's timer does.
            if ((err as { code?: string }).code !== '55P03') throw err;
            foldsGivenWay += 1;
          }
          await Bun.sleep(5); // pacing, so the fold does not hog a core of this 2-core machine
        }
      })();
      await Promise.all(
        plans.map(async (plan, i) => {
          for (const u of plan) if ((await runUnit(conns[i]!, u)) === 'rolled back') rolledBack += 1;
        }),
      );
      done = true;
      await folder;
      await Promise.all(conns.map((c) => c.end()));
      const statements = plans.flat(2).length;
      expect(statements).toBeGreaterThan(2_000);
      expect(folds).toBeGreaterThan(0);
      await expectExact(server.sql);
      // Rolled-back transactions (deadlock victims on tasks rows) left nothing behind.
      console.log(
        `storm: ${statements} statements, ${rolledBack} units rolled back, ${folds} folds (${foldsGivenWay} gave way)`,
      );
    }, 180_000);
  });
});
