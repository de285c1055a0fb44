/**
 * What the presence benchmarks share: HIVE (and baselines) as child processes, a scratch
 * database with N users and their tokens, and clean-up of the database and the Redis prefix.
 */
import { createHmac } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type { Subprocess } from 'bun';
import Redis from 'ioredis';
import type postgres from 'postgres';
import { createScratchDatabase } from '../src/toolkit';
import { round } from './lib';

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const JWT_SECRET = 'bench-secret-bench-secret-bench-secret-0123';
const ROOT = new URL('../', import.meta.url).pathname;

export const wallNow = () => performance.timeOrigin + performance.now();
export const log = (...a: unknown[]) => console.error('[bench:presence]', ...a);

/** An access token as HIVE signs it (HS256, typ access, ver, exp), without a login per user. */
export function signToken(userId: string): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({
    sub: userId,
    // users.token_version of a fresh account (migration 0011): a token for another version is refused.
    ver: 0,
    typ: 'access',
    exp: Math.floor(Date.now() / 1000) + 3600,
  })}`;
  return `${head}.${createHmac('sha256', JWT_SECRET).update(head).digest('base64url')}`;
}

export async function until(
  probe: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  everyMs = 5,
) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(everyMs);
  }
}

export interface Child {
  proc: Subprocess;
  port: number;
  output(): string;
}

/** Start a process that prints a JSON "listening" line with its port or url. */
export async function spawn(cmd: string[], env: Record<string, string>): Promise<Child> {
  const proc = Bun.spawn(cmd, { cwd: ROOT, env: { ...process.env, ...env }, stdout: 'pipe', stderr: 'pipe' });
  let out = '';
  const pump = async (s: ReadableStream<Uint8Array>) => {
    const d = new TextDecoder();
    for await (const c of s as unknown as AsyncIterable<Uint8Array>) out += d.decode(c, { stream: true });
  };
  void pump(proc.stdout);
  void pump(proc.stderr);
  let port = 0;
  await until(
    () => {
      if (proc.exitCode !== null) throw new Error(`exited: ${out}`);
      const line = out.split('\n').find((l) => l.includes('"msg":"listening"'));
      if (!line) return false;
      const parsed = JSON.parse(line);
      port = parsed.port ?? Number(new URL(parsed.url).port);
      return true;
    },
    30_000,
    `${cmd.join(' ')} to listen`,
    20,
  );
  return { proc, port, output: () => out };
}

/** The process's resident memory now (MB), or with `peak` its high-water mark so far (VmHWM). */
export function rssMb(proc: Subprocess, peak = false): number {
  const status = readFileSync(`/proc/${proc.pid}/status`, 'utf8');
  const field = peak ? /VmHWM:\s+(\d+)/ : /VmRSS:\s+(\d+)/;
  return round(Number(field.exec(status)?.[1] ?? 0) / 1024, 1);
}

/** CPU seconds (user + system) a process has used so far, from /proc; 0 once it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    // Fields after the command name (which may hold spaces): utime and stime are 14 and 15.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks, 100 Hz on Linux
  } catch {
    return 0;
  }
}

/**
 * Machine-wide TCP counters (/proc/net/netstat), read around a storm with nothing else
 * connecting: `ListenOverflows`, connections a listening socket dropped with its accept queue
 * full, and `TCPSynRetrans`, SYNs a client sent again for want of an answer (each one a
 * client that waited at least 1 s more).
 */
export function tcpCounters(): { listenOverflows: number; synRetrans: number } {
  const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
  for (let i = 0; i + 1 < lines.length; i += 2) {
    if (!lines[i]!.startsWith('TcpExt:')) continue;
    const names = lines[i]!.split(/\s+/);
    const values = lines[i + 1]!.split(/\s+/);
    const get = (name: string) => (names.indexOf(name) > 0 ? Number(values[names.indexOf(name)]) : 0);
    return { listenOverflows: get('ListenOverflows'), synRetrans: get('TCPSynRetrans') };
  }
  return { listenOverflows: 0, synRetrans: 0 };
}

/** Pids of every process whose command name is `comm` (postgres backends, redis-server). */
export function pidsOf(comm: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === comm) pids.push(Number(entry));
    } catch {}
  }
  return pids;
}

/**
 * CPU seconds used by each group of processes between `start()` and `stop()`: where a storm's
 * CPU went (HIVE, PostgreSQL, Redis, the clients), on a machine where they share 2 cores.
 * Processes that start in between (new postgres backends) count from zero.
 */
export function cpuMeter(groups: Record<string, () => number[]>) {
  const before = new Map<number, number>();
  const sample = () => {
    const now = new Map<number, number>();
    for (const pids of Object.values(groups)) for (const pid of pids()) now.set(pid, cpuSeconds(pid));
    return now;
  };
  return {
    start() {
      before.clear();
      for (const [pid, s] of sample()) before.set(pid, s);
    },
    stop(): Record<string, number> {
      const out: Record<string, number> = {};
      for (const [name, pids] of Object.entries(groups)) {
        let total = 0;
        for (const pid of pids()) total += cpuSeconds(pid) - (before.get(pid) ?? 0);
        out[name] = round(total, 2);
      }
      return out;
    },
  };
}

/**
 * A scratch database (the shared helper in src/toolkit.ts) and Redis prefix, and the
 * environment of a HIVE process on them.
 */
export async function createScratch(extraEnv: Record<string, string> = {}) {
  // Above info, HIVE never prints the "listening" line and the bench would wait 30 s for it.
  if (/^(warn|error)$/.test(process.env.BENCH_LOG_LEVEL ?? ''))
    throw new Error(
      'BENCH_LOG_LEVEL must be info or debug: the bench reads the port from the "listening" line',
    );
  const scratch = await createScratchDatabase(ADMIN_URL, 'presencebench');
  const dbUrl = scratch.url;
  const prefix = `hive-bench:${Date.now().toString(36)}:`;
  const serverEnv: Record<string, string> = {
    DATABASE_URL: dbUrl,
    REDIS_URL,
    REDIS_PREFIX: prefix,
    PORT: '0',
    HOST: '127.0.0.1',
    // info, as in production (and the "listening" line the spawn helper reads is an info line).
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
    HIVE_SEED_DEMO: 'false',
    JWT_SECRET,
    PRESENCE_GRACE_MS: '1000',
    PRESENCE_TTL_MS: '15000',
    ...extraEnv,
  };
  return {
    dbUrl,
    serverEnv,
    /** Insert `count` users; returns their ids, ordered by name. */
    async createUsers(sql: postgres.Sql, count: number): Promise<string[]> {
      const rows = await sql<{ id: string }[]>`
        insert into users (email, password_hash, full_name)
        select 'bench' || i || '@example.com', 'not-a-hash', 'Bench User ' || lpad(i::text, 6, '0')
          from generate_series(1, ${count}) as i
        returning id`;
      return rows.map((r) => r.id);
    },
    async drop(): Promise<void> {
      await scratch.drop().catch(() => {});
      const redis = new Redis(REDIS_URL);
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        if (keys.length > 0) await redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
      redis.disconnect();
    },
  };
}

/** The command that runs HIVE, optionally under Bun's CPU profiler (written on a graceful exit). */
export function hiveCommand(cpuProfDir?: string): string[] {
  const prof = cpuProfDir ? ['--cpu-prof', '--cpu-prof-md', `--cpu-prof-dir=${cpuProfDir}`] : [];
  // BENCH_BUN_FLAGS: extra flags for the HIVE processes (e.g. `--smol`), to compare runtimes' settings.
  const extra = process.env.BENCH_BUN_FLAGS?.split(/\s+/).filter(Boolean) ?? [];
  // BENCH_HIVE_ENV: `NAME=value …` for the HIVE processes only (not the clients or the bare
  // baseline), e.g. an allocator setting; `env` execs, so the pid measured is still HIVE's.
  const env = process.env.BENCH_HIVE_ENV?.split(/\s+/).filter(Boolean) ?? [];
  return [...(env.length > 0 ? ['env', ...env] : []), process.execPath, ...extra, ...prof, 'src/index.ts'];
}
