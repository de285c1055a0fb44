import { afterAll, describe, expect, test } from 'bun:test';
import Redis from 'ioredis';
import { apiClient } from '../helpers/api';
import { createTestDatabase } from '../helpers/db';
import { REAL_STACK, TEST_REDIS_URL } from '../helpers/env';
import { startTestServer, uniquePrefix } from '../helpers/server';
import { type OutageMode, startTcpProxy } from '../helpers/tcp-proxy';
import { waitFor } from '../helpers/wait';
import { type Frame, openSocket, type TestSocket } from '../helpers/ws';

/**
 * Redis killed (refused, or accepted and closed), killed and restarted empty, or frozen
 * (SIGSTOP: nothing moves, nothing closes) for longer than the presence TTL, then back,
 * under two instances sharing one Redis prefix with users on each. Each instance reaches
 * Redis through its own proxy and B gets it back a little later than A, as reconnect timers
 * do. What users see must hold throughout:
 * - nobody who stayed connected is ever written offline (the database is polled through the
 *   outage and after it) or announced offline in any frame;
 * - within 5 s of the return, every observer's view — its own `GET /users/online`, then the
 *   frames it received — equals the live sockets: users who joined during the outage online,
 *   those who left offline;
 * - no redundant announcement: every frame an observer gets changes its view.
 */
const PER_INSTANCE = 20;
const MOVERS = 3; // per instance: users who leave during the outage, and users who join
const TTL_MS = 2_000;
const OUTAGE_MS = 2.5 * TTL_MS;
const CONVERGE_MS = 5_000;
/** B's path to Redis comes back this long after A's. */
const STAGGER_MS = 700;

