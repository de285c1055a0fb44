import { describe, expect, test } from 'bun:test';
import { apiClient } from '../helpers/api';
import { startTestServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';
import { openSocket } from '../helpers/ws';

/** GET /api/v1/users/online, and the rule that no client can write presence. */
const server = await startTestServer();
const api = apiClient(server.url);

describe('GET /api/v1/users/online', () => {
  test('without a token: 401 in the contract error format', async () => {
    const res = await api.get('/api/v1/users/online');
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: { code: expect.any(String), message: expect.any(String) } });
    expect((await api.get('/api/v1/users/online', 'forged.token.here')).status).toBe(401);
  });

  test('lists exactly the connected users, ordered by full_name, paginated, with X-Total-Count and no email', async () => {
    const names = ['Charlie Online', 'alice Online', 'Bob Online'];
    const users = [];
    for (const name of names) users.push(await api.newUser(name));
    const offline = await api.newUser('Dora Offline');
    const sockets = await Promise.all(users.map((u) => openSocket(server.wsUrl, u.token)));
    await waitFor(async () => (await api.get('/api/v1/users/online', offline.token)).body.length === 3, {
      what: 'three users online',
    });

    const res = await api.get('/api/v1/users/online', offline.token);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-total-count')).toBe('3');
    // Ordered by full_name as PostgreSQL collates it; the same order the database gives.
    const expected = await server.sql<{ full_name: string }[]>`
      select full_name from users where is_online order by full_name, id`;
    expect(res.body.map((u: { full_name: string }) => u.full_name)).toEqual(expected.map((r) => r.full_name));
    for (const item of res.body) {
      expect(Object.keys(item).sort()).toEqual(['full_name', 'id', 'is_online', 'last_seen_at', 'role']);
      expect(item.is_online).toBe(true);
    }
    const raw = JSON.stringify(res.body);
    expect(raw).not.toContain('@');
    for (const u of [...users, offline]) expect(raw).not.toContain(u.email);
    expect(raw).not.toContain('password');

    const page = await api.get('/api/v1/users/online?limit=1&offset=1', offline.token);
    expect(page.status).toBe(200);
    expect(page.headers.get('x-total-count')).toBe('3');
    expect(page.body.map((u: { id: string }) => u.id)).toEqual([res.body[1].id]);
    expect((await api.get('/api/v1/users/online?limit=501', offline.token)).status).toBe(422);
    expect((await api.get('/api/v1/users/online?offset=-1', offline.token)).status).toBe(422);

    await Promise.all(sockets.map((s) => s.close()));
    await waitFor(async () => (await api.get('/api/v1/users/online', offline.token)).body.length === 0, {
      what: 'everyone offline after the grace',
    });
  });
});

describe('presence is server-owned', () => {
  test('no route lets a client set is_online, last_seen_at, role or is_active', async () => {
    const user = await api.newUser('Sneaky');
    const forbidden = {
      is_online: true,
      last_seen_at: '2001-01-01T00:00:00Z',
      role: 'admin',
      is_active: false,
    };
    // Every write route in the OpenAPI document, with the server-owned fields added to a
    // body that is otherwise valid where we know one.
    const spec = (await api.get('/swagger/json')).body as { paths: Record<string, Record<string, unknown>> };
    const validBodies: Record<string, Record<string, unknown>> = {
      'POST /api/v1/tasks': { title: 'Try to go online' },
      'PATCH /api/v1/tasks/{id}': { title: 'Still trying' },
      'PATCH /api/v1/users/me': { full_name: 'Sneaky Renamed' },
      'POST /api/v1/auth/register': {
        email: `sneaky.${Date.now()}@example.com`,
        password: 'long enough pw',
        full_name: 'Sneaky Two',
      },
      'POST /api/v1/auth/login': { email: user.email, password: user.password },
    };
    const task = await api.post('/api/v1/tasks', { title: 'Target' }, user.token);
    let tried = 0;
    for (const [path, methods] of Object.entries(spec.paths)) {
      for (const method of Object.keys(methods)) {
        if (!['post', 'put', 'patch'].includes(method)) continue;
        const key = `${method.toUpperCase()} ${path}`;
        const concrete = path.replace('{id}', task.body.id);
        const body = { ...(validBodies[key] ?? {}), ...forbidden };
        await api.request(method.toUpperCase(), concrete, { body, token: user.token });
        tried += 1;
      }
    }
    expect(tried).toBeGreaterThanOrEqual(4);
    const me = await api.get('/api/v1/users/me', user.token);
    expect(me.body).toMatchObject({ is_online: false, last_seen_at: null, role: 'member', is_active: true });
    const [registered] = await server.sql<{ is_online: boolean; role: string }[]>`
      select is_online, role from users where full_name = 'Sneaky Two'`;
    if (registered) expect(registered).toEqual({ is_online: false, role: 'member' });
  });
});
