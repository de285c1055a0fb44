/** Scratch databases and seeding for the analytics benchmarks (real PostgreSQL only). */
import { readdirSync } from 'node:fs';
import { runner } from 'node-pg-migrate';
import type postgres from 'postgres';
import {
  createScratchDatabase,
  MIGRATIONS_DIR,
  MIGRATIONS_TABLE,
  runMigrations,
  silentLogger,
} from '../src/toolkit';

export const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * A fresh, migrated database; `drop()` removes it. `before`: apply only the migrations whose
 * file name sorts before it (e.g. '0013': the schema as it was before issue 12), so a
 * benchmark can compare then and now in one run.
 */
export async function scratchDatabase(label: string, before?: string) {
  const db = await createScratchDatabase(ADMIN_URL, `hive_bench_${label}`);
  if (before) {
    const count = readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql') && f < before).length;
    await runner({
      databaseUrl: db.url,
      dir: MIGRATIONS_DIR,
      migrationsTable: MIGRATIONS_TABLE,
      direction: 'up',
      count,
      log: () => {},
    });
  } else {
    await runMigrations(db.url, silentLogger);
  }
  return db;
}

/**
 * Add `n` tasks in one INSERT … SELECT (so the triggers see one statement): every status
 * and priority, 8 categories, created over the last 90 days, completed ones with a
 * completed_at. With `assignees` (user ids), six in seven tasks are assigned among them and
 * half have a due date within ±30 days of now, so the team-insights aggregates have work.
 * Returns the seconds it took.
 */
export async function seedTasks(sql: postgres.Sql, n: number, assignees: string[] = []): Promise<number> {
  const started = performance.now();
  await sql`
    insert into tasks (title, status, priority, category, created_at, completed_at, assignee_id, due_date)
    select 'bench task ' || i,
           (array['todo','in_progress','review','completed','cancelled'])[1 + (i * 7) % 5],
           (array['low','medium','high','urgent'])[1 + (i * 13) % 4],
           'cat' || (i % 8),
           now() - make_interval(days => i % 90),
           case when (i * 7) % 5 = 3 then now() - make_interval(days => (i % 90) / 2) end,
           case when cardinality(${assignees}::uuid[]) > 0 and i % 7 <> 0
                then (${assignees}::uuid[])[1 + i % greatest(cardinality(${assignees}::uuid[]), 1)] end,
           case when cardinality(${assignees}::uuid[]) > 0 and i % 2 = 0
                then now() + make_interval(mins => (i * 37) % 86400 - 43200) end
      from generate_series(1, ${n}::int) i`;
  return (performance.now() - started) / 1000;
}

/** `count` bench users (no password login needed): their ids. */
export async function benchUsers(sql: postgres.Sql, count: number): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    insert into users (email, password_hash, full_name)
    select 'bench-user-' || i || '@hive.local', 'x', 'Bench User ' || i from generate_series(1, ${count}::int) i
    on conflict do nothing
    returning id`;
  return rows.map((r) => r.id);
}
