/**
 * Child process of bench/presence.ts (named `-server.ts` so `npm run bench` does not run it on
 * its own): what a user sees *during* a connect storm, measured from a process whose event loop
 * is not busy with the storm's sockets.
 *   - probes: one fresh user connects every `probeEveryMs` while the storm is being written;
 *     for each, the time from its socket opening to its row committed with is_online = true;
 *   - `GET /health` latency, one request at a time, for as long as the storm lasts;
 *   - when the database caught up: `user_counts.online` (trigger-kept, so a cheap read) reached
 *     the storm's size plus the probes.
 *   bun bench/presence-probe-server.ts <config.json>   (written by bench/presence.ts)
 * Times are wall-clock milliseconds (timeOrigin + now), comparable across processes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import postgres from 'postgres';

interface ProbeConfig {
  /** Absent: only poll /health until SIGTERM (the bare servers' baseline). */
  dbUrl?: string;
  wsUrls: string[];
  httpUrls: string[];
  probes: { id: string; token: string }[];
  /** Storm sockets: caught up when this many plus the opened probes are online. */
  expectedOnline: number;
  probeEveryMs: number;
  out: string;
}

const config: ProbeConfig = JSON.parse(readFileSync(process.argv[2]!, 'utf8'));
const sql = config.dbUrl ? postgres(config.dbUrl, { max: 2, onnotice: () => {} }) : undefined;
const wall = () => performance.timeOrigin + performance.now();
const deadline = Date.now() + 180_000;

const probes: { id: string; openedAt?: number; committedAt?: number; failed?: boolean; ws: WebSocket }[] = [];
const health: number[] = [];
/** When each /health request was sent (wall clock). */
const healthAt: number[] = [];
let stormStarted = false;
let caughtUpAt: number | undefined;

let stopRequested = false;

async function pollDatabase(): Promise<void> {
  if (!sql) {
    while (!stopRequested && Date.now() < deadline) await Bun.sleep(5);
    return;
  }
  while (Date.now() < deadline) {
    const [row] = await sql<{ n: number }[]>`select online::int as n from user_counts`;
    const online = row?.n ?? 0;
    stormStarted ||= online > 0;
    const waiting = probes.filter((p) => p.openedAt !== undefined && p.committedAt === undefined);
    if (waiting.length > 0) {
      const seen = await sql<{ id: string }[]>`
        select id from users where is_online and id = any(${waiting.map((p) => p.id)}::uuid[])`;
      const now = wall();
      const ids = new Set(seen.map((r) => r.id));
      for (const p of waiting) if (ids.has(p.id)) p.committedAt = now;
    }
    // A probe whose socket failed to open is never online: counting it would wait forever.
    const live = probes.filter((p) => !p.failed);
    if (caughtUpAt === undefined && online >= config.expectedOnline + live.length) caughtUpAt = wall();
    if (caughtUpAt !== undefined && live.every((p) => p.committedAt !== undefined)) return;
    await Bun.sleep(2);
  }
}

async function openProbes(): Promise<void> {
  if (config.probes.length === 0) return;
  while (!stormStarted && Date.now() < deadline) await Bun.sleep(1);
  for (const [i, probe] of config.probes.entries()) {
    if (caughtUpAt !== undefined) return;
    const ws = new WebSocket(`${config.wsUrls[i % config.wsUrls.length]}/ws?token=${probe.token}`);
    const p: (typeof probes)[number] = { id: probe.id, ws };
    ws.onopen = () => {
      p.openedAt = wall();
    };
    ws.onerror = () => {
      if (p.openedAt === undefined) p.failed = true;
    };
    probes.push(p);
    await Bun.sleep(config.probeEveryMs);
  }
}

async function pollHealth(): Promise<void> {
  let i = 0;
  while (caughtUpAt === undefined && !stopRequested && Date.now() < deadline) {
    const started = performance.now();
    healthAt.push(wall());
    await fetch(`${config.httpUrls[i++ % config.httpUrls.length]}/health`).then((r) => r.arrayBuffer());
    health.push(performance.now() - started);
    await Bun.sleep(5);
  }
}

process.on('SIGTERM', () => {
  stopRequested = true;
});
console.log(JSON.stringify({ msg: 'listening', port: 0 }));
await Promise.all([pollDatabase(), openProbes(), pollHealth()]);
writeFileSync(
  config.out,
  JSON.stringify({
    caughtUpAt,
    probes: probes.map((p) => ({ openedAt: p.openedAt, committedAt: p.committedAt, failed: p.failed })),
    health,
    healthAt,
  }),
);
for (const p of probes) p.ws.close();
await sql?.end();
process.exit(0);
