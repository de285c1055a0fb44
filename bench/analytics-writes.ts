/**
 * Write cost of the analytics triggers (issue 4), with pgbench against real PostgreSQL, on
 * one table of --rows tasks (default 1M) in three configurations of the same database:
 *   none        — the analytics triggers disabled (the bare table);
 *   incremental — the statement-level triggers of migrations 0004/0005 (what HIVE runs);
 *   refresh     — the card taken literally: a materialized view of the counts and a
 *                 statement-level trigger running REFRESH MATERIALIZED VIEW after each write.
 * Measures one-row INSERT and UPDATE (8 clients: tx/s, p50/p99 from pgbench's per-transaction
 * log), 32 writers on one hot key, and a bulk INSERT of 100k rows (rolled back).
 * pgbench sessions call themselves "hive bench" (PGAPPNAME), like the server's own sessions,
 * which announce writes on the bus instead of NOTIFY; one extra run shows the hot key from
 * sessions that NOTIFY (psql-style writers).
 *
 *   bun bench/analytics-writes.ts [--rows 1000000] [--seconds 5] [--write]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { scratchDatabase, seedTasks } from './analytics-lib';
import { numberArg, round, runHeader, summarise, table, writeResultsSection } from './lib';

const args = process.argv.slice(2);
const ROWS = numberArg('rows', 1_000_000);
const SECONDS = numberArg('seconds', 5);
const WRITE = args.includes('--write');

const STATUS = `(array['todo','in_progress','review','completed','cancelled'])`;
const PRIORITY = `(array['low','medium','high','urgent'])`;
const SCRIPTS = {
  insert: `\\set s random(1, 5)\n\\set p random(1, 4)\n\\set c random(0, 7)\ninsert into tasks (title, status, priority, category) values ('bench', ${STATUS}[:s], ${PRIORITY}[:p], 'cat' || :c);\n`,
  update: `\\set k random(1, 100000)\n\\set s random(1, 5)\n\\set p random(1, 4)\nupdate tasks set status = ${STATUS}[:s], priority = ${PRIORITY}[:p] where id = (select id from bench_ids where i = :k);\n`,
  hot: `insert into tasks (title, status, priority, category) values ('hot', 'todo', 'medium', 'hot');\n`,
};

const db = await scratchDatabase('writes');
const sql = postgres(db.url, { max: 1, onnotice: () => {}, connection: { application_name: 'hive bench' } });
const dir = mkdtempSync(join(tmpdir(), 'hive-bench-'));

async function pgbench(script: keyof typeof SCRIPTS, clients: number, appName = 'hive bench') {
  const file = join(dir, `${script}.sql`);
  writeFileSync(file, SCRIPTS[script]);
  for (const f of readdirSync(dir)) if (f.startsWith('log')) rmSync(join(dir, f));
  const u = new URL(db.url);
  const proc = Bun.spawn(
    [
      'pgbench',
      '-n',
      '-h',
      u.hostname,
      '-p',
      u.port || '5432',
      '-U',
      decodeURIComponent(u.username) || 'postgres',
      '-c',
      String(clients),
      '-j',
      String(Math.min(clients, 2)),
      '-T',
      String(SECONDS),
      '-f',
      file,
      '-l',
      `--log-prefix=${join(dir, 'log')}`,
      db.name,
    ],
    { cwd: dir, env: { ...process.env, PGAPPNAME: appName }, stdout: 'pipe', stderr: 'pipe' },
  );
  const out = await new Response(proc.stdout).text();
  const err = await new Response(proc.stderr).text();
  if ((await proc.exited) !== 0) throw new Error(`pgbench failed:\n${out}\n${err}`);
  const tps = Number(/tps = ([\d.]+)/.exec(out)?.[1] ?? Number.NaN);
  const latencies: number[] = [];
  for (const f of readdirSync(dir)) {
    if (!f.startsWith('log')) continue;
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      const us = Number(line.split(' ')[2]);
      if (Number.isFinite(us) && line) latencies.push(us / 1000);
    }
  }
  const s = summarise(latencies);
  return { tps: Math.round(tps), p50: s.p50, p99: s.p99, n: s.n };
}

const ANALYTICS_TRIGGERS = ['_500_tasks_count_insert', '_500_tasks_count_update', '_500_tasks_count_delete'];

async function configure(mode: 'none' | 'incremental' | 'refresh') {
  for (const t of ANALYTICS_TRIGGERS) {
    if (mode === 'incremental') await sql`alter table tasks enable trigger ${sql(t)}`;
    else await sql`alter table tasks disable trigger ${sql(t)}`;
  }
  if (mode === 'refresh') await sql`alter table tasks enable trigger _900_tasks_refresh_mv`;
  else await sql`alter table tasks disable trigger _900_tasks_refresh_mv`;
}

async function bulk(): Promise<number> {
  let seconds = 0;
  await sql
    .begin(async (tx) => {
      const started = performance.now();
      await tx`
        insert into tasks (title, status, priority, category)
        select 'bulk', ${sql.unsafe(STATUS)}[1 + i % 5], ${sql.unsafe(PRIORITY)}[1 + i % 4], 'cat' || (i % 8)
          from generate_series(1, 100000) i`;
      seconds = (performance.now() - started) / 1000;
      throw new Error('rollback');
    })
    .catch((e) => {
      if ((e as Error).message !== 'rollback') throw e;
    });
  return seconds;
}

try {
  console.error(`seeding ${ROWS} tasks…`);
  const seedS = await seedTasks(sql, ROWS);
  console.error(`seeded in ${round(seedS, 1)} s`);
  await sql`create table bench_ids as select row_number() over () as i, id from tasks limit 100000`;
  await sql`alter table bench_ids add primary key (i)`;
  // The card's literal design, for comparison.
  await sql`
    create materialized view task_counts_mv as
    select status, priority, category, count(*) as n from tasks group by 1, 2, 3`;
  await sql`create unique index on task_counts_mv (status, priority, category)`;
  await sql`create function tasks__refresh_mv() returns trigger language plpgsql as $$
    begin refresh materialized view task_counts_mv; return null; end $$`;
  await sql`create trigger _900_tasks_refresh_mv after insert or update or delete on tasks
    for each statement execute function tasks__refresh_mv()`;
  await sql`vacuum analyze tasks`;

  const rows: (string | number)[][] = [];
  const results: Record<string, Record<string, Awaited<ReturnType<typeof pgbench>>>> = {};
  // none and incremental twice, interleaved, to expose the machine's noise.
  for (const mode of ['none', 'incremental', 'none', 'incremental', 'refresh'] as const) {
    await configure(mode);
    for (const script of ['insert', 'update'] as const) {
      const clients = mode === 'refresh' ? 4 : 8;
      const r = await pgbench(script, clients);
      console.error(mode, script, r);
      rows.push([`one-row ${script}`, mode, clients, r.tps, r.p50, r.p99]);
      results[mode] = { ...results[mode], [script]: r };
    }
    if (mode !== 'refresh') {
      const r = await pgbench('hot', 32);
      console.error(mode, 'hot', r);
      rows.push(['one hot key', mode, 32, r.tps, r.p50, r.p99]);
    }
  }
  await configure('incremental');
  const notifying = await pgbench('hot', 32, 'pgbench');
  rows.push([
    'one hot key, NOTIFY-ing sessions (psql-style)',
    'incremental',
    32,
    notifying.tps,
    notifying.p50,
    notifying.p99,
  ]);
  const bulkRows: (string | number)[][] = [];
  for (const mode of ['none', 'incremental', 'refresh'] as const) {
    await configure(mode);
    const s = await bulk();
    console.error(mode, 'bulk', s);
    bulkRows.push([mode, round(s, 2)]);
  }
  await configure('incremental');
  // The "none" runs wrote behind the aggregates' back on purpose: that is what the rebuild is for.
  const [drift] = await sql`select count(*)::int as diffs from analytics_check()`;
  await sql`select analytics_rebuild()`;
  const [check] = await sql`select count(*)::int as diffs from analytics_check()`;

  const report = [
    runHeader(`bun bench/analytics-writes.ts --rows ${ROWS} --seconds ${SECONDS}`),
    '',
    `Table of ${ROWS.toLocaleString('en')} tasks (seeded in one INSERT … SELECT with the triggers on: ${round(seedS, 1)} s). pgbench, ${SECONDS} s a run, latency per transaction in ms.`,
    '',
    table(['workload', 'triggers', 'clients', 'tx/s', 'p50 ms', 'p99 ms'], rows),
    '',
    table(['bulk INSERT of 100k rows (one statement, rolled back)', 'seconds'], bulkRows),
    '',
    `analytics_check() after the runs: ${drift!.diffs} differing keys (the "none" runs bypassed the triggers), ${check!.diffs} after analytics_rebuild().`,
  ].join('\n');
  console.log(report);
  if (WRITE) writeResultsSection('analytics-writes', report);
} finally {
  await sql.end();
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
}
