/**
 * Write cost of the analytics triggers, with pgbench against real PostgreSQL, before and
 * after issue 12 in one run: two databases of --rows tasks each (default 1M), one migrated
 * up to 0012 (`before`: the triggers of migrations 0004–0007), one fully (`after`: the
 * team-insights triggers of 0013–0015), each measured with its analytics triggers disabled
 * (`none`, the bare table) and enabled. The four configurations are interleaved, --rounds
 * times, so the machine's noise hits them alike; each ratio divides a run by the bare run of
 * the same database in the same round.
 * Workloads: one-row INSERT and UPDATE (8 clients), 32 writers inserting on one hot key, a
 * one-row INSERT of an assigned task with a due date (what the new aggregates add work for),
 * and a bulk INSERT of 100k rows (rolled back). pgbench sessions call themselves "hive bench"
 * (PGAPPNAME), like the server's own sessions, which announce writes on the bus instead of NOTIFY.
 *
 * Also the backend CPU per write, which holds on a busy machine where tx/s does not.
 *
 *   bun bench/analytics-writes.ts [--rows 1000000] [--seconds 5] [--rounds 2] [--cpu-writes 3000] [--write]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { benchUsers, scratchDatabase, seedTasks } from './analytics-lib';
import { numberArg, round, runHeader, summarise, table, writeResultsSection } from './lib';

const args = process.argv.slice(2);
const ROWS = numberArg('rows', 1_000_000);
const SECONDS = numberArg('seconds', 5);
const ROUNDS = numberArg('rounds', 2, { integer: true });
const CPU_WRITES = numberArg('cpu-writes', 3000, { integer: true });
const WRITE = args.includes('--write');
/** Only the backend-CPU measurement (quick; no pgbench runs). */
const CPU_ONLY = args.includes('--cpu-only');

const STATUS = `(array['todo','in_progress','review','completed','cancelled'])`;
const PRIORITY = `(array['low','medium','high','urgent'])`;
const SCRIPTS = {
  insert: `\\set s random(1, 5)\n\\set p random(1, 4)\n\\set c random(0, 7)\ninsert into tasks (title, status, priority, category) values ('bench', ${STATUS}[:s], ${PRIORITY}[:p], 'cat' || :c);\n`,
  update: `\\set k random(1, 100000)\n\\set s random(1, 5)\n\\set p random(1, 4)\nupdate tasks set status = ${STATUS}[:s], priority = ${PRIORITY}[:p] where id = (select id from bench_ids where i = :k);\n`,
  hot: `insert into tasks (title, status, priority, category) values ('hot', 'todo', 'medium', 'hot');\n`,
  assigned: `\\set s random(1, 3)\n\\set p random(1, 4)\n\\set c random(0, 7)\n\\set u random(1, 10)\n\\set h random(-720, 720)\ninsert into tasks (title, status, priority, category, assignee_id, due_date) values ('bench', ${STATUS}[:s], ${PRIORITY}[:p], 'cat' || :c, (select id from bench_users where i = :u), now() + :h * interval '1 hour');\n`,
};
type Script = keyof typeof SCRIPTS;
const ANALYTICS_TRIGGERS = ['_500_tasks_count_insert', '_500_tasks_count_update', '_500_tasks_count_delete'];
const dir = mkdtempSync(join(tmpdir(), 'hive-bench-'));

interface Target {
  label: 'before' | 'after';
  db: Awaited<ReturnType<typeof scratchDatabase>>;
  sql: postgres.Sql;
}

async function pgbench(t: Target, script: Script, clients: number) {
  const file = join(dir, `${script}.sql`);
  writeFileSync(file, SCRIPTS[script]);
  for (const f of readdirSync(dir)) if (f.startsWith('log')) rmSync(join(dir, f));
  const u = new URL(t.db.url);
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
      t.db.name,
    ],
    { cwd: dir, env: { ...process.env, PGAPPNAME: 'hive bench' }, stdout: 'pipe', stderr: 'pipe' },
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
  return { tps: Math.round(tps), p50: s.p50, p99: s.p99 };
}

/** Clock ticks (utime + stime) a local PostgreSQL backend has used so far, from /proc. */
function backendTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/**
 * CPU the backend spends per one-row write, in µs: N autocommitted statements from one
 * session, timed by the backend's own CPU counters, so waiting for the CPU (other helpers on
 * this shared machine) or for the WAL flush does not count. Robust where tx/s is noise.
 */
