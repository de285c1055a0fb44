import { describe, expect, test } from 'bun:test';
import { silentLogger } from '../../src/lib/logger';
import { createThreadEngine, engineThreads } from '../../src/modules/presence/engine-thread';
import { apiClient } from '../helpers/api';
import { createTestDatabase } from '../helpers/db';
import { REAL_STACK, TEST_REDIS_URL } from '../helpers/env';
import { startTestServer, type TestServer, uniquePrefix } from '../helpers/server';
import { waitFor } from '../helpers/wait';
import { expectHolds, type Frame, openSocket } from '../helpers/ws';

/**
 * On real PostgreSQL and Redis the presence store and its database writes run on a thread
 * of their own (PRESENCE_THREAD, default on; src/modules/presence/engine-thread.ts), or in
 * the main thread when it is off. Both must give users the same presence, and a thread that
 * dies must be replaced without anyone's presence going wrong.
 */

async function isOnline(server: TestServer, userId: string): Promise<boolean> {
  const [row] = await server.sql<{ is_online: boolean }[]>`select is_online from users where id = ${userId}`;
  return row?.is_online ?? false;
}
const statusIs = (userId: string, online: boolean) => (f: Frame) =>
  f.type === 'user_status_update' && f.data.user_id === userId && f.data.is_online === online;

describe.skipIf(!REAL_STACK)('the presence engine, on its thread and in process', () => {
  for (const setting of ['on', 'off'] as const) {
    test(`PRESENCE_THREAD=${setting}: two tabs, the grace, and one frame each way`, async () => {
      const threadsBefore = new Set(engineThreads);
      const server = await startTestServer({ env: { PRESENCE_THREAD: setting } });
      const started = [...engineThreads].filter((t) => !threadsBefore.has(t));
      expect(started).toHaveLength(setting === 'on' ? 1 : 0);
      const api = apiClient(server.url);
      const grace = server.config.presenceGraceMs;
      const [ada, watcher] = [await api.newUser('Thread Ada'), await api.newUser('Thread Watcher')];
      const watching = await openSocket(server.wsUrl, watcher.token);

      const tabs = [await openSocket(server.wsUrl, ada.token), await openSocket(server.wsUrl, ada.token)];
      await waitFor(() => isOnline(server, ada.id), { what: 'Ada online in the database' });
      await watching.waitFrame(statusIs(ada.id, true));

      await tabs[0]!.close();
      await expectHolds(() => isOnline(server, ada.id), grace + 300, 'Ada online while a tab is open');
      await tabs[1]!.close();
      await waitFor(async () => !(await isOnline(server, ada.id)), { what: 'Ada offline after the grace' });
      await watching.waitFrame(statusIs(ada.id, false));
      expect(watching.statusFrames(ada.id).map((f) => f.data.is_online)).toEqual([true, false]);
      await watching.close();
    });
  }

  test('a presence thread that dies is replaced, and presence stays right', async () => {
    const threadsBefore = new Set(engineThreads);
    const server = await startTestServer({ env: { PRESENCE_THREAD: 'on' } });
    const [thread] = [...engineThreads].filter((t) => !threadsBefore.has(t));
    const api = apiClient(server.url);
    const [ada, ben] = [await api.newUser('Dying Ada'), await api.newUser('Dying Ben')];
    const adaSocket = await openSocket(server.wsUrl, ada.token);
    await waitFor(() => isOnline(server, ada.id), { what: 'Ada online' });

    thread!.terminate();
    await waitFor(() => !engineThreads.has(thread!), { what: 'the thread to be gone' });
    // Opens while the thread is gone or just replaced, and a close after: all take effect.
    const benSocket = await openSocket(server.wsUrl, ben.token);
    await waitFor(() => isOnline(server, ben.id), { what: 'Ben online through the new thread' });
    expect([...engineThreads].filter((t) => !threadsBefore.has(t))).toHaveLength(1);
    await adaSocket.close();
    await waitFor(async () => !(await isOnline(server, ada.id)), { what: 'Ada offline after her close' });
    expect(await isOnline(server, ben.id)).toBe(true);
    await benSocket.close();
  });

  test("a close's grace runs from the close, not from when the thread heard of it", async () => {
    const db = await createTestDatabase();
    const grace = 1_000;
    const engine = createThreadEngine({
      init: {
        redisUrl: TEST_REDIS_URL!,
        databaseUrl: db.url!,
        redisConnectionName: 'hive-test:grace',
        applicationName: 'hive test grace',
        logLevel: 'error',
        store: {
          prefix: uniquePrefix(),
          instanceId: 'grace-test',
          instanceExpiryMs: 10_000,
          graceMs: grace,
          silence: { afterMs: 0, settleMs: 0 },
        },
      },
      log: silentLogger,
      written: () => {},
    });
    try {
      await engine.start();
      const userId = crypto.randomUUID();
      engine.connect('conn-1', userId);
      await engine.heartbeat(); // after the connect, in order: it is registered
      const closedAt = Date.now();
      const deadline = engine.disconnect('conn-1', userId, grace);
      // The main thread is busy for 600 ms right after the close: the thread hears of it late.
      const busyUntil = performance.now() + 600;
      while (performance.now() < busyUntil) {}
      const offlineAt = await deadline;
      expect(offlineAt).toBeDefined();
      // Without the close time carried over this is ~1,600 ms after the close.
      expect(offlineAt! - closedAt).toBeGreaterThanOrEqual(grace - 50);
      expect(offlineAt! - closedAt).toBeLessThan(grace + 250);
    } finally {
      await engine.close();
      await db.drop();
    }
  });
});
