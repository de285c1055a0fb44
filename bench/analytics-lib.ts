/** Scratch databases and seeding for the analytics benchmarks (real PostgreSQL only). */
import type postgres from 'postgres';
import { createScratchDatabase, runMigrations, silentLogger } from '../src/toolkit';

export const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A fresh, migrated database; `drop()` removes it. */
export async function scratchDatabase(label: string) {
  const db = await createScratchDatabase(ADMIN_URL, `hive_bench_${label}`);
  await runMigrations(db.url, silentLogger);
  return db;
}

/**
 * Add `n` tasks in one INSERT … SELECT (so the triggers see one statement): every status
 * and priority, 8 categories, created over the last 90 days, completed ones with a
 * completed_at. Returns the seconds it took.
 */
export async function seedTasks(sql: postgres.Sql, n: number): Promise<number> {
  const started = performance.now();
  await sql`
    insert into tasks (title, status, priority, category, created_at, completed_at)
    select 'bench task ' || i,
           (array['todo','in_progress','review','completed','cancelled'])[1 + (i * 7) % 5],
           (array['low','medium','high','urgent'])[1 + (i * 13) % 4],
           'cat' || (i % 8),
           now() - make_interval(days => i % 90),
           case when (i * 7) % 5 = 3 then now() - make_interval(days => (i % 90) / 2) end
      from generate_series(1, ${n}::int) i`;
  return (performance.now() - started) / 1000;
}
