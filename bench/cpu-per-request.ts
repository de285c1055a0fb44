/**
 * CPU per request of a HIVE server process, for two checkouts of this repository run in
 * turns on the same machine (issue 10: did the session check, metrics and the security
 * plugins make the task list dearer?). Requests/s on this shared 2-core machine swing by
 * ±30% between runs; the CPU the server process itself spends per answer (utime + stime from
 * /proc, 100 Hz) barely depends on what else runs, so it compares two builds fairly.
 *
 *   bun bench/cpu-per-request.ts <baseline checkout> <candidate checkout> [--requests 4000] [--rounds 3]
 *
 * Each round starts each checkout's server (`bun src/index.ts`) on a fresh database on
 * BENCH_DATABASE_URL's server, signs in one user, creates 100 tasks, warms up, then sends
 * `--requests` GET /api/v1/tasks?limit=50 over 8 connections. Linux only (/proc).
 */
import { readFileSync } from 'node:fs';
import postgres from 'postgres';
import { numberArg } from './lib';

const [baseline, candidate] = process.argv.slice(2).filter((a) => !a.startsWith('--') && !/^\d+$/.test(a));
if (!baseline || !candidate)
  throw new Error('usage: bun bench/cpu-per-request.ts <baseline dir> <candidate dir>');
const requests = numberArg('requests', 4000, { integer: true });
const rounds = numberArg('rounds', 3, { integer: true });
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });

/** CPU ticks (1/100 s) the process has used, user + system. */
function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

async function signedInUser(base: string): Promise<Record<string, string>> {
  const email = `bench-${Date.now()}@example.com`;
  const body = (value: unknown) => ({
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(value),
  });
  await fetch(`${base}/api/v1/auth/register`, body({ email, password: 'password123', full_name: 'Bench' }));
  const login = (await (
    await fetch(`${base}/api/v1/auth/login`, body({ email, password: 'password123' }))
  ).json()) as {
    access_token: string;
  };
  return { authorization: `Bearer ${login.access_token}` };
}

async function listTasks(base: string, headers: Record<string, string>, n: number): Promise<void> {
  const perConnection = Math.ceil(n / 8);
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let i = 0; i < perConnection; i++)
        await (await fetch(`${base}/api/v1/tasks?limit=50`, { headers })).arrayBuffer();
    }),
  );
}

async function measure(root: string): Promise<{ cpuMsPerRequest: number; requestsPerS: number }> {
  const name = `bench_cpu_${Math.random().toString(36).slice(2, 8)}`;
  await admin.unsafe(`create database ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const env = {
    DATABASE_URL: url.toString(),
    PORT: String(port),
    LOG_LEVEL: 'error',
    HIVE_SEED_DEMO: 'false',
  };
  const proc = Bun.spawn([process.execPath, 'src/index.ts'], {
    cwd: root,
    env: { ...process.env, ...env },
    stdout: 'ignore',
    stderr: 'inherit',
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; i < 300; i++) {
      if (
        await fetch(`${base}/health`).then(
          (r) => r.ok,
          () => false,
        )
      )
        break;
      await Bun.sleep(100);
    }
    const headers = await signedInUser(base);
    for (let i = 0; i < 100; i++) {
      await fetch(`${base}/api/v1/tasks`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ title: `task ${i}`, description: 'x'.repeat(100) }),
      });
    }
    await listTasks(base, headers, 800);
    const ticks = cpuTicks(proc.pid);
    const started = performance.now();
    await listTasks(base, headers, requests);
    const wallMs = performance.now() - started;
    return {
      cpuMsPerRequest: ((cpuTicks(proc.pid) - ticks) * 10) / requests,
      requestsPerS: Math.round((requests / wallMs) * 1000),
    };
  } finally {
    proc.kill();
    await proc.exited;
    await admin.unsafe(`drop database if exists ${name} with (force)`);
  }
}

const results: Record<string, number[]> = { baseline: [], candidate: [] };
console.log(`bun bench/cpu-per-request.ts ${baseline} ${candidate} — ${new Date().toISOString()}`);
for (let round = 0; round < rounds; round++) {
  for (const [label, root] of [
    ['baseline', baseline],
    ['candidate', candidate],
  ] as const) {
    const r = await measure(root);
    results[label]!.push(r.cpuMsPerRequest);
    console.log(
      `round ${round + 1} ${label}: ${r.cpuMsPerRequest.toFixed(3)} ms CPU/request, ${r.requestsPerS} req/s`,
    );
  }
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const ratio = mean(results.candidate!) / mean(results.baseline!);
console.log(
  `mean CPU/request: baseline ${mean(results.baseline!).toFixed(3)} ms, candidate ${mean(results.candidate!).toFixed(3)} ms, candidate/baseline ${ratio.toFixed(2)}`,
);
await admin.end();
