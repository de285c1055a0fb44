import { describe, expect, setDefaultTimeout, test } from 'bun:test';
import postgres from 'postgres';
import { DEV_JWT_SECRET } from '../../src/config';
import { CloseCodes } from '../../src/protocol/frames';
import { apiClient } from '../helpers/api';
import { createTestDatabase } from '../helpers/db';
import { REAL_DB, REAL_STACK, TEST_DATABASE_URL } from '../helpers/env';
import { accessClaims, makeJwt } from '../helpers/jwt';
import { startTestServer, uniquePrefix } from '../helpers/server';
import { startTcpProxy } from '../helpers/tcp-proxy';
import { waitFor } from '../helpers/wait';
import { expectHolds, openSocket, type TestSocket, upgradeAttempt } from '../helpers/ws';

setDefaultTimeout(60_000);

/** The contract's bound: an account change counts everywhere within this long. */
const REVOKED_WITHIN_MS = 5_000;

const server = await startTestServer();
const api = apiClient(server.url);

async function loginAs(email: string, password: string): Promise<string> {
  const res = await api.post('/api/v1/auth/login', { email, password });
  expect(res.status).toBe(200);
  return res.body.access_token;
}

/** Waits (at most 5 s) until this token is refused on a route, and returns how long that took. */
async function refusedWithin(token: string, path = '/api/v1/users/me', base = api): Promise<number> {
  const started = Date.now();
  await waitFor(async () => (await base.get(path, token)).status === 401, {
    timeoutMs: REVOKED_WITHIN_MS,
    intervalMs: 100,
    what: `the token to be refused on ${path}`,
  });
  return Date.now() - started;
}

async function expectRevokedSocket(socket: TestSocket): Promise<void> {
  const closed = await socket.waitClosed(REVOKED_WITHIN_MS);
  expect(closed).toEqual({ code: CloseCodes.sessionRevoked.code, reason: CloseCodes.sessionRevoked.reason });
}

