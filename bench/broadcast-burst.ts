/**
 * Broadcasts to every socket, in bursts (issue 8, round fifteen): the cost of writing K frames
 * to each of N sockets through the socket hub's broadcast log (src/realtime/broadcast-log.ts),
 * next to one native `server.publish` per frame (uWebSockets' own fan-out, in C++: the baseline)
 * and to what the hub did before (round fourteen): a queue of broadcasts in the outbox
 * (src/realtime/outbox.ts), each written to every socket, one syscall a frame, before the next.
 *
 *   bun bench/broadcast-burst.ts [--sockets 10000] [--rounds 3]
 *
 * A burst of K broadcasts made at once is what a task import or a bulk edit makes, and the count
 * and the summary when they come close together. The clients are a child process counting frames;
 * CPU is read from /proc for both processes. Each figure is the median of `--rounds` bursts.
 */
import { readFileSync } from 'node:fs';
import type { ServerWebSocket } from 'bun';
import { createSocketHub, type HubSocket } from '../src/realtime/hub';
import { createOutbox } from '../src/realtime/outbox';
import { numberArg, round, table } from './lib';

const SOCKETS = numberArg('sockets', 10_000, { integer: true });
const ROUNDS = numberArg('rounds', 3, { integer: true });
const BURSTS = [1, 2, 5, 20];
/** A task frame's size (~330 bytes): what a burst of task events carries. */
const frame = (n: number) =>
  JSON.stringify({
    type: 'task_updated',
    data: { task: { id: crypto.randomUUID(), title: `Task ${n}`, status: 'in_progress', priority: 'high' } },
  }).padEnd(330, ' ');

function eachOf(texts: string[], fn: (text: string) => unknown): void {
  for (const text of texts) fn(text);
}
function sendAll(ws: ServerWebSocket<unknown>, texts: readonly string[]): void {
  for (const text of texts) ws.send(text);
}

/** CPU seconds a process has used (user + system), from /proc. */
function cpuOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

if (process.argv[2] === '--client') {
  // The clients: SOCKETS WebSockets; report when `target` frames have arrived in all.
  const url = process.argv[3]!;
  let open = 0;
  let frames = 0;
  let target = Number.POSITIVE_INFINITY;
  const check = () => {
    if (frames >= target) {
      target = Number.POSITIVE_INFINITY;
      process.send!({ frames });
    }
  };
  for (let i = 0; i < SOCKETS; i++) {
    const ws = new WebSocket(url);
    ws.onopen = () => {
      if (++open === SOCKETS) process.send!({ open });
    };
    ws.onmessage = () => {
      frames += 1;
      check();
    };
  }
  process.on('message', (m: { target: number }) => {
    target = m.target;
    check();
  });
} else {
  await main();
}

async function main() {
  let opened = 0;
  const hub = createSocketHub();
  const queue = createOutbox();
  const listed: HubSocket[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch: (req, srv) => (srv.upgrade(req) ? undefined : new Response('ws only', { status: 426 })),
    websocket: {
      open(ws) {
        ws.subscribe('all');
        const connId = String(++opened);
        const socket: HubSocket = {
          connId,
          userId: connId,
          sendRaw: (t) => void ws.send(t),
          close: () => {},
        };
        hub.add({ ...socket, sendRawMany: (texts) => ws.cork(() => sendAll(ws, texts)) });
        listed.push(socket);
      },
      message() {},
    },
  });
  let reply: (m: { frames?: number; open?: number }) => void = () => {};
  const child = Bun.spawn(['bun', import.meta.path, '--client', `ws://127.0.0.1:${server.port}/`], {
    ipc: (m) => reply(m),
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env },
  });
  const next = () => new Promise<{ frames?: number; open?: number }>((resolve) => (reply = resolve));
  await next();
  console.error(`[bench:broadcast-burst] ${SOCKETS} sockets open`);
  let received = 0;
  const ways: [string, (texts: string[]) => void][] = [
    ['native publish per frame (baseline)', (texts) => eachOf(texts, (t) => server.publish('all', t))],
    ['outbox queue, a write per frame (before)', (texts) => eachOf(texts, (t) => queue.broadcast(t, listed))],
    ['hub log, corked writes (now)', (texts) => eachOf(texts, (t) => hub.broadcastText(t))],
  ];
  const rows: (string | number)[][] = [];
  for (const k of BURSTS) {
    const runs = new Map<string, { server: number; clients: number; wall: number }[]>();
    for (let r = 0; r < ROUNDS; r++) {
      for (const [name, send] of ways) {
        const texts = Array.from({ length: k }, (_, i) => frame(i));
        const [s0, c0, t0] = [cpuOf(process.pid), cpuOf(child.pid), performance.now()];
        received += k * SOCKETS;
        const done = next();
        child.send({ target: received });
        send(texts);
        await done;
        const sample = {
          server: cpuOf(process.pid) - s0,
          clients: cpuOf(child.pid) - c0,
          wall: performance.now() - t0,
        };
        runs.set(name, [...(runs.get(name) ?? []), sample]);
        await Bun.sleep(100); // let the machine settle between bursts
      }
    }
    for (const [name] of ways) {
      const samples = runs.get(name)!;
      const median = (f: (s: (typeof samples)[number]) => number) =>
        samples.map(f).sort((a, b) => a - b)[samples.length >> 1]!;
      rows.push([
        k,
        name,
        round(
          median((s) => s.wall),
          0,
        ),
        round(median((s) => s.server) * 1000, 0),
        round(median((s) => s.clients) * 1000, 0),
        round((median((s) => s.server) * 1e6) / (k * SOCKETS), 2),
      ]);
    }
  }
  console.log(`${SOCKETS} sockets, median of ${ROUNDS} bursts each, ${new Date().toISOString()}\n`);
  console.log(
    table(
      [
        'broadcasts in the burst',
        'written by',
        'until all arrived (ms)',
        'server CPU (ms)',
        'clients CPU (ms)',
        'server µs per frame',
      ],
      rows,
    ),
  );
  child.kill();
  server.stop(true);
}
