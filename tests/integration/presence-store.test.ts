import { afterAll, describe, expect, test } from 'bun:test';
import Redis from 'ioredis';
import { createRedisPresenceStore } from '../../src/modules/presence/redis-store';
import { createMemoryPresenceStore, type PresenceStore } from '../../src/modules/presence/store';
import { REAL_STACK, TEST_REDIS_URL } from '../helpers/env';
import { uniquePrefix } from '../helpers/server';
import { startTcpProxy } from '../helpers/tcp-proxy';
import { waitFor } from '../helpers/wait';

/**
 * The store's promise: across every instance, each user's announced state alternates
 * online/offline, one transition per real change, however connects, disconnects and sweeps
 * from several instances interleave; and the transitions' sequence numbers put them in that
 * order (the database write relies on it). Driven with many concurrent random operations.
 */
async function exercise(stores: PresenceStore[], sweepers: PresenceStore[]) {
  const users = Array.from(
    { length: 30 },
    (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
  );
  const transitions = new Map<string, { online: boolean; seq: number }[]>(users.map((u) => [u, []]));
  const open = new Map<string, { store: PresenceStore; userId: string }>();
  let seq = 0;
  const record = (userId: string, online: boolean, seq: number) =>
    transitions.get(userId)!.push({ online, seq });
  const sweepAll = async () => {
    const gone = (await Promise.all(sweepers.map((s) => s.sweep()))).flat();
    for (const t of gone) record(t.userId, false, t.seq);
  };

  for (let round = 0; round < 40; round++) {
    const ops: Promise<unknown>[] = [];
    for (let k = 0; k < 25; k++) {
      if (open.size > 0 && Math.random() < 0.45) {
        const ids = [...open.keys()];
        const connId = ids[Math.floor(Math.random() * ids.length)]!;
        const { store, userId } = open.get(connId)!;
        open.delete(connId);
        ops.push(store.disconnect(connId, userId, 0));
      } else {
        const store = stores[Math.floor(Math.random() * stores.length)]!;
        const userId = users[Math.floor(Math.random() * users.length)]!;
        const connId = `c${seq++}`;
        open.set(connId, { store, userId });
        ops.push(store.connect(connId, userId).then((seq) => seq !== undefined && record(userId, true, seq)));
      }
    }
    if (round % 3 === 0) ops.push(sweepAll());
    await Promise.all(ops);
  }
  await Promise.all([...open].map(([connId, { store, userId }]) => store.disconnect(connId, userId, 0)));
  await sweepAll();

  const allSeqs = [...transitions.values()].flat().map((t) => t.seq);
  expect(new Set(allSeqs).size).toBe(allSeqs.length); // unique across users and instances
  for (const [userId, recorded] of transitions) {
    // In sequence order: alternating, starting online, ending offline — never two onlines or
    // two offlines in a row — whatever order the operations' answers arrived in.
    const seen = [...recorded].sort((x, y) => x.seq - y.seq).map((t) => t.online);
    expect({ userId, seen }).toEqual({ userId, seen: seen.map((_, i) => i % 2 === 0) });
    expect(seen.length % 2).toBe(0);
  }
  for (const s of stores) expect((await s.onlineUsers()).users).toEqual([]);
  return [...transitions.values()].reduce((n, t) => n + t.length, 0);
}

/**
 * One instance's Redis store under a fresh prefix, on its own connection (to `url`, default the
 * test Redis), heartbeat done; its keys and connection are removed after the file.
 */
async function singleStore(graceMs: number, url = TEST_REDIS_URL!) {
  const prefix = uniquePrefix();
  const redis = new Redis(url);
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });
  const store = createRedisPresenceStore({
    redis,
    prefix,
    instanceId: 'inst-0',
    instanceExpiryMs: 60_000,
    graceMs,
  });
  await store.heartbeat();
  return { store, redis, prefix };
}

