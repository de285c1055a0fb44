/**
 * Presence benchmarks (issue 3), against real PostgreSQL and Redis, with HIVE running as its
 * own process (so the load generator does not share its event loop):
 *   1. connect storm: N distinct users open a WebSocket at once; time until every row has
 *      is_online = true, p50/p99 from socket open to the committed row, server RSS at N
 *      connections, and the connect rate next to a bare Bun WebSocket server in the same run;
 *   2. GET /users/online: a page of 100 with N online, and with 100 online;
 *   3. propagation: a user's first connection → another client receiving user_status_update,
 *      on the same instance and across two instances.
 *
 *   bun bench/presence.ts [--users 10000] [--samples 200] [--write]
 * Env: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres),
 *      BENCH_REDIS_URL (default redis://127.0.0.1:6379). A scratch database and a unique
 *      Redis prefix are created and removed.
 */
import { createHmac } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import type { Subprocess } from 'bun';
import Redis from 'ioredis';
import postgres from 'postgres';
import { createScratchDatabase } from '../src/toolkit';
import { load, numberArg, round, runHeader, startBareJsonServer, summarise, table } from './lib';

const args = process.argv.slice(2);
const USERS = numberArg('users', 10_000);
const SAMPLES = numberArg('samples', 200);
const WRITE = args.includes('--write');
/** Only the GET /users/online figures on a quiet server (see below). */
const QUERY_ONLY = args.includes('--query-only');
class QueryOnlyDone extends Error {}
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const JWT_SECRET = 'bench-secret-bench-secret-bench-secret-0123';
const ROOT = new URL('../', import.meta.url).pathname;

function signToken(userId: string): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({
    sub: userId,
    role: 'member',
    typ: 'access',
    exp: Math.floor(Date.now() / 1000) + 3600,
  })}`;
  return `${head}.${createHmac('sha256', JWT_SECRET).update(head).digest('base64url')}`;
}

async function until(probe: () => boolean | Promise<boolean>, timeoutMs: number, what: string, everyMs = 5) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(everyMs);
  }
}

async function spawn(cmd: string[], env: Record<string, string>) {
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

function rssMb(proc: Subprocess): number {
  const status = readFileSync(`/proc/${proc.pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return round(kb / 1024, 1);
}

interface StormSocket {
  ws: WebSocket;
  openedAt: number;
  frames: number;
  /** Close code when the server closed it (e.g. backpressure limit), else undefined. */
  closedWith?: number;
  closing?: boolean;
}

/** Open `tokens.length` sockets at once; resolves when all are open. */
async function storm(baseUrl: string, tokens: string[]) {
  const wallNow = () => performance.timeOrigin + performance.now();
  const started = wallNow();
  const sockets: StormSocket[] = [];
  let open = 0;
  let failed = 0;
  for (const token of tokens) {
    const ws = new WebSocket(`${baseUrl}/ws?token=${token}`);
    const s: StormSocket = { ws, openedAt: 0, frames: 0 };
    ws.onopen = () => {
      s.openedAt = wallNow();
      open += 1;
    };
    ws.onerror = () => {
      failed += 1;
    };
    ws.onmessage = () => {
      s.frames += 1;
    };
    ws.onclose = (e) => {
      if (!s.closing) s.closedWith = e.code;
    };
    sockets.push(s);
  }
  await until(() => open + failed >= tokens.length, 120_000, 'every socket to open', 10);
  const lastOpen = Math.max(...sockets.map((s) => s.openedAt));
  return { sockets, started, failed, connectRate: Math.round(open / ((lastOpen - started) / 1000)) };
}

function closeAll(sockets: StormSocket[]) {
  for (const s of sockets) {
    s.closing = true;
    s.ws.close();
  }
}

const sections: string[] = [];
const log = (...a: unknown[]) => console.error('[bench:presence]', ...a);

// Not "hive_…": other sessions on this shared server clean up scratch databases by that prefix.
const scratch = await createScratchDatabase(ADMIN_URL, 'presencebench');
const dbUrl = scratch.url;
const prefix = `hive-bench:${Date.now().toString(36)}:`;
const serverEnv = {
  DATABASE_URL: dbUrl,
  REDIS_URL,
  REDIS_PREFIX: prefix,
  PORT: '0',
  HOST: '127.0.0.1',
  LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
  HIVE_SEED_DEMO: 'false',
  JWT_SECRET,
  PRESENCE_GRACE_MS: '1000',
  PRESENCE_TTL_MS: '15000',
};
const children: Subprocess[] = [];
const outputs: (() => string)[] = [];