describe.skipIf(!REAL_STACK)('Redis outage with two instances', async () => {
  if (!REAL_STACK) return;
  const redisUrl = new URL(TEST_REDIS_URL!);
  const target = { host: redisUrl.hostname, port: Number(redisUrl.port || 6379) };
  const proxies = [startTcpProxy(target), startTcpProxy(target)] as const;
  const db = await createTestDatabase();
  afterAll(() => db.drop());
  const redisPrefix = uniquePrefix();
  const envFor = (i: number) => ({
    REDIS_URL: proxies[i]!.url(TEST_REDIS_URL!),
    PRESENCE_TTL_MS: String(TTL_MS),
  });
  const a = await startTestServer({ db, env: envFor(0), redisPrefix });
  const b = await startTestServer({ db, env: envFor(1), redisPrefix });
  const api = apiClient(a.url);
  const sql = a.sql;
  // Straight to Redis, not through the proxies: to wipe our keys as a restart without persistence would.
  const direct = new Redis(TEST_REDIS_URL!);
  afterAll(() => direct.disconnect());

  const dbOnline = async () =>
    new Set((await sql<{ id: string }[]>`select id from users where is_online`).map((r) => r.id));

  /** A connected user who watches: its view starts from its own GET and follows its frames. */
  interface Observer {
    userId: string;
    socket: TestSocket;
    baseline: Set<string>;
    fromFrame: number;
  }

  async function observe(userId: string, socket: TestSocket, token: string): Promise<Observer> {
    const fromFrame = socket.frames.length;
    const res = await api.get('/api/v1/users/online?limit=500', token);
    expect(res.status).toBe(200);
    return { userId, socket, baseline: new Set(res.body.map((u: { id: string }) => u.id)), fromFrame };
  }

  const statusFrames = (o: Observer): Frame[] =>
    o.socket.frames.slice(o.fromFrame).filter((f) => f.type === 'user_status_update');

  /** The observer's view, and every frame that changed nothing (a redundant announcement). */
  function viewOf(o: Observer) {
    const view = new Set(o.baseline);
    const redundant: Frame[] = [];
    for (const f of statusFrames(o)) {
      if (view.has(f.data.user_id) === f.data.is_online) redundant.push(f);
      if (f.data.is_online) view.add(f.data.user_id);
      else view.delete(f.data.user_id);
    }
    return { view, redundant };
  }

  const sameSet = (x: Set<string>, y: Set<string>) => x.size === y.size && [...x].every((id) => y.has(id));

  async function newUsers(prefix: string, n: number) {
    const users = [];
    for (let i = 0; i < n; i++) users.push(await api.newUser(`${prefix} ${String(i).padStart(2, '0')}`));
    return users;
  }

  // The same people in every scenario (each ends with everyone offline).
  const stayers = await newUsers('Stays', 2 * PER_INSTANCE);
  const leavers = await newUsers('Leaves', 2 * MOVERS);
  const joiners = await newUsers('Joins', 2 * MOVERS);
  const stayerIds = stayers.map((u) => u.id);
  const opened: TestSocket[] = [];

  async function scenario(mode: OutageMode, opts: { redisLosesData?: boolean } = {}) {
    const servers = [a, b];
    const on = (i: number) => servers[i % 2]!;

    const stayerSockets = await Promise.all(stayers.map((u, i) => openSocket(on(i).wsUrl, u.token)));
    const leaverSockets = await Promise.all(leavers.map((u, i) => openSocket(on(i).wsUrl, u.token)));
    opened.push(...stayerSockets, ...leaverSockets);
    const before = new Set([...stayers, ...leavers].map((u) => u.id));
    await waitFor(async () => sameSet(await dbOnline(), before), {
      what: 'everyone online before the outage',
    });
    // Quiet before the baselines: no frame still on its way to anyone.
    let lastCount = -1;
    await waitFor(
      () => {
        const count = stayerSockets.reduce((n, s) => n + s.frames.length, 0);
        const quiet = count === lastCount;
        lastCount = count;
        return quiet;
      },
      { intervalMs: 500, what: 'frames to stop arriving' },
    );
    const observers = await Promise.all(stayers.map((u, i) => observe(u.id, stayerSockets[i]!, u.token)));

    for (const p of proxies) p.cut(mode);
    const cutAt = Date.now();
    if (opts.redisLosesData) {
      const keys = await direct.keys(`${redisPrefix}presence:*`);
      if (keys.length > 0) await direct.del(...keys);
    }
    for (const s of leaverSockets) await s.close();
    const joinerSockets = await Promise.all(joiners.map((u, i) => openSocket(on(i).wsUrl, u.token)));
    opened.push(...joinerSockets);
    observers.push(...(await Promise.all(joiners.map((u, i) => observe(u.id, joinerSockets[i]!, u.token)))));

    // Through the outage, well past the TTL: every stayer stays online in the database.
    const stayersOnline = async () => {
      const online = await dbOnline();
      return stayerIds.every((id) => online.has(id));
    };
    while (Date.now() - cutAt < OUTAGE_MS) {
      expect(await stayersOnline()).toBe(true);
      await Bun.sleep(100);
    }

    proxies[0].restore();
    while (Date.now() - cutAt < OUTAGE_MS + STAGGER_MS) {
      expect(await stayersOnline()).toBe(true);
      await Bun.sleep(50);
    }
    proxies[1].restore();
    const restoredAt = Date.now();
    const expected = new Set([...stayers, ...joiners].map((u) => u.id));
    await waitFor(
      async () =>
        observers.every((o) => sameSet(viewOf(o).view, expected)) && sameSet(await dbOnline(), expected),
      {
        timeoutMs: CONVERGE_MS,
        intervalMs: 50,
        what: `${mode}: every observer's view and the database equal the live sockets`,
      },
    );
    const convergedMs = Date.now() - restoredAt;
    // And it stays so: late sweeps, reconciliation or corrections must not disturb it.
    const until = Date.now() + 2 * TTL_MS;
    while (Date.now() < until) {
      expect(await stayersOnline()).toBe(true);
      await Bun.sleep(100);
    }
    for (const o of observers) {
      const { view, redundant } = viewOf(o);
      expect(redundant).toEqual([]);
      expect(sameSet(view, expected)).toBe(true);
      const stayerOffline = statusFrames(o).filter(
        (f) => !f.data.is_online && stayerIds.includes(f.data.user_id),
      );
      expect(stayerOffline).toEqual([]);
    }
    console.log(
      `redis outage (${mode}${opts.redisLosesData ? ', data lost' : ''}, ${OUTAGE_MS} ms): ` +
        `views and database right ${convergedMs} ms after the last instance got Redis back`,
    );
  }

  /** Each scenario starts from everyone offline and Redis reachable, whatever the last one left. */
  async function run(mode: OutageMode, opts: { redisLosesData?: boolean } = {}) {
    try {
      await scenario(mode, opts);
    } finally {
      for (const p of proxies) p.restore();
      for (const s of opened.splice(0)) await s.close();
      await waitFor(async () => (await dbOnline()).size === 0, { what: 'everyone offline after the test' });
    }
  }

  test('Redis refusing connections', () => run('refuse'), 60_000);
  test('Redis restarted empty (no persistence)', () => run('refuse', { redisLosesData: true }), 60_000);
  test('Redis accepting and closing connections', () => run('accept-and-close'), 60_000);
  test('Redis frozen (nothing moves, nothing closes)', () => run('freeze'), 60_000);
});