describe('an account change ends its sessions, REST and WebSocket, within 5 s', () => {
  test('deleted in SQL: the token is refused, its socket closed with 4003 and a new one refused at the upgrade', async () => {
    const gone = await api.newUser('Deleted Dora');
    const watcher = await api.newUser('Watcher');
    const socket = await openSocket(server.wsUrl, gone.token);
    await server.sql`delete from users where id = ${gone.id}`;
    await refusedWithin(gone.token, '/api/v1/tasks');
    await expectRevokedSocket(socket);
    expect((await upgradeAttempt(server.url, `?token=${gone.token}`)).status).toBe(401);
    // Nothing more reaches it: the task frames of others go to live sessions only.
    const frames = socket.frames.length;
    expect((await api.post('/api/v1/tasks', { title: 'secret plans' }, watcher.token)).status).toBe(201);
    expect(socket.frames.length).toBe(frames);
  });

  test('deactivated in SQL: it can no longer create tasks, and its socket closes with 4003', async () => {
    const u = await api.newUser('Deactivated Dan');
    expect((await api.post('/api/v1/tasks', { title: 'before' }, u.token)).status).toBe(201);
    const socket = await openSocket(server.wsUrl, u.token);
    await server.sql`update users set is_active = false where id = ${u.id}`;
    await waitFor(async () => (await api.post('/api/v1/tasks', { title: 'after' }, u.token)).status === 401, {
      timeoutMs: REVOKED_WITHIN_MS,
      intervalMs: 100,
      what: 'task creation refused',
    });
    await expectRevokedSocket(socket);
    // Re-activating does not bring the old token back: the version moved twice.
    await server.sql`update users set is_active = true where id = ${u.id}`;
    await expectHolds(
      async () => (await api.get('/api/v1/users/me', u.token)).status === 401,
      2_500,
      'old token dead',
    );
    expect((await api.get('/api/v1/users/me', await loginAs(u.email, u.password))).status).toBe(200);
  });

  test('demoted in SQL: the old admin token can no longer delete others’ tasks; a new one is a member’s', async () => {
    const victim = await api.newUser('Victim');
    const boss = await api.newUser('Demoted Admin');
    await server.sql`update users set role = 'admin' where id = ${boss.id}`;
    const adminToken = await loginAs(boss.email, boss.password);
    const first = await api.post('/api/v1/tasks', { title: 'one' }, victim.token);
    expect((await api.delete(`/api/v1/tasks/${first.body.id}`, adminToken)).status).toBe(204);

    const socket = await openSocket(server.wsUrl, adminToken);
    await server.sql`update users set role = 'member' where id = ${boss.id}`;
    const second = await api.post('/api/v1/tasks', { title: 'two' }, victim.token);
    await refusedWithin(adminToken, `/api/v1/tasks/${second.body.id}`);
    expect((await api.delete(`/api/v1/tasks/${second.body.id}`, adminToken)).status).toBe(401);
    await expectRevokedSocket(socket);
    // Signing in again gives the role the database holds now.
    const memberToken = await loginAs(boss.email, boss.password);
    expect((await api.delete(`/api/v1/tasks/${second.body.id}`, memberToken)).status).toBe(403);
    expect((await api.get(`/api/v1/tasks/${second.body.id}`, victim.token)).status).toBe(200);
  });

  test('the role used for authorization is the database’s, whatever the token claims', async () => {
    const victim = await api.newUser('Victim Two');
    const member = await api.newUser('Claims Admin');
    const task = await api.post('/api/v1/tasks', { title: 'mine' }, victim.token);
    const forgedRole = makeJwt(accessClaims(member.id, { role: 'admin' }), { secret: DEV_JWT_SECRET });
    expect((await api.delete(`/api/v1/tasks/${task.body.id}`, forgedRole)).status).toBe(403);
  });

  test('password changed through the API: every earlier token ends, at once on this instance', async () => {
    const u = await api.newUser('Password Pat');
    const other = await loginAs(u.email, u.password);
    const socket = await openSocket(server.wsUrl, other);
    const res = await api.patch(
      '/api/v1/users/me',
      { password: 'a brand new password', current_password: u.password },
      u.token,
    );
    expect(res.status).toBe(200);
    expect((await api.get('/api/v1/users/me', other)).status).toBe(401);
    expect((await api.get('/api/v1/users/me', u.token)).status).toBe(401);
    await expectRevokedSocket(socket);
    expect((await api.get('/api/v1/users/me', await loginAs(u.email, 'a brand new password'))).status).toBe(
      200,
    );
  });

  test('password changed in SQL (an operator reset): the token and socket end', async () => {
    const u = await api.newUser('Reset Rita');
    const socket = await openSocket(server.wsUrl, u.token);
    await server.sql`update users set password_hash = 'reset-by-operator' where id = ${u.id}`;
    await refusedWithin(u.token);
    await expectRevokedSocket(socket);
  });

  test('other changes do not end a session: a name edit, presence, and an update that changes nothing', async () => {
    const u = await api.newUser('Steady Sam');
    const socket = await openSocket(server.wsUrl, u.token);
    await waitFor(
      async () => (await server.sql`select is_online from users where id = ${u.id}`)[0]?.is_online,
      {
        what: 'the user online',
      },
    );
    expect((await api.patch('/api/v1/users/me', { full_name: 'Steady Samuel' }, u.token)).status).toBe(200);
    await server.sql`update users set role = role, is_active = true where id = ${u.id}`;
    // Two socket checks and a cache lifetime pass; the session stays.
    await expectHolds(
      async () => (await api.get('/api/v1/users/me', u.token)).status === 200,
      4_500,
      'token valid',
    );
    expect(socket.closed).toBeUndefined();
  });
});