describe('presence store: exactly one transition per change', () => {
  test('in memory', async () => {
    const store = createMemoryPresenceStore();
    expect(await exercise([store], [store])).toBeGreaterThan(0);
  });

  test.skipIf(!REAL_STACK)(
    'in Redis, three instances connecting, disconnecting and sweeping at once',
    async () => {
      const prefix = uniquePrefix();
      // One connection for the three instances: replies then come back in execution order,
      // so the order we record transitions in is the order Redis decided them. (Over
      // separate connections replies can overtake each other; see the README on
      // cross-instance write ordering.)
      const redis = new Redis(TEST_REDIS_URL!);
      afterAll(async () => {
        const keys = await redis.keys(`${prefix}*`);
        if (keys.length > 0) await redis.del(...keys);
        redis.disconnect();
      });
      const stores = [0, 1, 2].map((i) =>
        createRedisPresenceStore({
          redis,
          prefix,
          instanceId: `inst-${i}`,
          instanceExpiryMs: 60_000,
          graceMs: 0,
        }),
      );
      for (const s of stores) await s.heartbeat();
      expect(await exercise(stores, stores)).toBeGreaterThan(0);
    },
    30_000,
  );

  test.skipIf(!REAL_STACK)(
    'in Redis, an instance that stops renewing is swept once by whichever instance gets there',
    async () => {
      const prefix = uniquePrefix();
      const clients = [0, 1, 2].map(() => new Redis(TEST_REDIS_URL!));
      afterAll(() => {
        for (const c of clients) c.disconnect();
      });
      const [dying, a, b] = clients.map((redis, i) =>
        createRedisPresenceStore({
          redis,
          prefix,
          instanceId: `inst-${i}`,
          instanceExpiryMs: 50,
          graceMs: 0,
        }),
      ) as [PresenceStore, PresenceStore, PresenceStore];
      await Promise.all([dying.heartbeat(), a.heartbeat()]);
      expect(await dying.connect('d1', 'user-only-on-dying')).toBeNumber();
      expect(await dying.connect('d2', 'user-on-both')).toBeNumber();
      expect(await a.connect('a1', 'user-on-both')).toBeUndefined();
      // `a` keeps renewing; `dying` does not. Sweep from two instances at once until it is gone.
      const deadline = Date.now() + 5_000;
      const gone: string[] = [];
      while (gone.length === 0 && Date.now() < deadline) {
        await a.heartbeat();
        gone.push(...(await Promise.all([a.sweep(), b.sweep()])).flat().map((t) => t.userId));
        if (gone.length === 0) await Bun.sleep(20);
      }
      expect(gone).toEqual(['user-only-on-dying']);
      expect((await a.onlineUsers()).users.sort()).toEqual(['user-on-both']);
      const keys = await clients[0]!.keys(`${prefix}*`);
      await clients[0]!.del(...keys);
    },
  );

  test.skipIf(!REAL_STACK)(
    'in Redis, opens and closes sent together keep their order, with each other and with any other script',
    async () => {
      const { store } = await singleStore(0);
      // All asked for in one turn: an open and a close of the same connection, then a sweep.
      // The sweep must see the close (sent after them, as it would be unbatched).
      const opened = store.connect('c1', 'u1');
      const closed = store.disconnect('c1', 'u1', 0);
      const swept = store.sweep();
      expect(await opened).toBeNumber();
      expect(await closed).toBeNumber();
      expect((await swept).map((t) => t.userId)).toEqual(['u1']);

      // More opens in one turn than one call carries: each user turns online once, in the
      // order asked, and a second connection of the same user is no transition.
      const users = Array.from({ length: 1_200 }, (_, i) => `user-${i}`);
      const seqs = await Promise.all([
        ...users.map((u, i) => store.connect(`a${i}`, u)),
        store.connect('again-0', 'user-0'),
      ]);
      expect(seqs.at(-1)).toBeUndefined();
      const firsts = seqs.slice(0, -1) as number[];
      expect(firsts.every((s) => typeof s === 'number')).toBe(true);
      expect(firsts).toEqual([...firsts].sort((x, y) => x - y));
      expect(new Set(firsts).size).toBe(users.length);
      expect((await store.onlineUsers()).users.length).toBe(users.length);
    },
  );

  test.skipIf(!REAL_STACK)(
    'in Redis, a close’s grace runs from the close, even when a busy loop sends it late',
    async () => {
      const { store, redis, prefix } = await singleStore(1_000);
      await store.connect('c1', 'u1');
      const closed = store.disconnect('c1', 'u1', 1_000);
      // The event loop is held for 600 ms before the close can be sent (a busy server).
      const until = performance.now() + 600;
      while (performance.now() < until) {}
      expect(await closed).toBeNumber();
      const [deadline, [seconds, micros]] = await Promise.all([
        redis.zscore(`${prefix}presence:pending`, 'u1'),
        redis.time(),
      ]);
      const redisNow = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
      // About 400 ms of grace were left when the close reached Redis, not 1,000.
      expect(Number(deadline) - redisNow).toBeLessThan(600);
    },
  );

  test.skipIf(!REAL_STACK)(
    'in Redis, a sweep at the deadline a close returned finds its user due, however late the close reached Redis',
    async () => {
      const target = new URL(TEST_REDIS_URL!);
      const proxy = startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
      const { store } = await singleStore(300, proxy.url(TEST_REDIS_URL!));
      await store.connect('c1', 'u1');
      // The close is held on its way to Redis for half a second (a slow network, a busy Redis).
      proxy.cut('freeze');
      const closed = store.disconnect('c1', 'u1', 300);
      await Bun.sleep(500); // the outage's length
      proxy.restore();
      const deadline = await closed;
      expect(deadline).toBeNumber();
      await waitFor(() => Date.now() >= deadline!, { what: 'the returned deadline' });
      expect((await store.sweep()).map((t) => t.userId)).toEqual(['u1']);
    },
  );
});
