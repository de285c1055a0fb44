import { describe, expect, setDefaultTimeout, test } from 'bun:test';
import { DEV_JWT_SECRET } from '../../src/config';
import { apiClient } from '../helpers/api';
import { accessClaims, makeJwt } from '../helpers/jwt';
import { startTestServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';

// Logins cost an argon2id verify each; on a loaded machine a test with several exceeds 5 s.
setDefaultTimeout(30_000);

const server = await startTestServer();
const api = apiClient(server.url);

const errorShape = (code: string) => ({
  error: expect.objectContaining({ code, message: expect.any(String) }),
});
const uniqueEmail = (tag: string) => `${tag}.${crypto.randomUUID().slice(0, 8)}@example.com`;

describe('POST /api/v1/auth/register', () => {
  test('creates a member and answers 201 with UserPrivate, never the password hash', async () => {
    const email = uniqueEmail('Reg');
    const res = await api.post('/api/v1/auth/register', {
      email,
      password: 'long enough pw',
      full_name: 'Rita Register',
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(String),
      email: email.toLowerCase(),
      full_name: 'Rita Register',
      role: 'member',
      is_active: true,
      is_online: false,
      last_seen_at: null,
      created_at: expect.any(String),
    });
    expect(new Date(res.body.created_at).toISOString()).toBe(res.body.created_at);
    expect(JSON.stringify(res.body)).not.toContain('argon2');
  });

  test('409 for an email already taken, whatever its case', async () => {
    const email = uniqueEmail('dup');
    const first = await api.post('/api/v1/auth/register', { email, password: 'password-1', full_name: 'A' });
    expect(first.status).toBe(201);
    const again = await api.post('/api/v1/auth/register', {
      email: email.toUpperCase(),
      password: 'password-2',
      full_name: 'B',
    });
    expect(again.status).toBe(409);
    expect(again.body).toEqual(errorShape('email_taken'));
  });

  test('concurrent registrations of one email: exactly one wins, the rest get 409', async () => {
    const email = uniqueEmail('race');
    const results = await Promise.all(
      [0, 1, 2, 3].map((i) =>
        api.post('/api/v1/auth/register', {
          email: i % 2 ? email : email.toUpperCase(),
          password: 'password-1',
          full_name: 'R',
        }),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409]);
  });

  test.each([
    ['short password', { email: 'a@example.com', password: 'short', full_name: 'A' }],
    ['bad email', { email: 'not-an-email', password: 'long enough pw', full_name: 'A' }],
    ['missing full_name', { email: 'b@example.com', password: 'long enough pw' }],
    ['blank full_name', { email: 'c@example.com', password: 'long enough pw', full_name: '   ' }],
    ['password not a string', { email: 'd@example.com', password: 12345678, full_name: 'A' }],
  ])('422 validation_error for %s', async (_label, body) => {
    const res = await api.post('/api/v1/auth/register', body);
    expect(res.status).toBe(422);
    expect(res.body).toEqual(errorShape('validation_error'));
    expect(Array.isArray(res.body.error.details)).toBe(true);
  });
});

describe('POST /api/v1/auth/login', () => {
  test('JSON {email, password} returns a bearer token that opens /users/me', async () => {
    const u = await api.newUser('Logan Login');
    const res = await api.post('/api/v1/auth/login', { email: u.email.toUpperCase(), password: u.password });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ access_token: expect.any(String), token_type: 'bearer', expires_in: 3600 });
    const me = await api.get('/api/v1/users/me', res.body.access_token);
    expect(me.status).toBe(200);
    expect(me.body.id).toBe(u.id);
  });

  test('the OAuth2 password form (username, password) works too', async () => {
    const u = await api.newUser();
    const form = new URLSearchParams({ grant_type: 'password', username: u.email, password: u.password });
    const res = await api.request('POST', '/api/v1/auth/login', {
      raw: form.toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(200);
    expect(res.body.token_type).toBe('bearer');
    expect((await api.get('/api/v1/users/me', res.body.access_token)).body.email).toBe(u.email);
  });

  test('unknown email and wrong password get the same 401', async () => {
    const u = await api.newUser();
    const wrongPassword = await api.post('/api/v1/auth/login', {
      email: u.email,
      password: 'wrong password',
    });
    const unknownEmail = await api.post('/api/v1/auth/login', {
      email: uniqueEmail('nobody'),
      password: 'wrong password',
    });
    expect(wrongPassword.status).toBe(401);
    expect(unknownEmail.status).toBe(401);
    expect(wrongPassword.body).toEqual(unknownEmail.body);
    expect(wrongPassword.body).toEqual(errorShape('invalid_credentials'));
  });

  test('a deactivated account cannot log in (same 401)', async () => {
    const u = await api.newUser();
    await server.sql`update users set is_active = false where id = ${u.id}`;
    const res = await api.post('/api/v1/auth/login', { email: u.email, password: u.password });
    expect(res.status).toBe(401);
    expect(res.body).toEqual(errorShape('invalid_credentials'));
  });

  test('422 when neither email nor username is sent, or the password is missing', async () => {
    expect((await api.post('/api/v1/auth/login', { password: 'whatever1' })).status).toBe(422);
    const noPassword = await api.post('/api/v1/auth/login', { email: 'a@example.com' });
    expect(noPassword.status).toBe(422);
    expect(noPassword.body).toEqual(errorShape('validation_error'));
  });
});

describe('a burst of logins', () => {
  test('is answered promptly with 401/503 (never a pile-up or a 500), and logins work right after', async () => {
    const u = await api.newUser();
    // More attempts than the password gate runs and queues at once (cores × 9).
    const burst = (navigator.hardwareConcurrency || 1) * 9 + 30;
    const results = await Promise.all(
      Array.from({ length: burst }, () =>
        api.post('/api/v1/auth/login', { email: u.email, password: 'wrong password' }),
      ),
    );
    const statuses = new Set(results.map((r) => r.status));
    expect([...statuses].every((s) => s === 401 || s === 503)).toBe(true);
    const busy = results.filter((r) => r.status === 503);
    expect(busy.length).toBeGreaterThan(0);
    for (const r of busy) {
      expect(r.body).toEqual(errorShape('service_unavailable'));
      expect(r.headers.get('retry-after')).toBe('1');
    }
    expect((await api.post('/api/v1/auth/login', { email: u.email, password: u.password })).status).toBe(200);
  });
});

describe('authentication failures on a protected route', () => {
  let userId: string;
  test('setup', async () => {
    userId = (await api.newUser()).id;
  });

  const cases: [string, () => Record<string, string>][] = [
    ['no Authorization header', () => ({})],
    ['a malformed header (not Bearer)', () => ({ authorization: 'Token abc' })],
    ['a Bearer header without a token', () => ({ authorization: 'Bearer' })],
    ['a token that is not a JWT', () => ({ authorization: 'Bearer not.a.jwt' })],
    [
      'a token signed with another secret',
      () => ({
        authorization: `Bearer ${makeJwt(accessClaims(userId), { secret: 'another-secret'.repeat(4) })}`,
      }),
    ],
    [
      'an alg:none token',
      () => ({ authorization: `Bearer ${makeJwt(accessClaims(userId), { alg: 'none' })}` }),
    ],
    [
      'a correctly signed token that has expired',
      () => ({
        authorization: `Bearer ${makeJwt(accessClaims(userId, { exp: Math.floor(Date.now() / 1000) - 10 }), { secret: DEV_JWT_SECRET })}`,
      }),
    ],
    [
      'a correctly signed token without typ access',
      () => ({
        authorization: `Bearer ${makeJwt(accessClaims(userId, { typ: 'refresh' }), { secret: DEV_JWT_SECRET })}`,
      }),
    ],
  ];
  test.each(cases)('401 in the contract format for %s', async (_label, headers) => {
    for (const path of ['/api/v1/users/me', '/api/v1/tasks']) {
      const res = await api.request('GET', path, { headers: headers() });
      expect(res.status).toBe(401);
      expect(res.body).toEqual({
        error: { code: expect.stringMatching(/^[a-z_]+$/), message: expect.any(String) },
      });
    }
  });

  test('a correctly signed token for our secret is accepted (the forgeries above differ only in what they test)', async () => {
    const token = makeJwt(accessClaims(userId), { secret: DEV_JWT_SECRET });
    expect((await api.get('/api/v1/users/me', token)).status).toBe(200);
  });

  test('a token for a user that no longer exists is refused with 401, not 404 or 500', async () => {
    const u = await api.newUser();
    await server.sql`delete from users where id = ${u.id}`;
    const res = await api.get('/api/v1/users/me', u.token);
    expect(res.status).toBe(401);
  });
});

describe('token expiry and the login rate limit (own server)', async () => {
  // 2 s, not 1: `exp` is in whole seconds after a whole-second `iat`, so a 1 s token signed late
  // in a second may have only milliseconds left, and the first request found it expired.
  const short = await startTestServer({ env: { ACCESS_TOKEN_TTL_S: '2', LOGIN_RATE_LIMIT_PER_MINUTE: '3' } });
  const shortApi = apiClient(short.url);

  test('a token is refused once ACCESS_TOKEN_TTL_S has passed', async () => {
    const u = await shortApi.newUser();
    expect((await shortApi.get('/api/v1/users/me', u.token)).status).toBe(200);
    const refused = await waitFor(
      async () => {
        const res = await shortApi.get('/api/v1/users/me', u.token);
        return res.status === 401 ? res : undefined;
      },
      { timeoutMs: 6_000, intervalMs: 100, what: 'the 2 s token to expire' },
    );
    expect(refused.body).toEqual(errorShape('invalid_token'));
  });

  test('429 with Retry-After past the per-minute limit for one IP and email, other emails unaffected', async () => {
    const u = await shortApi.newUser(); // newUser logs in once: 1 of 3
    for (let i = 0; i < 2; i++) {
      const res = await shortApi.post('/api/v1/auth/login', { email: u.email, password: 'wrong password' });
      expect(res.status).toBe(401);
    }
    const limited = await shortApi.post('/api/v1/auth/login', { email: u.email, password: u.password });
    expect(limited.status).toBe(429);
    expect(limited.body).toEqual(errorShape('rate_limited'));
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // The limit is per email: the same case-folded email counts, another account does not.
    expect(
      (await shortApi.post('/api/v1/auth/login', { email: u.email.toUpperCase(), password: u.password }))
        .status,
    ).toBe(429);
    const other = await shortApi.newUser();
    expect(
      (await shortApi.post('/api/v1/auth/login', { email: other.email, password: other.password })).status,
    ).toBe(200);
  });
});
