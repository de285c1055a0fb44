/**
 * `GET /api/v1/users/online?limit=100` on a quiet server (issue 3), with 100 and with N users
 * online: the rows are marked online in SQL, so the query is measured without a connect storm
 * running beside it (reconciliation would set them back offline, but not before its first
 * period, 2 × TTL). Next to `GET /users/me` (same auth pipeline) and a bare Bun JSON server.
 *   bun bench/presence-online-query.ts [--users 10000] [--write]
 * (Until issue 8 this was `bun bench/presence.ts --query-only`.)
 */
import os from 'node:os';
import postgres from 'postgres';
import { load, numberArg, runHeader, startBareJsonServer, table, writeResultsSection } from './lib';
import { type Child, createScratch, hiveCommand, signToken, spawn } from './presence-lib';

const USERS = numberArg('users', 10_000, { integer: true });
const scratch = await createScratch();
let server: Child | undefined;
const rows: (string | number)[][] = [];
try {
  server = await spawn(hiveCommand(), scratch.serverEnv);
  const sql = postgres(scratch.dbUrl, { max: 2, onnotice: () => {} });
  const ids = await scratch.createUsers(sql, USERS + 1);
  const auth = { authorization: `Bearer ${signToken(ids.at(-1)!)}` };
  const base = `http://127.0.0.1:${server.port}`;
  const onlineUrl = `${base}/api/v1/users/online?limit=100&offset=0`;
  const row = (n: number | string, page: string, r: Awaited<ReturnType<typeof load>>) => [
    n,
    page,
    r.rps,
    r.p50,
    r.p99,
    `${r.errors} / ${r.non2xx}`,
  ];
  for (const n of [100, USERS]) {
    await sql`update users set is_online = (id = any(${ids.slice(0, n)}::uuid[]))`;
    await sql`analyze users`;
    await load({ label: 'warm-up', url: onlineUrl, headers: auth, connections: 10, durationS: 1 });
    const single = await load({
      label: `${n} x1`,
      url: onlineUrl,
      headers: auth,
      connections: 1,
      durationS: 5,
    });
    rows.push(row(n, 'first page, 1 connection', single));
    const r = await load({ label: `${n}`, url: onlineUrl, headers: auth, connections: 10, durationS: 5 });
    rows.push(row(n, 'first page, 10 connections', r));
    const offset = Math.max(0, n - 100);
    const deep = await load({
      label: `${n} deep`,
      url: onlineUrl.replace('offset=0', `offset=${offset}`),
      headers: auth,
      connections: 10,
      durationS: 5,
    });
    rows.push(row(n, `last page (offset ${offset}), 10 connections`, deep));
  }
  const me = await load({
    label: 'me',
    url: `${base}/api/v1/users/me`,
    headers: auth,
    connections: 10,
    durationS: 5,
  });
  rows.push(row('GET /users/me (same auth pipeline)', '—', me));
  const bare = startBareJsonServer();
  rows.push(
    row(
      'bare Bun JSON (baseline)',
      '—',
      await load({ label: 'bare', url: bare.url, connections: 10, durationS: 5 }),
    ),
  );
  bare.stop();
  await sql.end();
} finally {
  server?.proc.kill('SIGKILL');
  await server?.proc.exited;
  await scratch.drop();
}

const report = [
  runHeader(`bun bench/presence-online-query.ts --users ${USERS}`),
  `HIVE as its own process on real PostgreSQL and Redis (local); load average ${os.loadavg()[0]!.toFixed(1)} at the end.`,
  `#### GET /api/v1/users/online?limit=100 on a quiet server (rows marked online in SQL; 5 s each)\n\n${table(
    ['online users', 'page', 'req/s', 'p50 (ms)', 'p99 (ms)', 'errors / non-2xx'],
    rows,
  )}\n\nGoals: p99 ≤ 10 ms with 100 online (seed: 300 ms), ≤ 20 ms for a page of 100 out of 10,000.`,
].join('\n\n');
console.log(report);
if (process.argv.includes('--write'))
  writeResultsSection('section:presence-online-query', report, 'section:presence');
process.exit(0);
