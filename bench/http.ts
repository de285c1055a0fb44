/**
 * HTTP benchmark (issue 2): HIVE as its own process on real PostgreSQL, 100 concurrent
 * connections (autocannon), requests/s and p50/p99 for
 *   login        POST /api/v1/auth/login (argon2id verify: slow on purpose),
 *   task create  POST /api/v1/tasks,
 *   task list    GET /api/v1/tasks?limit=50 (with X-Total-Count), and filtered by status,
 * each measured right after a bare `Bun.serve` JSON endpoint (also its own process) in the
 * same run, so the ratio holds on a noisy machine even when absolute figures do not.
 *
 *   bun bench/http.ts [--seconds 10] [--connections 100] [--tasks 100000] [--database URL]
 *                     [--cases login,task] [--write]
 *
 * Without --database a scratch database is created on BENCH_DATABASE_URL (default
 * postgres://postgres@127.0.0.1:5432/postgres), seeded with --tasks tasks and dropped at the
 * end. With --database (e.g. the 1M-task database of `npm run seed:bench`) that database is
 * used as it is, plus the bench users. --write puts the table into bench/RESULTS.md.
 */
import { readFile, writeFile } from 'node:fs/promises';
import postgres from 'postgres';
import { createScratchDatabase, hashPassword } from '../src/toolkit';
import { type LoadResult, load, numberArg, runHeader, stringArg, table } from './lib';
import { BENCH_PASSWORD, BENCH_USERS, seedBench } from './seed';

const argv = process.argv.slice(2);
const seconds = numberArg('seconds', 10);
const connections = numberArg('connections', 100, { integer: true });
const seedTasks = numberArg('tasks', 100_000, { integer: true });
const write = argv.includes('--write');
/** Child processes, killed if the benchmark itself is interrupted (Ctrl-C, timeout). */
const children = new Set<{ kill(signal?: number | NodeJS.Signals): void }>();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    for (const c of children) c.kill('SIGKILL');
    process.exit(130);
  });
}

/** Successful answers per second: under overload (login) most answers are fast 503s. */
// autocannon counts timed-out requests as errors, outside requests.total.
const ok = (x: LoadResult) => Math.round(Math.max(0, x.requests - x.non2xx) / seconds);
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ROOT = new URL('../', import.meta.url).pathname;

/** A child process that prints a JSON line with its URL; killed at the end. */
async function spawnAndWaitForUrl(
  cmd: string[],
  env: Record<string, string>,
  pick: (line: string) => string | undefined,
) {
  const proc = Bun.spawn(cmd, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdout: 'pipe',
    stderr: 'inherit',
  });
  children.add(proc);
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`${cmd.join(' ')} exited early:\n${buffer}`);
    buffer += decoder.decode(value, { stream: true });
    for (const line of buffer.split('\n')) {
      const url = pick(line);
      if (url) {
        // Keep draining stdout so the child never blocks on a full pipe.
        void (async () => {
          while (!(await reader.read()).done) {}
        })();
        return { proc, url };
      }
    }
  }
  proc.kill('SIGKILL');
  throw new Error(`${cmd.join(' ')} did not start in time:\n${buffer}`);
}

/** A port free right now (the OS picks it), so the server can log at warn and still be found. */
function freePort(): number {
  const probe = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } });
  const { port } = probe;
  probe.stop(true);
  return port;
}

async function startApi(databaseUrl: string) {
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = Bun.spawn([process.execPath, 'src/index.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: String(port),
      DATABASE_URL: databaseUrl,
      REDIS_URL: process.env.BENCH_REDIS_URL ?? '',
      // Request logs would go to a pipe; at warn the figures measure the API, not stdout.
      LOG_LEVEL: 'warn',
      HIVE_SEED_DEMO: 'false',
      LOGIN_RATE_LIMIT_PER_MINUTE: '1000000',
    },
    stdout: 'ignore',
    stderr: 'inherit',
  });
  children.add(proc);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`the server exited with ${proc.exitCode}`);
    const ok = await fetch(`${url}/ready`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return { proc, url };
    await Bun.sleep(100); // polling interval while the server starts
  }
  proc.kill('SIGKILL');
  throw new Error('the server did not become ready within 60 s');
}

const BARE_SERVER = `
const text = JSON.stringify({ status: 'ok', total_tasks: 100 });
const s = Bun.serve({ port: 0, hostname: '127.0.0.1',
  fetch: () => new Response(text, { headers: { 'content-type': 'application/json' } }) });
console.log(JSON.stringify({ url: 'http://127.0.0.1:' + s.port }));`;