try {
  const a = await spawn([process.execPath, 'src/index.ts'], serverEnv);
  children.push(a.proc);
  outputs.push(a.output);
  const sql = postgres(dbUrl, { max: 4, onnotice: () => {} });
  const total = USERS + 2 * SAMPLES + 10;
  const ids = (
    await sql<{ id: string }[]>`
      insert into users (email, password_hash, full_name)
      select 'bench' || i || '@example.com', 'not-a-hash', 'Bench User ' || lpad(i::text, 6, '0')
        from generate_series(1, ${total}) as i
      returning id`
  ).map((r) => r.id);
  const tokens = ids.map(signToken);
  const stormTokens = tokens.slice(0, USERS);
  const sampleTokens = tokens.slice(USERS, USERS + 2 * SAMPLES);
  const sampleIds = ids.slice(USERS, USERS + 2 * SAMPLES);
  const watcherToken = tokens.at(-1)!;
  log(`users: ${ids.length}`);

  if (QUERY_ONLY) {
    // The route reads only the database, so here the rows are marked online in SQL: the
    // query is measured on a quiet server, without the storm's N² fan-out running beside it.
    // (Reconciliation would set them back offline, but not before its first period, 2 × TTL.)
    const auth = { authorization: `Bearer ${watcherToken}` };
    const onlineUrl = `http://127.0.0.1:${a.port}/api/v1/users/online?limit=100&offset=0`;
    const rows: (string | number)[][] = [];
    for (const n of [100, USERS]) {
      await sql`update users set is_online = (id = any(${ids.slice(0, n)}::uuid[]))`;
      await sql`analyze users`;
      await load({ label: 'warm-up', url: onlineUrl, headers: auth, connections: 10, durationS: 1 });
      // One client at a time: the latency of the request itself, without queueing.
      const single = await load({
        label: `${n} x1`,
        url: onlineUrl,
        headers: auth,
        connections: 1,
        durationS: 5,
      });
      rows.push([
        n,
        'first page, 1 connection',
        single.rps,
        single.p50,
        single.p99,
        `${single.errors} / ${single.non2xx}`,
      ]);
      const r = await load({ label: `${n}`, url: onlineUrl, headers: auth, connections: 10, durationS: 5 });
      const deep = await load({
        label: `${n} deep`,
        url: `${onlineUrl.replace('offset=0', `offset=${Math.max(0, n - 100)}`)}`,
        headers: auth,
        connections: 10,
        durationS: 5,
      });
      rows.push([n, 'first page, 10 connections', r.rps, r.p50, r.p99, `${r.errors} / ${r.non2xx}`]);
      rows.push([
        n,
        `last page (offset ${Math.max(0, n - 100)}), 10 connections`,
        deep.rps,
        deep.p50,
        deep.p99,
        `${deep.errors} / ${deep.non2xx}`,
      ]);
    }
    // The same auth + logging pipeline with a one-row query: what the route costs beyond the query.
    const me = await load({
      label: 'me',
      url: `http://127.0.0.1:${a.port}/api/v1/users/me`,
      headers: auth,
      connections: 10,
      durationS: 5,
    });
    rows.push([
      'GET /users/me (same auth pipeline)',
      '—',
      me.rps,
      me.p50,
      me.p99,
      `${me.errors} / ${me.non2xx}`,
    ]);
    const bareJson = startBareJsonServer();
    const bareLoad = await load({ label: 'bare', url: bareJson.url, connections: 10, durationS: 5 });
    bareJson.stop();
    rows.push([
      'bare Bun JSON (baseline)',
      '—',
      bareLoad.rps,
      bareLoad.p50,
      bareLoad.p99,
      `${bareLoad.errors} / 0`,
    ]);
    sections.push(
      `### GET /api/v1/users/online?limit=100 on a quiet server (rows marked online in SQL; 5 s each)\n\n${table(
        ['online users', 'page', 'req/s', 'p50 (ms)', 'p99 (ms)', 'errors / non-2xx'],
        rows,
      )}\n\nGoals: p99 ≤ 10 ms with 100 online (seed: 300 ms), ≤ 20 ms for a page of 100 out of 10,000.`,
    );
    throw new QueryOnlyDone();
  }

  // 1a. Baseline: the bare Bun WebSocket server, same storm, same run.
  const bare = await spawn([process.execPath, 'bench/presence-bare-server.ts'], {});
  children.push(bare.proc);
  const bareStorm = await storm(`ws://127.0.0.1:${bare.port}`, stormTokens);
  const bareRss = rssMb(bare.proc);
  closeAll(bareStorm.sockets);
  bare.proc.kill();
  log('bare storm', bareStorm.connectRate, 'conn/s', bareStorm.failed, 'failed');
  await Bun.sleep(500); // let the client side release its closed sockets before the next storm

  // 1b. HIVE: the same storm; a poller in its own process records when each row is first
  // seen committed online.
  const seenPath = `/tmp/presence-bench-seen-${process.pid}.json`;
  const poller = await spawn(
    [process.execPath, 'bench/presence-poller.ts', dbUrl, String(USERS), seenPath],
    {},
  );
  children.push(poller.proc);
  const rssBefore = rssMb(a.proc);
  const hiveStorm = await storm(`ws://127.0.0.1:${a.port}`, stormTokens);
  await poller.proc.exited;
  const seenAt = new Map<string, number>(Object.entries(JSON.parse(readFileSync(seenPath, 'utf8'))));
  if (seenAt.size < USERS) throw new Error(`only ${seenAt.size} of ${USERS} rows came online`);
  const lastCommit = Math.max(...seenAt.values());
  const openToCommit = hiveStorm.sockets
    .map((s, i) => (seenAt.get(ids[i]!) ?? Number.NaN) - s.openedAt)
    .filter((x) => Number.isFinite(x));
  const lat = summarise(openToCommit);
  const allOnlineS = (lastCommit - hiveStorm.started) / 1000;
  // Let the N² user_status_update fan-out drain before measuring memory at rest.
  // RSS at N connections, taken while the fan-out is still in flight (the realistic peak).
  const rssAtN = rssMb(a.proc);
  let drained = true;
  await until(
    () => hiveStorm.sockets.every((s) => s.frames >= USERS || s.closedWith !== undefined),
    180_000,
    'status fan-out to drain',
    100,
  ).catch(() => {
    drained = false;
    log('fan-out did not fully drain within 180 s');
  });
  const fanoutDone = performance.timeOrigin + performance.now();
  const rssAfterFanout = rssMb(a.proc);
  const closedByServer = hiveStorm.sockets.filter((s) => s.closedWith !== undefined).length;
  const framesReceived = hiveStorm.sockets.reduce((n, s) => n + s.frames, 0);
  if (process.env.BENCH_LOG_LEVEL === 'debug') writeFileSync('/tmp/hive-bench-server.log', a.output());
  log('hive storm', hiveStorm.connectRate, 'conn/s', 'all online in', allOnlineS, 's', lat);

  sections.push(
    `### Connect storm: ${USERS.toLocaleString('en')} distinct users at once, one instance\n\n${table(
      ['measure', 'HIVE', 'bare Bun WebSocket', 'goal'],
      [
        [
          'connect rate (sockets/s)',
          hiveStorm.connectRate,
          bareStorm.connectRate,
          `≥ 0.3× bare (here ${round(hiveStorm.connectRate / bareStorm.connectRate, 2)}×)`,
        ],
        ['failed connections', hiveStorm.failed, bareStorm.failed, '0'],
        [
          'all rows is_online = true after (s)',
          round(allOnlineS, 2),
          '—',
          `≥ 2,000 transitions/s (here ${Math.round(USERS / allOnlineS)}/s)`,
        ],
        ['open → committed row p50 (ms)', lat.p50, '—', ''],
        ['open → committed row p99 (ms)', lat.p99, '—', '≤ 20 (seed allows 100)'],
        ['open → committed row max (ms)', lat.max, '—', ''],
        [`server RSS at ${USERS} connections (MB)`, rssAtN, bareRss, '≤ 300'],
        ['server RSS before the storm (MB)', rssBefore, '—', ''],
        ['server RSS after the fan-out drained (MB)', rssAfterFanout, '—', ''],
        [
          `user_status_update fan-out (${USERS}² frames) ${drained ? 'drained after' : 'NOT drained after'} (s)`,
          round((fanoutDone - hiveStorm.started) / 1000, 1),
          '—',
          `${framesReceived.toLocaleString('en')} frames received`,
        ],
        ['sockets closed by the server during the storm', closedByServer, '—', '0'],
      ],
    )}`,
  );

  // 2. GET /users/online with N online (storm sockets still open), then with 100.
  const auth = { authorization: `Bearer ${watcherToken}` };
  const onlineUrl = `http://127.0.0.1:${a.port}/api/v1/users/online?limit=100&offset=0`;
  const bareJson = startBareJsonServer();
  const atN = await load({
    label: `${USERS} online`,
    url: onlineUrl,
    headers: auth,
    connections: 10,
    durationS: 5,
  });
  const bareLoad = await load({ label: 'bare', url: bareJson.url, connections: 10, durationS: 5 });
  closeAll(hiveStorm.sockets.slice(100));
  await until(
    async () =>
      (await sql<{ n: number }[]>`select count(*)::int as n from users where is_online`)[0]!.n === 100,
    60_000,
    '100 online',
    100,
  );
  const at100 = await load({
    label: '100 online',
    url: onlineUrl,
    headers: auth,
    connections: 10,
    durationS: 5,
  });
  bareJson.stop();
  closeAll(hiveStorm.sockets.slice(0, 100));
  sections.push(
    `### GET /api/v1/users/online?limit=100 (10 connections, 5 s each)\n\n${table(
      ['online users', 'req/s', 'p50 (ms)', 'p99 (ms)', 'errors / non-2xx', 'goal'],
      [
        [
          100,
          at100.rps,
          at100.p50,
          at100.p99,
          `${at100.errors} / ${at100.non2xx}`,
          'p99 ≤ 10 ms (seed: 300)',
        ],
        [USERS, atN.rps, atN.p50, atN.p99, `${atN.errors} / ${atN.non2xx}`, 'p99 ≤ 20 ms'],
        ['bare Bun JSON (baseline)', bareLoad.rps, bareLoad.p50, bareLoad.p99, `${bareLoad.errors} / 0`, ''],
      ],
    )}`,
  );

  // 3. Propagation: first connection of a fresh user → a watcher receives the online frame.
  const b = await spawn([process.execPath, 'src/index.ts'], serverEnv);
  children.push(b.proc);
  async function propagation(watcherPort: number, samples: { id: string; token: string }[]) {
    const watcher = new WebSocket(`ws://127.0.0.1:${watcherPort}/ws?token=${watcherToken}`);
    const waiting = new Map<string, (t: number) => void>();
    watcher.onmessage = (e) => {
      const f = JSON.parse(String(e.data));
      if (f.type === 'user_status_update' && f.data.is_online)
        waiting.get(f.data.user_id)?.(performance.now());
    };
    await new Promise((r) => (watcher.onopen = r));
    const out: number[] = [];
    for (const sample of samples) {
      const received = new Promise<number>((resolve) => waiting.set(sample.id, resolve));
      const t0 = performance.now();
      const ws = new WebSocket(`ws://127.0.0.1:${a.port}/ws?token=${sample.token}`);
      out.push((await received) - t0);
      ws.close();
    }
    watcher.close();
    return summarise(out);
  }
  const pairs = sampleIds.map((id, i) => ({ id, token: sampleTokens[i]! }));
  const same = await propagation(a.port, pairs.slice(0, SAMPLES));
  const cross = await propagation(b.port, pairs.slice(SAMPLES));
  sections.push(
    `### Propagation: first connection → another client receives user_status_update (${SAMPLES} users each)\n\n${table(
      ['path', 'p50 (ms)', 'p99 (ms)', 'max (ms)', 'goal'],
      [
        ['same instance', same.p50, same.p99, same.max, 'p99 ≤ 50 ms'],
        ['across two instances (Redis pub/sub)', cross.p50, cross.p99, cross.max, 'p99 ≤ 150 ms'],
      ],
    )}`,
  );
  await sql.end();
} catch (err) {
  if (!(err instanceof QueryOnlyDone)) {
    // Keep what the servers said: the failure is usually explained there.
    writeFileSync('/tmp/hive-bench-presence-servers.log', outputs.map((o) => o()).join('\n---\n'));
    log('failed; server output in /tmp/hive-bench-presence-servers.log');
    throw err;
  }
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await Promise.all(children.map((c) => c.exited));
  await scratch.drop().catch(() => {});
  const redis = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  redis.disconnect();
}

const report = [
  runHeader(
    `bun bench/presence.ts --users ${USERS} --samples ${SAMPLES}${QUERY_ONLY ? ' --query-only' : ''}`,
  ),
  `HIVE as its own process on real PostgreSQL and Redis (local), load generator in another process; 2 cores shared with other work (load average ${os.loadavg()[0]!.toFixed(1)} at the end).`,
  ...sections,
].join('\n\n');
console.log(report);
if (WRITE) {
  const path = new URL('./RESULTS.md', import.meta.url).pathname;
  const text = readFileSync(path, 'utf8');
  const start = '<!-- section:presence -->';
  const end = '<!-- /section:presence -->';
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  // The storm run replaces the section; the quiet-server query run is appended to it.
  if (i >= 0 && j > i)
    writeFileSync(
      path,
      QUERY_ONLY
        ? `${text.slice(0, j)}\n${report}\n${text.slice(j)}`
        : `${text.slice(0, i + start.length)}\n${report}\n${text.slice(j)}`,
    );
}
process.exit(0);