describe('token claims', () => {
  test('a signed token without exp, or without ver, is refused', async () => {
    const u = await api.newUser('Claims Carl');
    const { exp: _exp, ...noExp } = accessClaims(u.id);
    const { ver: _ver, ...noVer } = accessClaims(u.id);
    for (const claims of [noExp, noVer]) {
      const token = makeJwt(claims, { secret: DEV_JWT_SECRET });
      expect((await api.get('/api/v1/users/me', token)).status).toBe(401);
      expect((await upgradeAttempt(server.url, `?token=${token}`)).status).toBe(401);
    }
    expect(
      (await api.get('/api/v1/users/me', makeJwt(accessClaims(u.id), { secret: DEV_JWT_SECRET }))).status,
    ).toBe(200);
  });
});

describe.skipIf(!REAL_STACK)('two instances (real PostgreSQL and Redis)', () => {
  test('a password change on one instance ends the session on the other, REST and socket', async () => {
    const prefix = uniquePrefix();
    const a = await startTestServer({ redisPrefix: prefix });
    const b = await startTestServer({ db: a.db, redisPrefix: prefix });
    const apiA = apiClient(a.url);
    const apiB = apiClient(b.url);
    const u = await apiA.newUser('Roaming Rae');
    const socketOnB = await openSocket(b.wsUrl, u.token);
    expect((await apiB.get('/api/v1/users/me', u.token)).status).toBe(200); // B has the account cached
    const res = await apiA.patch(
      '/api/v1/users/me',
      { password: 'another new password', current_password: u.password },
      u.token,
    );
    expect(res.status).toBe(200);
    await refusedWithin(u.token, '/api/v1/users/me', apiB);
    await expectRevokedSocket(socketOnB);
  });

  test('a deactivation in SQL ends the sessions on both instances', async () => {
    const prefix = uniquePrefix();
    const a = await startTestServer({ redisPrefix: prefix });
    const b = await startTestServer({ db: a.db, redisPrefix: prefix });
    const u = await apiClient(a.url).newUser('Everywhere Eli');
    const sockets = [await openSocket(a.wsUrl, u.token), await openSocket(b.wsUrl, u.token)];
    await a.sql`update users set is_active = false where id = ${u.id}`;
    await Promise.all([
      refusedWithin(u.token, '/api/v1/tasks', apiClient(a.url)),
      refusedWithin(u.token, '/api/v1/tasks', apiClient(b.url)),
      ...sockets.map(expectRevokedSocket),
    ]);
  });
});

/** A server that reaches PostgreSQL through a TCP proxy the test can cut, plus a direct connection. */
async function proxiedServer() {
  const target = new URL(TEST_DATABASE_URL!);
  const proxy = startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  const db = await createTestDatabase();
  const proxied = await startTestServer({ db: { url: proxy.url(db.url!), drop: () => db.drop() } });
  const direct = postgres(db.url!, { max: 1, onnotice: () => {} });
  return { proxy, proxied, direct };
}
// bun evaluates a skipped describe's body too: there is no PostgreSQL to proxy in the embedded run.
const outage = REAL_DB ? await proxiedServer() : undefined;

describe.skipIf(!outage)('while PostgreSQL is away (real PostgreSQL, through a TCP proxy)', () => {
  test('a socket still opens (presence keeps working), and a revocation made meanwhile closes it after the return', async () => {
    const { proxy, proxied, direct } = outage!;
    const outageApi = apiClient(proxied.url);
    const u = await outageApi.newUser('Outage Otto');
    proxy.cut();
    try {
      const socket = await openSocket(proxied.wsUrl, u.token);
      expect((await outageApi.get('/api/v1/users/me', u.token)).status).toBe(503);
      await direct`update users set is_active = false where id = ${u.id}`;
      expect(socket.closed).toBeUndefined(); // an outage is not a revocation
      proxy.restore();
      await expectRevokedSocket(socket);
      await refusedWithin(u.token, '/api/v1/users/me', outageApi);
    } finally {
      proxy.restore();
      await direct.end();
    }
  });
});
