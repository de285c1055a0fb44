import { afterAll, describe, expect, test } from 'bun:test';
import postgres from 'postgres';
import { CloseCodes } from '../../src/protocol/frames';
import { apiClient } from '../helpers/api';
import { createTestDatabase } from '../helpers/db';
import { REAL_STACK, TEST_REDIS_URL } from '../helpers/env';
import { type ServerProcess, spawnServer } from '../helpers/process';
import { startTestServer, testEnv, uniquePrefix } from '../helpers/server';
import { startTcpProxy } from '../helpers/tcp-proxy';
import { waitFor } from '../helpers/wait';
import { expectHolds, type Frame, openSocket } from '../helpers/ws';

/**
 * Several instances on one PostgreSQL and one Redis, as separate processes: cross-instance
 * broadcast, kill -9, a rolling restart, and a Redis outage. Real stack only.
 */
describe.skipIf(!REAL_STACK)('presence across instances', async () => {
  // Bun still runs a skipped describe's body to collect its tests: start nothing then.
  if (!REAL_STACK) return;
  const db = await createTestDatabase();
  afterAll(() => db.drop());
  const prefix = uniquePrefix();
  // spawnServer reads the port from the "listening" log line, so keep info logs.
  const env = testEnv(db, { LOG_LEVEL: 'info' }, prefix);
  const TTL = Number(env.PRESENCE_TTL_MS);
  const GRACE = Number(env.PRESENCE_GRACE_MS);
  const sql = postgres(db.url!, { max: 2, onnotice: () => {} });
  afterAll(() => sql.end());
  const isOnline = async (id: string) =>
    (await sql<{ is_online: boolean }[]>`select is_online from users where id = ${id}`)[0]?.is_online ===
    true;
  const statusIs = (userId: string, online: boolean) => (f: Frame) =>
    f.type === 'user_status_update' && f.data.user_id === userId && f.data.is_online === online;

  const a: ServerProcess = await spawnServer(env);
  const b: ServerProcess = await spawnServer(env);
  const api = apiClient(a.url);

  test('a user connecting on A is seen by a client on B, once', async () => {
    const watcherOnB = await openSocket(b.wsUrl, (await api.newUser('Watcher On B')).token);
    const user = await api.newUser('Lives On A');
    const s = await openSocket(a.wsUrl, user.token);
    const frame = await watcherOnB.waitFrame(statusIs(user.id, true));
    expect(frame.data.full_name).toBe('Lives On A');
    expect(await isOnline(user.id)).toBe(true);
    // A second tab on B is not a transition.
    const tabOnB = await openSocket(b.wsUrl, user.token);
    await s.close();
    await expectHolds(() => watcherOnB.statusFrames(user.id).length === 1, GRACE * 2, 'no offline frame');
    expect(await isOnline(user.id)).toBe(true);
    await tabOnB.close();
    await watcherOnB.waitFrame(statusIs(user.id, false));
    expect(watcherOnB.statusFrames(user.id)).toHaveLength(2);
    await watcherOnB.close();
  }, 30_000);

  test('kill -9 of the process holding a user’s only connection: offline within PRESENCE_TTL_MS, frame reaches the others', async () => {
    const victimHost = await spawnServer(env);
    const watcherOnB = await openSocket(b.wsUrl, (await api.newUser('Crash Watcher')).token);
    const user = await api.newUser('On Doomed Instance');
    const survivor = await api.newUser('On Survivor');
    await openSocket(victimHost.wsUrl, user.token);
    const survivorSocket = await openSocket(b.wsUrl, survivor.token);
    await watcherOnB.waitFrame(statusIs(user.id, true));

    await victimHost.kill9();
    const killedAt = Date.now();
    await watcherOnB.waitFrame(statusIs(user.id, false), TTL * 3);
    const elapsed = Date.now() - killedAt;
    expect(elapsed).toBeLessThanOrEqual(TTL);
    expect(await isOnline(user.id)).toBe(false);
    expect(await isOnline(survivor.id)).toBe(true);
    expect(watcherOnB.statusFrames(survivor.id).filter((f) => !f.data.is_online)).toHaveLength(0);
    await survivorSocket.close();
    await watcherOnB.close();
  }, 30_000);

  test('a rolling restart of one instance leaves the others’ users online; its own leave through the grace', async () => {
    const restarting = await spawnServer(env);
    const watcherOnB = await openSocket(b.wsUrl, (await api.newUser('Restart Watcher')).token);
    const onB = await api.newUser('Stays On B');
    const onRestarting = await api.newUser('On Restarting');
    await openSocket(b.wsUrl, onB.token);
    const leaving = await openSocket(restarting.wsUrl, onRestarting.token);
    await watcherOnB.waitFrame(statusIs(onRestarting.id, true));
    await watcherOnB.waitFrame(statusIs(onB.id, true));

    expect(await restarting.stop()).toBe(0);
    expect(leaving.closed).toEqual({ code: CloseCodes.goingAway.code, reason: CloseCodes.goingAway.reason });
    await watcherOnB.waitFrame(statusIs(onRestarting.id, false));
    // The new incarnation's start-up (reconciliation included) must not touch B's users.
    const restarted = await spawnServer(env);
    await expectHolds(() => isOnline(onB.id), TTL, 'the user on B stays online');
    expect(watcherOnB.statusFrames(onB.id).map((f) => f.data.is_online)).toEqual([true]);
    await restarted.stop();
    await watcherOnB.close();
  }, 30_000);
});

