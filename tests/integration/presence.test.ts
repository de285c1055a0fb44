import { afterAll, describe, expect, test } from 'bun:test';
import postgres from 'postgres';
import { CloseCodes } from '../../src/protocol/frames';
import { apiClient } from '../helpers/api';
import { createTestDatabase } from '../helpers/db';
import { REAL_DB } from '../helpers/env';
import { startTestServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';
import { openSocket } from '../helpers/ws';

/** Presence across a restart of one instance: graceful shutdown and start-up reconciliation. */

describe('graceful shutdown', () => {
  test('closes sockets with 1001 and a reason, and their users leave through the normal path', async () => {
    const db = await createTestDatabase();
    afterAll(() => db.drop());
    const server = await startTestServer({ db });
    const api = apiClient(server.url);
    const user = await api.newUser('Shutdown Victim');
    const socket = await openSocket(server.wsUrl, user.token);
    await socket.waitFrame((f) => f.type === 'user_status_update' && f.data.user_id === user.id);

    await server.stop();
    expect(socket.closed).toEqual({ code: CloseCodes.goingAway.code, reason: CloseCodes.goingAway.reason });
    if (db.url) {
      // The instance waited out the grace before leaving, so nobody is left online by it.
      const sql = postgres(db.url, { max: 1, onnotice: () => {} });
      const [row] = await sql<{ is_online: boolean }[]>`select is_online from users where id = ${user.id}`;
      await sql.end();
      expect(row?.is_online).toBe(false);
    }
  }, 30_000);
});

describe('shutdown while clients reconnect at once', () => {
  test('a client that reconnects on 1001 finds the door closed, and stop() finishes promptly', async () => {
    const server = await startTestServer();
    const api = apiClient(server.url);
    const user = await api.newUser('Eager Reconnecter');
    const socket = await openSocket(server.wsUrl, user.token);
    // What the page does on advice "reconnect": try again at once. While this instance shuts
    // down it must not accept the new socket (no feature would ever close it, and the drain
    // would wait for the idle timeout).
    let reopened: WebSocket | undefined;
    let reopenedState: 'open' | 'refused' | undefined;
    socket.ws.addEventListener('close', () => {
      reopened = new WebSocket(`${server.wsUrl}/ws?token=${encodeURIComponent(user.token)}`);
      reopened.onopen = () => {
        reopenedState = 'open';
      };
      reopened.onerror = () => {
        reopenedState ??= 'refused';
      };
      reopened.onclose = () => {
        reopenedState ??= 'refused';
      };
    });
    const started = performance.now();
    await server.stop();
    const tookMs = performance.now() - started;
    await waitFor(() => reopenedState, { what: 'the reconnect attempt to settle' });
    expect(reopenedState).toBe('refused');
    // Grace (300 ms in tests) plus the close handshake; far below the 60 s idle timeout.
    expect(tookMs).toBeLessThan(5_000);
    reopened?.close();
  }, 30_000);
});

describe.skipIf(!REAL_DB)('start-up reconciliation', () => {
  test('users left online by a dead process are set offline within PRESENCE_TTL_MS of the next start', async () => {
    const db = await createTestDatabase();
    afterAll(() => db.drop());
    const first = await startTestServer({ db });
    const api = apiClient(first.url);
    const ghosts = [await api.newUser('Ghost One'), await api.newUser('Ghost Two')];
    const alive = await api.newUser('Still Here');
    await first.stop();

    // What a process killed mid-session leaves behind: rows online with no connection anywhere.
    const sql = postgres(db.url!, { max: 1, onnotice: () => {} });
    afterAll(() => sql.end());
    await sql`update users set is_online = true where id = any(${ghosts.map((g) => g.id)}::uuid[])`;

    const second = await startTestServer({ db });
    const startedAt = Date.now();
    const socket = await openSocket(second.wsUrl, alive.token);
    const settled = async () => {
      const rows = await sql<{ id: string }[]>`select id from users where is_online`;
      return rows.length === 1 && rows[0]!.id === alive.id;
    };
    await waitFor(settled, {
      timeoutMs: second.config.presenceTtlMs,
      what: 'ghosts offline, live user online',
    });
    expect(Date.now() - startedAt).toBeLessThanOrEqual(second.config.presenceTtlMs);
    await socket.close();
  }, 30_000);
});
