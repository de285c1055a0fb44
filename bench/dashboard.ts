/**
 * GET /api/v1/dashboard/summary under load (issue 4): 100 concurrent connections at 10k and
 * at 1M tasks, next to a bare Bun JSON server answering the same body and a naive server
 * running GROUP BY over tasks per request, all measured in the same run, each its own
 * process (autocannon runs in this one). Also the cost of a cache miss (one summary
 * computed from the aggregates) next to one GROUP BY over tasks.
 * HIVE runs against real PostgreSQL and Redis with LOG_LEVEL=warn (no per-request log line).
 *
 *   bun bench/dashboard.ts [--seconds 5] [--small 10000] [--large 1000000] [--write]
 * Env: BENCH_DATABASE_URL, BENCH_REDIS_URL (defaults: the local servers).
 */
import type { Subprocess } from 'bun';
import postgres from 'postgres';
import { computeSummary } from '../src/toolkit';
import { scratchDatabase, seedTasks } from './analytics-lib';
import {
  type LoadResult,
  load,
  numberArg,
  round,
  runHeader,
  summarise,
  table,
  writeResultsSection,
} from './lib';

const args = process.argv.slice(2);
const SECONDS = numberArg('seconds', 5);
const SMALL = numberArg('small', 10_000);
const LARGE = numberArg('large', 1_000_000);
const WRITE = args.includes('--write');
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const ROOT = new URL('../', import.meta.url).pathname;

function freePort(): number {
  const s = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response() });
  const port = s.port!;
  s.stop(true);
  return port;
}

async function startProcess(cmd: string[], env: Record<string, string>, port: number): Promise<Subprocess> {
  const proc = Bun.spawn(cmd, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdout: 'ignore',
    stderr: 'inherit',
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await fetch(`http://127.0.0.1:${port}/`);
      return proc;
    } catch {
      if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`${cmd.join(' ')} did not start`);
      await Bun.sleep(50);
    }
  }
}

const db = await scratchDatabase('dash');
const sql = postgres(db.url, { max: 1, onnotice: () => {}, connection: { application_name: 'hive bench' } });
const procs: Subprocess[] = [];
try {
  const hivePort = freePort();
  procs.push(
    await startProcess(
      [process.execPath, 'src/index.ts'],
      {
        DATABASE_URL: db.url,
        REDIS_URL,
        REDIS_PREFIX: `hive-bench:${Date.now().toString(36)}:`,
        PORT: String(hivePort),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        HIVE_SEED_DEMO: 'false',
      },
      hivePort,
    ),
  );
  const naivePort = freePort();
  procs.push(
    await startProcess(
      [process.execPath, 'bench/dashboard-servers.ts', 'naive', String(naivePort), db.url],
      {},
      naivePort,
    ),
  );
  const summaryUrl = `http://127.0.0.1:${hivePort}/api/v1/dashboard/summary`;

  const rows: (string | number)[][] = [];
  const missRows: (string | number)[][] = [];
  const bySize: Record<number, { hive: LoadResult; bare: LoadResult; naive: LoadResult }> = {};
  let seeded = 0;
  for (const size of [SMALL, LARGE]) {
    const seedS = await seedTasks(sql, size - seeded);
    seeded = size;
    await sql`vacuum analyze tasks`;
    console.error(`${size} tasks (seeded ${round(seedS, 1)} s)`);
    // Freshness: the running server shows the new total (within its poll, ≤ 250 ms).
    for (;;) {
      const s = (await (await fetch(summaryUrl)).json()) as { total_tasks: number };
      if (s.total_tasks === size) break;
      await Bun.sleep(20);
    }
    // A cache miss: one summary from the aggregates, vs one GROUP BY over tasks; measured
    // before the loads, since the naive server keeps scanning its queue after its run ends.
    const miss: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t0 = performance.now();
      await computeSummary(sql, {});
      miss.push(performance.now() - t0);
    }
    const scan: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await sql`select status, priority, category, count(*) from tasks group by 1, 2, 3`;
      scan.push(performance.now() - t0);
    }
    const m = summarise(miss);
    const g = summarise(scan);
    missRows.push([size.toLocaleString('en'), m.p50, m.p99, g.p50, g.max]);
    const body = await (await fetch(summaryUrl)).text();
    const barePort = freePort();
    const bareProc = await startProcess(
      [process.execPath, 'bench/dashboard-servers.ts', 'bare', String(barePort)],
      { BODY: body },
      barePort,
    );
    try {
      const bare = await load({ label: 'bare', url: `http://127.0.0.1:${barePort}/`, durationS: SECONDS });
      const hive = await load({ label: 'summary', url: summaryUrl, durationS: SECONDS });
      const naive = await load({ label: 'naive', url: `http://127.0.0.1:${naivePort}/`, durationS: SECONDS });
      bySize[size] = { hive, bare, naive };
      for (const r of [bare, hive, naive]) {
        const name = {
          bare: 'bare Bun JSON server, same body',
          summary: 'HIVE GET /dashboard/summary',
          naive: 'GROUP BY over tasks per request',
        }[r.label];
        rows.push([size.toLocaleString('en'), name!, r.rps, r.p50, r.p99, r.errors + r.non2xx]);
      }
    } finally {
      bareProc.kill();
    }
  }

  const s = bySize[SMALL]!;
  const l = bySize[LARGE]!;
  const ratios = [
    `- summary vs bare JSON: ${round(s.hive.rps / s.bare.rps)}× at ${SMALL.toLocaleString('en')}, ${round(l.hive.rps / l.bare.rps)}× at ${LARGE.toLocaleString('en')} (goal ≥ 0.7×)`,
    `- summary p99: ${s.hive.p99} ms at ${SMALL.toLocaleString('en')}, ${l.hive.p99} ms at ${LARGE.toLocaleString('en')} (goal ≤ 5 ms)`,
    `- req/s at ${SMALL.toLocaleString('en')} ÷ req/s at ${LARGE.toLocaleString('en')}: ${round(s.hive.rps / l.hive.rps)} (goal ≤ 1.2, i.e. 1M no more than 1.2× slower)`,
    `- summary vs per-request GROUP BY at ${LARGE.toLocaleString('en')}: ${l.naive.rps > 0 ? `${Math.round(l.hive.rps / l.naive.rps).toLocaleString('en')}×` : `∞ (GROUP BY completed ${l.naive.requests} requests)`} the throughput (goal ≥ 1,000×)`,
  ];
  const report = [
    runHeader(`bun bench/dashboard.ts --seconds ${SECONDS} --small ${SMALL} --large ${LARGE}`),
    '',
    `100 connections, ${SECONDS} s a run, autocannon in the benchmark process; each server its own process.`,
    '',
    table(['tasks', 'server', 'req/s', 'p50 ms', 'p99 ms', 'errors'], rows),
    '',
    ...ratios,
    '',
    table(
      [
        'tasks',
        'cache miss: summary from the aggregates p50 ms',
        'p99 ms',
        'one GROUP BY over tasks p50 ms',
        'max ms',
      ],
      missRows,
    ),
  ].join('\n');
  console.log(report);
  if (WRITE) writeResultsSection('analytics-http', report);
} finally {
  for (const p of procs) p.kill();
  await Promise.all(procs.map((p) => p.exited));
  await sql.end();
  await db.drop();
}
