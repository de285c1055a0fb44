import { describe, expect, setDefaultTimeout, test } from 'bun:test';
import { apiClient } from '../helpers/api';
import { createTestDatabase } from '../helpers/db';
import { REAL_DB, TEST_DATABASE_URL } from '../helpers/env';
import { startTestServer } from '../helpers/server';
import { startTcpProxy } from '../helpers/tcp-proxy';
import { waitFor } from '../helpers/wait';
import { expectHolds, openSocket } from '../helpers/ws';

/**
 * A `presence_subscribe` the database cannot answer (PostgreSQL away, through the TCP proxy)
 * is answered once it is back: the `presence_subscribed` snapshot is what makes a subscribed
 * client's view exact, so it must not be lost to a moment of unavailability.
 */
setDefaultTimeout(60_000);

async function setUp() {
  const target = new URL(TEST_DATABASE_URL!);
  const proxy = startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  const db = await createTestDatabase();
  const server = await startTestServer({
    env: { PRESENCE_SUBSCRIBE_THRESHOLD: '1' },
    db: { url: proxy.url(db.url!), drop: () => db.drop() },
  });
  return { proxy, server, api: apiClient(server.url) };
}
// bun evaluates a skipped describe's body too: there is no PostgreSQL to proxy in the embedded run.
const ctx = REAL_DB ? await setUp() : undefined;

describe.skipIf(!ctx)('presence subscription during a PostgreSQL outage', () => {
  const { proxy, server, api } = ctx ?? ({} as NonNullable<typeof ctx>);

  test('the subscription answer comes once the database is back, with the current state', async () => {
    const followed = await api.newUser('Followed Fiona');
    const watcher = await api.newUser('Watcher Walt');
    await openSocket(server.wsUrl, followed.token);
    const socket = await openSocket(server.wsUrl, watcher.token);
    // Two users online, threshold 1: the instance sends by subscription.
    await socket.waitFrame((f) => f.type === 'presence_count' && f.data.mode === 'subscribed', 10_000);
    await waitFor(
      async () => (await server.sql`select is_online from users where id = ${followed.id}`)[0]?.is_online,
      {
        what: 'the followed user written online',
      },
    );

    proxy.cut('refuse');
    socket.send({ type: 'presence_subscribe', data: { user_ids: [followed.id] } });
    // The outage is in effect (REST answers 503), and the subscription goes unanswered meanwhile.
    await waitFor(async () => (await api.get('/api/v1/users/me', watcher.token)).status === 503, {
      what: 'the server to notice the outage',
    });
    await expectHolds(
      () => !socket.frames.some((f) => f.type === 'presence_subscribed'),
      1_000,
      'no answer while the database is away',
    );
    proxy.restore();

    const answer = await socket.waitFrame((f) => f.type === 'presence_subscribed', 15_000);
    expect(answer.data.users).toEqual([
      expect.objectContaining({ user_id: followed.id, full_name: 'Followed Fiona', is_online: true }),
    ]);
  });
});