async function cpuPerWrite(t: Target, script: Script, n: number): Promise<number> {
  const sql = postgres(t.db.url, {
    max: 1,
    onnotice: () => {},
    connection: { application_name: 'hive bench' },
  });
  try {
    const [row] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
    const pid = row!.pid;
    const rnd = (k: number) => 1 + Math.floor(Math.random() * k);
    const one = () => {
      const status = ['todo', 'in_progress', 'review', 'completed', 'cancelled'][rnd(5) - 1]!;
      const priority = ['low', 'medium', 'high', 'urgent'][rnd(4) - 1]!;
      if (script === 'update')
        return sql`update tasks set status = ${status}, priority = ${priority}
                    where id = (select id from bench_ids where i = ${rnd(100_000)})`;
      if (script === 'assigned')
        return sql`insert into tasks (title, status, priority, category, assignee_id, due_date)
                   values ('bench', ${['todo', 'in_progress', 'review'][rnd(3) - 1]!}, ${priority},
                           ${`cat${rnd(8) - 1}`}, (select id from bench_users where i = ${rnd(10)}),
                           now() + ${rnd(1440) - 720} * interval '1 hour')`;
      if (script === 'hot')
        return sql`insert into tasks (title, status, priority, category) values ('hot', 'todo', 'medium', 'hot')`;
      return sql`insert into tasks (title, status, priority, category) values ('bench', ${status}, ${priority}, ${`cat${rnd(8) - 1}`})`;
    };
    for (let i = 0; i < 200; i++) await one(); // plans cached, caches warm
    const ticks = backendTicks(pid);
    for (let i = 0; i < n; i++) await one();
    return Math.round(((backendTicks(pid) - ticks) * 10_000) / n); // 100 ticks/s → µs per write
  } finally {
    await sql.end();
  }
}

async function setTriggers(t: Target, on: boolean) {
  for (const name of ANALYTICS_TRIGGERS)
    await t.sql`alter table tasks ${t.sql.unsafe(on ? 'enable' : 'disable')} trigger ${t.sql(name)}`;
}

async function bulk(t: Target): Promise<number> {
  let seconds = 0;
  await t.sql
    .begin(async (tx) => {
      const started = performance.now();
      await tx`
        insert into tasks (title, status, priority, category)
        select 'bulk', ${tx.unsafe(STATUS)}[1 + i % 5], ${tx.unsafe(PRIORITY)}[1 + i % 4], 'cat' || (i % 8)
          from generate_series(1, 100000) i`;
      seconds = (performance.now() - started) / 1000;
      throw new Error('rollback');
    })
    .catch((e) => {
      if ((e as Error).message !== 'rollback') throw e;
    });
  return seconds;
}

async function prepare(label: Target['label']): Promise<Target> {
  const db = await scratchDatabase(`writes_${label}`, label === 'before' ? '0013' : undefined);
  const sql = postgres(db.url, {
    max: 1,
    onnotice: () => {},
    connection: { application_name: 'hive bench' },
  });
  const users = await benchUsers(sql, 10);
  const seedS = await seedTasks(sql, ROWS, users);
  console.error(`${label}: seeded ${ROWS} tasks in ${round(seedS, 1)} s`);
  await sql`create table bench_ids as select row_number() over () as i, id from tasks limit 100000`;
  await sql`alter table bench_ids add primary key (i)`;
  await sql`create table bench_users as select row_number() over (order by id) as i, id from users`;
  await sql`alter table bench_users add primary key (i)`;
  await sql`vacuum analyze`;
  return { label, db, sql };
}

