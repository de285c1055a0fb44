import { describe, expect, test } from 'bun:test';
import { apiClient } from '../helpers/api';
import { startTestServer } from '../helpers/server';

const server = await startTestServer();
const api = apiClient(server.url);
const { users } = server.runtime;

async function row(id: string) {
  const [r] = await server.sql<{ is_online: boolean; presence_seq: string | null }[]>`
    select is_online, presence_seq::text from users where id = ${id}`;
  return r!;
}

/**
 * Two instances write the transitions the presence store decided independently, so their
 * UPDATEs can cross: the store's offline (seq 100) may reach the database after its later
 * online (seq 200). The row must keep the later state.
 */
describe('presence writes are ordered by the store sequence, not by arrival', () => {
  test('an older transition arriving after a newer one changes nothing and is not announced', async () => {
    const user = await api.newUser('Crossing Cara');
    const at = new Date();
    const online = await users.setUsersOnlineStatus([{ userId: user.id, isOnline: true, at, seq: 200 }]);
    expect(online).toHaveLength(1);

    const stale = await users.setUsersOnlineStatus([{ userId: user.id, isOnline: false, at, seq: 100 }]);
    expect(stale).toEqual([]); // nothing written, so nothing to broadcast
    expect(await row(user.id)).toEqual({ is_online: true, presence_seq: '200' });

    const newer = await users.setUsersOnlineStatus([{ userId: user.id, isOnline: false, at, seq: 300 }]);
    expect(newer.map((r) => r.is_online)).toEqual([false]);
    expect(await row(user.id)).toEqual({ is_online: false, presence_seq: '300' });
  });

  test('within one batch each user is judged on its own sequence', async () => {
    const [a, b] = [await api.newUser('Batch Ann'), await api.newUser('Batch Ben')];
    const at = new Date();
    await users.setUsersOnlineStatus([
      { userId: a.id, isOnline: true, at, seq: 1_000 },
      { userId: b.id, isOnline: true, at, seq: 1_000 },
    ]);
    const written = await users.setUsersOnlineStatus([
      { userId: a.id, isOnline: false, at, seq: 999 }, // stale
      { userId: b.id, isOnline: false, at, seq: 1_001 }, // newer
    ]);
    expect(written.map((r) => r.user_id)).toEqual([b.id]);
    expect((await row(a.id)).is_online).toBe(true);
    expect((await row(b.id)).is_online).toBe(false);
  });

  test('the server-owned sequence never appears in an API answer', async () => {
    const user = await api.newUser('Private Pia');
    const me = await api.get('/api/v1/users/me', user.token);
    expect(me.status).toBe(200);
    expect(Object.keys(me.body)).not.toContain('presence_seq');
  });
});