describe.skipIf(!REAL_STACK)('Redis outage', () => {
  test('REST keeps serving, nobody is marked offline, and presence is right within 10 s of Redis returning', async () => {
    const redisUrl = new URL(TEST_REDIS_URL!);
    const proxy = startTcpProxy({ host: redisUrl.hostname, port: Number(redisUrl.port || 6379) });
    const server = await startTestServer({ env: { REDIS_URL: proxy.url(TEST_REDIS_URL!) } });
    const api = apiClient(server.url);
    const ttl = server.config.presenceTtlMs;
    const isOnline = async (id: string) =>
      (await server.sql<{ is_online: boolean }[]>`select is_online from users where id = ${id}`)[0]
        ?.is_online === true;

    const steady = [await api.newUser('Steady One'), await api.newUser('Steady Two')];
    const leaver = await api.newUser('Leaves During Outage');
    const joiner = await api.newUser('Joins During Outage');
    for (const u of steady) await openSocket(server.wsUrl, u.token);
    const leaverSocket = await openSocket(server.wsUrl, leaver.token);
    await waitFor(async () =>
      (await Promise.all([...steady, leaver].map((u) => isOnline(u.id)))).every(Boolean),
    );

    proxy.cut();
    const me = await api.get('/api/v1/users/me', steady[0]!.token);
    expect(me.status).toBe(200);
    expect((await api.get('/api/v1/users/online', steady[0]!.token)).status).toBe(200);
    await leaverSocket.close();
    const joinerSocket = await openSocket(server.wsUrl, joiner.token);
    // Longer than the TTL: an instance that cannot reach Redis must not expire anyone.
    await expectHolds(
      async () => (await Promise.all(steady.map((u) => isOnline(u.id)))).every(Boolean),
      ttl * 2,
      'steady users stay online while Redis is unreachable',
    );
    // Redis does not decide readiness (README "PostgreSQL outages"): 200, reported degraded.
    const ready = await api.get('/ready');
    expect([ready.status, ready.body.checks?.redis]).toEqual([200, 'degraded']);

    proxy.restore();
    const restoredAt = Date.now();
    await waitFor(
      async () =>
        (await Promise.all(steady.map((u) => isOnline(u.id)))).every(Boolean) &&
        (await isOnline(joiner.id)) &&
        !(await isOnline(leaver.id)),
      { timeoutMs: 10_000, what: 'presence correct after Redis returns' },
    );
    expect(Date.now() - restoredAt).toBeLessThan(10_000);
    // And live again end to end: a new transition is broadcast through Redis.
    const late = await api.newUser('After Recovery');
    await openSocket(server.wsUrl, late.token);
    await joinerSocket.waitFrame(statusIs(late.id, true), 10_000);

    function statusIs(userId: string, online: boolean) {
      return (f: Frame) =>
        f.type === 'user_status_update' && f.data.user_id === userId && f.data.is_online === online;
    }
  }, 60_000);
});