const targets: Target[] = [];
try {
  for (const label of ['before', 'after'] as const) targets.push(await prepare(label));
  const WORKLOADS: [Script, number][] = [
    ['insert', 8],
    ['update', 8],
    ['hot', 32],
    ['assigned', 8],
  ];
  const rows: (string | number)[][] = [];
  const ratios: Record<string, number[]> = {};
  const loads: number[] = [];
  for (let round_ = 1; round_ <= (CPU_ONLY ? 0 : ROUNDS); round_++) {
    for (const [script, clients] of WORKLOADS) {
      for (const t of targets) {
        const tps: Record<string, number> = {};
        for (const on of [false, true]) {
          await setTriggers(t, on);
          loads.push(loadavg()[0]!);
          const r = await pgbench(t, script, clients);
          console.error(round_, script, t.label, on ? 'triggers' : 'none', r);
          tps[String(on)] = r.tps;
          rows.push([
            round_,
            script,
            clients,
            t.label,
            on ? 'on' : 'off',
            r.tps,
            r.p50,
            r.p99,
            round(loadavg()[0]!, 2),
          ]);
        }
        const key = `${script}/${t.label}`;
        ratios[key] = [...(ratios[key] ?? []), tps.false! / tps.true!];
      }
    }
  }
  // Backend CPU per write, interleaved the same way.
  const cpu: Record<string, number[]> = {};
  for (let round_ = 1; round_ <= ROUNDS; round_++) {
    for (const script of ['insert', 'update', 'hot', 'assigned'] as const) {
      for (const t of targets) {
        for (const on of [false, true]) {
          await setTriggers(t, on);
          const us = await cpuPerWrite(t, script, CPU_WRITES);
          console.error(round_, 'cpu', script, t.label, on ? 'triggers' : 'none', us);
          const key = `${script}/${t.label}/${on}`;
          cpu[key] = [...(cpu[key] ?? []), us];
        }
      }
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const cpuRows = (['insert', 'update', 'hot', 'assigned'] as const).map((script) => {
    const cell = (label: string) => {
      const off = median(cpu[`${script}/${label}/false`]!);
      const on = median(cpu[`${script}/${label}/true`]!);
      return [off, on, `${round(on / off, 2)}×`];
    };
    return [script, ...cell('before'), ...cell('after')];
  });
  const bulkRows: (string | number)[][] = [];
  for (const t of targets) {
    for (const on of [false, true]) {
      await setTriggers(t, on);
      bulkRows.push([t.label, on ? 'on' : 'off', round(await bulk(t), 2)]);
    }
  }
  const checks: string[] = [];
  for (const t of targets) {
    await setTriggers(t, true);
    // The runs without triggers wrote behind the aggregates' back on purpose: that is what the rebuild is for.
    await t.sql`select analytics_rebuild()`;
    const [c] = await t.sql`select count(*)::int as diffs from analytics_check()`;
    checks.push(`${t.label}: ${c!.diffs} differences after analytics_rebuild()`);
  }
  const ratioRows = WORKLOADS.map(([script, clients]) => {
    const b = ratios[`${script}/before`] ?? [];
    const a = ratios[`${script}/after`] ?? [];
    const fmt = (xs: number[]) => xs.map((x) => `${round(x, 2)}×`).join(', ');
    return [script, clients, fmt(b), fmt(a)];
  });
  const report = [
    runHeader(
      `bun bench/analytics-writes.ts --rows ${ROWS} --seconds ${SECONDS} --rounds ${ROUNDS} --cpu-writes ${CPU_WRITES}${CPU_ONLY ? ' --cpu-only' : ''}`,
    ),
    '',
    `Two databases of ${ROWS.toLocaleString('en')} tasks (10 assignees, half with due dates): \`before\` (migrations up to 0012: the triggers of 0004–0007) and \`after\` (0013–0015: team insights). pgbench, ${SECONDS} s a run, interleaved; load average (1 min) ${round(Math.min(...loads), 2)}–${round(Math.max(...loads), 2)} during the runs.`,
    '',
    'Cost of the triggers = bare tx/s ÷ tx/s with the triggers, each pair from the same database in the same round (lower is better; 1.0× = free):',
    '',
    table(
      ['workload', 'clients', 'before (0004–0007), per round', 'after (0013–0015), per round'],
      ratioRows,
    ),
    '',
    `Backend CPU per one-row write (µs, median of ${ROUNDS} interleaved rounds of ${CPU_WRITES.toLocaleString('en')} autocommitted writes from one session, read from /proc: waiting for a core or for the WAL flush does not count, so this holds on a busy machine where tx/s does not):`,
    '',
    table(
      [
        'workload',
        'before: bare µs',
        'before: triggers µs',
        'before: cost',
        'after: bare µs',
        'after: triggers µs',
        'after: cost',
      ],
      cpuRows,
    ),
    '',
    table(
      ['round', 'workload', 'clients', 'database', 'triggers', 'tx/s', 'p50 ms', 'p99 ms', 'load 1 min'],
      rows,
    ),
    '',
    table(['bulk INSERT of 100k rows (one statement, rolled back)', 'triggers', 'seconds'], bulkRows),
    '',
    checks.join('; '),
  ].join('\n');
  console.log(report);
  if (WRITE) writeResultsSection('analytics-writes-insights', report);
} finally {
  for (const t of targets) {
    await t.sql.end();
    await t.db.drop();
  }
  rmSync(dir, { recursive: true, force: true });
}
