/**
 * `npm run seed:bench`: load a large task board into DATABASE_URL for benchmarks —
 * 1,000,000 tasks by default (`--tasks N`), over a year of history, every status, priority
 * and ten categories, assigned among a few bench users. Batched `insert … select … from
 * generate_series` (the rows are made inside PostgreSQL, one round trip per batch), with a
 * progress bar and ETA on stderr. Migrations are applied first. Real PostgreSQL only: the
 * embedded database is for development, not for a million rows.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/hive_bench npm run seed:bench
 *
 * Bench users (password `bench-password`): bench0@hive.local … bench9@hive.local.
 */
import postgres from 'postgres';
import { createLogger, hashPassword, runMigrations, TASK_PRIORITIES, TASK_STATUSES } from '../src/toolkit';
import { numberArg } from './lib';

export const BENCH_PASSWORD = 'bench-password';
export const BENCH_USERS = Array.from({ length: 10 }, (_, i) => ({
  email: `bench${i}@hive.local`,
  full_name: `Bench User ${i}`,
}));
const CATEGORIES = [
  'backend',
  'frontend',
  'design',
  'ops',
  'research',
  'mobile',
  'data',
  'security',
  'docs',
  'support',
];

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
function duration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  return s >= 60
    ? `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`
    : `${s.toFixed(1)}s`;
}

/** One line, redrawn in place on a terminal; a line per ~10% when stderr is a file or pipe. */
function progress(total: number) {
  const started = performance.now();
  const tty = process.stderr.isTTY;
  let lastDecile = -1;
  return (done: number) => {
    const elapsed = (performance.now() - started) / 1000;
    const rate = done / Math.max(elapsed, 1e-3);
    const eta = done === 0 ? Number.NaN : (total - done) / rate;
    const ratio = done / total;
    const width = 30;
    const bar = '#'.repeat(Math.round(ratio * width)).padEnd(width, '.');
    const line = `[${bar}] ${(ratio * 100).toFixed(1).padStart(5)}%  ${fmt(done)}/${fmt(total)}  ${fmt(rate)} rows/s  ETA ${duration(eta)}`;
    if (tty) process.stderr.write(`\r${line}${done >= total ? '\n' : ''}`);
    else if (Math.floor(ratio * 10) > lastDecile || done >= total) {
      lastDecile = Math.floor(ratio * 10);
      process.stderr.write(`${line}\n`);
    }
  };
}

export async function seedBench(databaseUrl: string, total: number, batch: number) {
  const log = createLogger('warn');
  await runMigrations(databaseUrl, log);
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const hash = await hashPassword(BENCH_PASSWORD);
    await sql`
      insert into users ${sql(BENCH_USERS.map((u) => ({ ...u, password_hash: hash })))}
      on conflict do nothing`;
    const users = await sql<{ id: string }[]>`
      select id from users where email = any(${BENCH_USERS.map((u) => u.email)}) order by email`;
    const ids = users.map((u) => u.id);
    const [{ n: before } = { n: 0 }] = await sql<{ n: number }[]>`select count(*)::int as n from tasks`;

    const started = performance.now();
    const tick = progress(total);
    tick(0);
    for (let from = 1; from <= total; from += batch) {
      const to = Math.min(total, from + batch - 1);
      // Deterministic spread from g (status, priority, category, people) plus a random age:
      // every filter has plenty of rows, and trends cover the last year.
      await sql`
        insert into tasks (title, status, priority, category, assignee_id, created_by, due_date,
                           created_at, updated_at, completed_at)
        select 'Bench task ' || g, s.status, s.priority, s.category,
               case when g % 7 = 0 then null else (${ids}::uuid[])[1 + (g * 7) % ${ids.length}] end,
               (${ids}::uuid[])[1 + g % ${ids.length}],
               case when g % 2 = 0 then s.created_at + interval '14 days' end,
               s.created_at, s.created_at,
               case when s.status = 'completed'
                    then least(now(), s.created_at + (g % 120) * interval '1 hour') end
          from generate_series(${from}::int, ${to}::int) as g
          cross join lateral (
            select (${TASK_STATUSES as unknown as string[]}::text[])[1 + g % 5] as status,
                   (${TASK_PRIORITIES as unknown as string[]}::text[])[1 + (g / 5) % 4] as priority,
                   (${CATEGORIES}::text[])[1 + (g * 31) % 10] as category,
                   now() - random() * interval '365 days' as created_at
          ) as s`;
      tick(to);
    }
    const loadS = (performance.now() - started) / 1000;
    await sql`analyze tasks`;
    const [{ n: after } = { n: 0 }] = await sql<{ n: number }[]>`select count(*)::int as n from tasks`;
    const totalS = (performance.now() - started) / 1000;
    console.error(
      `loaded ${fmt(after - before)} tasks in ${duration(loadS)} (${fmt((after - before) / loadS)} rows/s), ` +
        `analyze included ${duration(totalS)}; the table now holds ${fmt(after)}`,
    );
    return { inserted: after - before, seconds: totalS };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

if (import.meta.main) {
  const url = process.env.DATABASE_URL;
  if (!url) {
    console.error(
      'DATABASE_URL is not set. Create a database first, e.g.\n' +
        '  createdb -h 127.0.0.1 -U postgres hive_bench\n' +
        '  DATABASE_URL=postgres://postgres@127.0.0.1:5432/hive_bench npm run seed:bench',
    );
    process.exit(2);
  }
  await seedBench(
    url,
    numberArg('tasks', 1_000_000, { integer: true }),
    numberArg('batch', 50_000, { integer: true }),
  );
}
