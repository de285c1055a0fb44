import { afterAll, describe, expect, test } from 'bun:test';
import postgres from 'postgres';
import { apiClient } from '../helpers/api';
import { createTestDatabase } from '../helpers/db';
import { REAL_STACK } from '../helpers/env';
import { spawnServer } from '../helpers/process';
import { testEnv, uniquePrefix } from '../helpers/server';
import { waitFor } from '../helpers/wait';
import { type Frame, openSocket } from '../helpers/ws';

/**
 * Presence subscriptions and batching across two instances (separate processes) sharing
 * PostgreSQL and Redis, with PRESENCE_SUBSCRIBE_THRESHOLD=2. Real stack only.
 */
describe.skipIf(!REAL_STACK)('presence at scale across two instances', async () => {
  if (!REAL_STACK) return; // bun runs a skipped describe's body: start nothing then
  const db = await createTestDatabase();
  afterAll(() => db.drop());
  const env = testEnv(db, { LOG_LEVEL: 'info', PRESENCE_SUBSCRIBE_THRESHOLD: '2' }, uniquePrefix());
  const GRACE = Number(env.PRESENCE_GRACE_MS);
  const sql = postgres(db.url!, { max: 2, onnotice: () => {} });
  afterAll(() => sql.end());
  const [a, b] = await Promise.all([spawnServer(env), spawnServer(env)]);
  const api = apiClient(a.url);
  const online =
    (userId: string, isOnline = true) =>
    (f: Frame) =>
      f.type === 'user_status_update' && f.data.user_id === userId && f.data.is_online === isOnline;

  test('a socket on B follows its subscribed users on A, batched, with the cluster-wide count, and nobody else', async () => {
    const [w, p, q, x, y] = await Promise.all(
      ['Watcher', 'Pat', 'Quinn', 'Xena', 'Yuri'].map((name) => api.newUser(`Cluster ${name}`)),
    );
    const team = await Promise.all(Array.from({ length: 8 }, (_, i) => api.newUser(`Cluster Team ${i}`)));
    const watcher = await openSocket(b.wsUrl, w!.token);
    watcher.send({ type: 'presence_subscribe', data: { user_ids: [x!.id, ...team.map((u) => u.id)] } });
    const answer = await watcher.waitFrame((f) => f.type === 'presence_subscribed');
    expect(answer.data.users).toHaveLength(9);
    expect(answer.data.users.every((u: { is_online: boolean }) => !u.is_online)).toBe(true);

    // Three online, two of them on A: above 2. B learns it from the shared count.
    await openSocket(a.wsUrl, p!.token);
    await openSocket(a.wsUrl, q!.token);
    await watcher.waitFrame(
      (f) => f.type === 'presence_count' && f.data.mode === 'subscribed' && f.data.online === 3,
      10_000,
    );

    // A subscribed user arriving on A reaches B; a burst of them arrives batched.
    const xena = await openSocket(a.wsUrl, x!.token);
    await watcher.waitFrame(online(x!.id));
    await Promise.all(team.map((u) => openSocket(a.wsUrl, u.token)));
    await waitFor(() => team.every((u) => watcher.statusFrames(u.id).length === 1), {
      what: 'the whole team online at the watcher on B',
    });
    const teamIds = new Set(team.map((u) => u.id));
    const carriers = watcher.frames.filter(
      (f) =>
        (f.type === 'presence_batch' &&
          f.data.users.some((u: { user_id: string }) => teamIds.has(u.user_id))) ||
        (f.type === 'user_status_update' && f.via === undefined && teamIds.has(f.data.user_id)),
    );
    expect(carriers.some((f) => f.type === 'presence_batch')).toBe(true);
    expect(carriers.length).toBeLessThan(team.length);

    // Yuri (not followed) arrives before Xena leaves: when Xena's offline frame is here,
    // Yuri's would be too, had it been sent.
    await openSocket(a.wsUrl, y!.token);
    await waitFor(
      async () => (await sql`select 1 from users where id = ${y!.id} and is_online`).length === 1,
    );
    await xena.close();
    await watcher.waitFrame(online(x!.id, false), GRACE + 10_000);
    expect(watcher.statusFrames(y!.id)).toEqual([]);
    // The count is the cluster's: W on B; P, Q, Y and the team on A.
    await watcher.waitFrame((f) => f.type === 'presence_count' && f.data.online === 4 + team.length, 10_000);

    // The watcher's view of the users it follows equals the database.
    const view = new Map<string, boolean>();
    for (const f of watcher.frames) {
      if (f.type === 'presence_subscribed') for (const u of f.data.users) view.set(u.user_id, u.is_online);
      if (f.type === 'user_status_update') view.set(f.data.user_id, f.data.is_online);
    }
    const rows = await sql<{ id: string; is_online: boolean }[]>`
      select id, is_online from users where id = any(${[x!.id, ...teamIds]}::uuid[])`;
    expect(rows).toHaveLength(9);
    for (const r of rows)
      expect({ id: r.id, online: view.get(r.id) }).toEqual({ id: r.id, online: r.is_online });
  }, 60_000);
});