async function main() {
  let databaseUrl = stringArg('database');
  let drop: (() => Promise<void>) | undefined;
  if (!databaseUrl) {
    const scratch = await createScratchDatabase(ADMIN_URL, 'hive_bench_http');
    databaseUrl = scratch.url;
    drop = scratch.drop;
    console.error(`scratch database ${scratch.name}: seeding ${seedTasks.toLocaleString('en-US')} tasks`);
    await seedBench(databaseUrl, seedTasks, 50_000);
  }

  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  const hash = await hashPassword(BENCH_PASSWORD);
  // Re-hash on every run, so logins measure the current argon2id parameters, not whatever
  // an earlier run stored.
  await sql`
    insert into users ${sql(BENCH_USERS.map((u) => ({ ...u, password_hash: hash })))}
    on conflict (lower(email)) do update set password_hash = excluded.password_hash`;
  const [{ n: taskRows } = { n: 0 }] = await sql<{ n: number }[]>`select count(*)::int as n from tasks`;
  await sql.end();

  const api = await startApi(databaseUrl).catch(async (err) => {
    await drop?.();
    throw err;
  });
  const bare = await spawnAndWaitForUrl([process.execPath, '--eval', BARE_SERVER], {}, (line) =>
    line.startsWith('{"url"') ? JSON.parse(line).url : undefined,
  );

  const results: { name: string; api: LoadResult; bare: LoadResult }[] = [];
  try {
    const login = await fetch(`${api.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: BENCH_USERS[0]!.email, password: BENCH_PASSWORD }),
    });
    if (login.status !== 200) throw new Error(`bench login failed: ${login.status} ${await login.text()}`);
    const token = ((await login.json()) as { access_token: string }).access_token;
    const auth = { authorization: `Bearer ${token}` };

    const cases: { name: string; run: () => Promise<LoadResult> }[] = [
      {
        name: 'login (argon2id)',
        run: () =>
          load({
            label: 'login',
            url: `${api.url}/api/v1/auth/login`,
            method: 'POST',
            connections,
            durationS: seconds,
            headers: { 'content-type': 'application/json' },
            requests: BENCH_USERS.map((u) => ({
              method: 'POST',
              path: '/api/v1/auth/login',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ email: u.email, password: BENCH_PASSWORD }),
            })),
          }),
      },
      {
        name: 'task create',
        run: () =>
          load({
            label: 'create',
            url: `${api.url}/api/v1/tasks`,
            method: 'POST',
            connections,
            durationS: seconds,
            headers: { ...auth, 'content-type': 'application/json' },
            body: JSON.stringify({ title: 'bench create', priority: 'high', category: 'backend' }),
          }),
      },
      {
        name: 'task list (limit 50)',
        run: () =>
          load({
            label: 'list',
            url: `${api.url}/api/v1/tasks?limit=50`,
            connections,
            durationS: seconds,
            headers: auth,
          }),
      },
      {
        name: 'task list (status=review, limit 50)',
        run: () =>
          load({
            label: 'list-filtered',
            url: `${api.url}/api/v1/tasks?status=review&limit=50`,
            connections,
            durationS: seconds,
            headers: auth,
          }),
      },
    ];
    const wanted = stringArg('cases')?.split(',');
    for (const c of cases.filter((x) => !wanted || wanted.some((w) => x.name.startsWith(w)))) {
      const baseline = await load({ label: 'bare', url: bare.url, connections, durationS: seconds });
      const measured = await c.run();
      results.push({ name: c.name, api: measured, bare: baseline });
      console.error(
        `${c.name}: ${measured.rps} req/s, ${ok(measured)} 2xx/s (p50 ${measured.p50} ms, p99 ${measured.p99} ms, non-2xx ${measured.non2xx}, errors ${measured.errors}); bare ${baseline.rps} req/s`,
      );
    }
  } finally {
    api.proc.kill('SIGTERM');
    bare.proc.kill('SIGTERM');
    await Promise.all([api.proc.exited, bare.proc.exited]);
    await drop?.();
  }

  const rows = results.map((r) => [
    r.name,
    r.api.rps.toLocaleString('en-US'),
    ok(r.api).toLocaleString('en-US'),
    r.api.p50,
    r.api.p99,
    r.api.non2xx + r.api.errors,
    r.bare.rps.toLocaleString('en-US'),
    r.bare.p50,
    r.bare.p99,
    `${((r.api.rps / Math.max(r.bare.rps, 1)) * 100).toFixed(1)}%`,
  ]);
  const command = `bun bench/http.ts ${argv.filter((a) => a !== '--write').join(' ')}`.trim();
  const section = [
    '### HTTP API (issue 2)',
    '',
    runHeader(command),
    '',
    `HIVE on real PostgreSQL (${taskRows.toLocaleString('en-US')} tasks in the table), its own process, ` +
      `LOG_LEVEL=warn; ${connections} connections, ${seconds} s per figure; the bare Bun.serve JSON ` +
      'endpoint (also its own process) is measured right before each case. Latencies in ms.',
    '',
    table(
      [
        'case',
        'HIVE req/s',
        'of which 2xx/s',
        'p50',
        'p99',
        'non-2xx/errors',
        'bare req/s',
        'bare p50',
        'bare p99',
        'HIVE / bare',
      ],
      rows,
    ),
  ].join('\n');
  console.log(section);
  if (write) {
    const file = new URL('./RESULTS.md', import.meta.url);
    const text = await readFile(file, 'utf8');
    const start = '<!-- section:http -->';
    const end = '<!-- /section:http -->';
    const a = text.indexOf(start);
    const b = text.indexOf(end);
    if (a < 0 || b < a) throw new Error('bench/RESULTS.md lacks the section:http markers');
    await writeFile(file, `${text.slice(0, a + start.length)}\n${section}\n${text.slice(b)}`);
    console.error('wrote bench/RESULTS.md (section http)');
  }
}

await main();
