import { describe, expect, setDefaultTimeout, test } from 'bun:test';
import { CloseCodes } from '../../src/protocol/frames';
import { apiClient } from '../helpers/api';
import { startTestServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';
import { openSocket } from '../helpers/ws';

setDefaultTimeout(30_000);

// Tokens here live 2 s, so a socket opened with one must be closed by the server soon after.
const server = await startTestServer({ env: { ACCESS_TOKEN_TTL_S: '2' } });
const api = apiClient(server.url);

describe('a WebSocket does not outlive its access token', () => {
  test('the server closes the socket with 4001 once the token expires, and the user goes offline', async () => {
    const user = await api.newUser('Expiring Eve');
    const { exp } = JSON.parse(Buffer.from(user.token.split('.')[1]!, 'base64url').toString()) as {
      exp: number;
    };
    const socket = await openSocket(server.wsUrl, user.token);
    await waitFor(
      async () =>
        (await server.sql`select is_online from users where id = ${user.id}`)[0]?.is_online === true,
      { what: 'the user online' },
    );

    const closed = await socket.waitClosed(10_000);
    expect(closed).toEqual({ code: CloseCodes.tokenExpired.code, reason: CloseCodes.tokenExpired.reason });
    // Not before the token's own expiry (exp has one-second resolution).
    expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000);

    await waitFor(
      async () =>
        (await server.sql`select is_online from users where id = ${user.id}`)[0]?.is_online === false,
      { what: 'the user offline after the grace', timeoutMs: 5_000 },
    );
    // The same (now expired) token cannot open a new socket.
    await expect(openSocket(server.wsUrl, user.token)).rejects.toThrow();
  });
});
