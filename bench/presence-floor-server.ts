/**
 * The protocol floor: the least a server can do and still send each storm client what HIVE's
 * presence protocol promises it, so the storm's figures can be split into what the protocol's
 * traffic costs (this server, and the storm's client reading it) and what HIVE adds (the
 * database, Redis, Elysia, the outbox, metrics, logs). Run as its own process like HIVE and the
 * bare server, with the same accept queue (FLOOR_BACKLOG) and the bench's JWT_SECRET. Everything lives in memory:
 * - the upgrade checks the token's HMAC (no account read) and takes the user id from it;
 * - `open`: the user is online, the socket gets `presence_count`;
 * - `presence_subscribe`: answered with `presence_subscribed` (each user's status), and the
 *   socket follows those users;
 * - every second, one `presence_batch` per socket with the transitions of the users it follows
 *   (HIVE's storm tick); every 2 s while anything changed, `presence_count` and a
 *   `dashboard_summary` of a real one's size to every socket (HIVE's storm spacing).
 * Frames have HIVE's shapes and sizes (`{"type":…,"data":…}`, the same status fields). Prints its port.
 */
// A deep import, as in presence-bare-server.ts: src/toolkit.ts would also load the database
// modules, and a baseline should carry nothing it does not use.
import { raiseListenBacklog } from '../src/lib/listen-backlog';

/** The bench's signing secret (presence-lib.ts), passed in rather than imported with its modules. */
const JWT_SECRET = process.env.JWT_SECRET ?? '';
if (!JWT_SECRET) throw new Error('JWT_SECRET is required');

interface Data {
  userId: string;
}
type Socket = Bun.ServerWebSocket<Data>;

const online = new Set<string>();
/** Who follows whom: user id → the sockets subscribed to them. */
const followers = new Map<string, Set<Socket>>();
const followed = new Map<Socket, string[]>();
/** User ids that changed since the last tick (the last state wins). */
let changed = new Set<string>();
let changedSinceBroadcast = false;
const lastSeen = new Map<string, string>();

const status = (id: string) =>
  `{"user_id":"${id}","full_name":"Storm ${id.slice(0, 8)}","is_online":${online.has(id)},"last_seen_at":"${lastSeen.get(id) ?? '2026-11-30T00:00:00.000Z'}"}`;
const countFrame = () => `{"type":"presence_count","data":{"online":${online.size},"mode":"subscribed"}}`;
// A dashboard_summary of the size HIVE sends (488 characters in a storm run).
const summaryFrame = `{"type":"dashboard_summary","data":{"summary":${JSON.stringify({
  tasks: { total: 0, by_status: { todo: 0, in_progress: 0, review: 0, done: 0 } },
  by_priority: { low: 0, medium: 0, high: 0, urgent: 0 },
  by_category: { engineering: 0, design: 0, marketing: 0, operations: 0, research: 0, other: 0 },
  users: { total: 10_801, online: 0 },
  generated_at: '2026-11-30T00:00:00.000Z',
  padding: 'x'.repeat(120),
})}}}`;

function transition(id: string, isOnline: boolean) {
  if (isOnline) online.add(id);
  else online.delete(id);
  lastSeen.set(id, new Date().toISOString());
  changed.add(id);
  changedSinceBroadcast = true;
}

function userIdOf(token: string | null): string | undefined {
  if (!token) return undefined;
  const [head, payload, signature] = token.split('.');
  if (!head || !payload || !signature) return undefined;
  const expected = new Bun.CryptoHasher('sha256', JWT_SECRET)
    .update(`${head}.${payload}`)
    .digest('base64url');
  if (expected !== signature) return undefined;
  return (JSON.parse(Buffer.from(payload, 'base64url').toString()) as { sub: string }).sub;
}

const server = Bun.serve<Data>({
  port: 0,
  hostname: '127.0.0.1',
  fetch(req, srv) {
    const url = new URL(req.url);
    if (url.pathname === '/health') return Response.json({ status: 'ok' });
    const userId = userIdOf(url.searchParams.get('token'));
    if (!userId) return new Response('unauthorized', { status: 401 });
    if (srv.upgrade(req, { data: { userId } })) return undefined;
    return new Response('upgrade required', { status: 426 });
  },
  websocket: {
    maxPayloadLength: 64 * 1024,
    perMessageDeflate: false,
    open(ws) {
      transition(ws.data.userId, true);
      ws.subscribe('all');
      ws.send(countFrame());
    },
    message(ws, message) {
      const frame = JSON.parse(String(message)) as { type: string; data: { user_ids: string[] } };
      if (frame.type !== 'presence_subscribe') return;
      const ids = frame.data.user_ids;
      followed.set(ws, ids);
      for (const id of ids) {
        const set = followers.get(id);
        if (set) set.add(ws);
        else followers.set(id, new Set([ws]));
      }
      ws.send(
        `{"type":"presence_subscribed","data":{"users":[${ids.map(status).join(',')}],"online":${online.size},"mode":"subscribed"}}`,
      );
    },
    close(ws) {
      for (const id of followed.get(ws) ?? []) followers.get(id)?.delete(ws);
      followed.delete(ws);
      transition(ws.data.userId, false);
    },
  },
});

setInterval(() => {
  if (changed.size === 0) return;
  const batch = changed;
  changed = new Set();
  const perSocket = new Map<Socket, string[]>();
  for (const id of batch) {
    const entry = status(id);
    for (const ws of followers.get(id) ?? []) {
      const list = perSocket.get(ws);
      if (list) list.push(entry);
      else perSocket.set(ws, [entry]);
    }
  }
  for (const [ws, entries] of perSocket)
    ws.send(`{"type":"presence_batch","data":{"users":[${entries.join(',')}]}}`);
}, 1_000);

setInterval(() => {
  if (!changedSinceBroadcast) return;
  changedSinceBroadcast = false;
  server.publish('all', countFrame());
  server.publish('all', summaryFrame);
}, 2_000);

const backlog = Number(process.env.FLOOR_BACKLOG ?? 512);
if (backlog !== 512) {
  const outcome = await raiseListenBacklog(server.port!, backlog);
  if (!outcome.applied) throw new Error(`FLOOR_BACKLOG=${backlog} not applied: ${outcome.reason}`);
}
console.log(JSON.stringify({ msg: 'listening', port: server.port, backlog }));
