import { describe, expect, setDefaultTimeout, test } from 'bun:test';
import { apiClient } from '../helpers/api';
import { startTestServer } from '../helpers/server';

// Logins cost an argon2id verify each; on a loaded machine a test with several exceeds 5 s.
setDefaultTimeout(30_000);

const server = await startTestServer();
const api = apiClient(server.url);
const errorShape = (code: string) => ({
  error: expect.objectContaining({ code, message: expect.any(String) }),
});

describe('GET /api/v1/users/me', () => {
  test('returns the caller as UserPrivate', async () => {
    const u = await api.newUser('Mia Me');
    const res = await api.get('/api/v1/users/me', u.token);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: u.id,
      email: u.email,
      full_name: 'Mia Me',
      role: 'member',
      is_active: true,
      is_online: false,
      last_seen_at: null,
      created_at: expect.any(String),
    });
  });

  test('401 without a token', async () => {
    const res = await api.get('/api/v1/users/me');
    expect(res.status).toBe(401);
    expect(res.body).toEqual(errorShape('unauthorized'));
  });
});

describe('PATCH /api/v1/users/me', () => {
  test('changes full_name (trimmed) and nothing else', async () => {
    const u = await api.newUser('Old Name');
    const res = await api.patch('/api/v1/users/me', { full_name: '  New Name ' }, u.token);
    expect(res.status).toBe(200);
    expect(res.body.full_name).toBe('New Name');
    expect((await api.get('/api/v1/users/me', u.token)).body.full_name).toBe('New Name');
  });

  test('an empty patch changes nothing and answers the current user', async () => {
    const u = await api.newUser('Same Name');
    const res = await api.patch('/api/v1/users/me', {}, u.token);
    expect(res.status).toBe(200);
    expect(res.body.full_name).toBe('Same Name');
  });

  test('a new password needs the right current_password; then only the new one logs in', async () => {
    const u = await api.newUser();
    const missing = await api.patch('/api/v1/users/me', { password: 'brand new password' }, u.token);
    expect(missing.status).toBe(401);
    expect(missing.body).toEqual(errorShape('invalid_current_password'));
    const wrong = await api.patch(
      '/api/v1/users/me',
      { password: 'brand new password', current_password: 'not my password' },
      u.token,
    );
    expect(wrong.status).toBe(401);
    // Neither attempt changed the password.
    expect((await api.post('/api/v1/auth/login', { email: u.email, password: u.password })).status).toBe(200);

    const ok = await api.patch(
      '/api/v1/users/me',
      { password: 'brand new password', current_password: u.password },
      u.token,
    );
    expect(ok.status).toBe(200);
    expect((await api.post('/api/v1/auth/login', { email: u.email, password: u.password })).status).toBe(401);
    expect(
      (await api.post('/api/v1/auth/login', { email: u.email, password: 'brand new password' })).status,
    ).toBe(200);
  });

  test('a failed password change also leaves full_name untouched (all or nothing)', async () => {
    const u = await api.newUser('Keep Me');
    const res = await api.patch(
      '/api/v1/users/me',
      { full_name: 'Changed', password: 'brand new password', current_password: 'wrong one' },
      u.token,
    );
    expect(res.status).toBe(401);
    expect((await api.get('/api/v1/users/me', u.token)).body.full_name).toBe('Keep Me');
  });

  test('422 for a short new password or a blank name', async () => {
    const u = await api.newUser();
    const short = await api.patch(
      '/api/v1/users/me',
      { password: 'short', current_password: u.password },
      u.token,
    );
    expect(short.status).toBe(422);
    expect(short.body).toEqual(errorShape('validation_error'));
    expect((await api.patch('/api/v1/users/me', { full_name: '' }, u.token)).status).toBe(422);
    expect((await api.patch('/api/v1/users/me', { full_name: 42 }, u.token)).status).toBe(422);
  });

  test('is_online, is_active, role and last_seen_at in a PATCH change none of them', async () => {
    const u = await api.newUser('Sneaky');
    const before = (await api.get('/api/v1/users/me', u.token)).body;
    const res = await api.patch(
      '/api/v1/users/me',
      {
        full_name: 'Sneaky Two',
        is_online: true,
        is_active: false,
        role: 'admin',
        last_seen_at: '2030-01-01T00:00:00.000Z',
        email: 'other@example.com',
        id: crypto.randomUUID(),
      },
      u.token,
    );
    // Either refused or accepted with the extra fields ignored; in both cases nothing server-owned moves.
    expect([200, 422]).toContain(res.status);
    const [row] = await server.sql`
      select role, is_active, is_online, last_seen_at, email, id from users where id = ${u.id}`;
    expect(row).toEqual({
      role: 'member',
      is_active: true,
      is_online: false,
      last_seen_at: null,
      email: u.email,
      id: u.id,
    });
    const after = (await api.get('/api/v1/users/me', u.token)).body;
    expect({ ...after, full_name: before.full_name }).toEqual(before);
  });

  test('a PATCH with only server-owned fields changes nothing', async () => {
    const u = await api.newUser();
    const res = await api.patch('/api/v1/users/me', { role: 'admin', is_online: true }, u.token);
    expect([200, 422]).toContain(res.status);
    const me = (await api.get('/api/v1/users/me', u.token)).body;
    expect(me.role).toBe('member');
    expect(me.is_online).toBe(false);
  });
});

describe('GET /api/v1/users/online', () => {
  test('lists online users as UserPublic ordered by full_name, with X-Total-Count and paging', async () => {
    const viewer = await api.newUser('Viewer');
    const names = ['Zed Online', 'Abe Online', 'Moe Online'];
    const ids: string[] = [];
    for (const n of names) ids.push((await api.newUser(n)).id);
    await server.sql`update users set is_online = (id = any(${ids}::uuid[]))`;
    const res = await api.get('/api/v1/users/online', viewer.token);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-total-count')).toBe('3');
    expect(res.body.map((u: { full_name: string }) => u.full_name)).toEqual([
      'Abe Online',
      'Moe Online',
      'Zed Online',
    ]);
    for (const u of res.body) {
      expect(Object.keys(u).sort()).toEqual(['full_name', 'id', 'is_online', 'last_seen_at', 'role']);
    }
    const page = await api.get('/api/v1/users/online?limit=1&offset=1', viewer.token);
    expect(page.body.map((u: { full_name: string }) => u.full_name)).toEqual(['Moe Online']);
    expect(page.headers.get('x-total-count')).toBe('3');
    await server.sql`update users set is_online = false`;
  });

  test('401 without a token; 422 for a limit out of range', async () => {
    expect((await api.get('/api/v1/users/online')).status).toBe(401);
    const u = await api.newUser();
    for (const q of ['limit=0', 'limit=501', 'offset=-1', 'limit=abc']) {
      const res = await api.get(`/api/v1/users/online?${q}`, u.token);
      expect(res.status).toBe(422);
      expect(res.body).toEqual(errorShape('validation_error'));
    }
  });
});
