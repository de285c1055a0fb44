import { describe, expect, setDefaultTimeout, test } from 'bun:test';
import { connect } from 'node:net';
import { apiClient } from '../helpers/api';
import { startTestServer } from '../helpers/server';

setDefaultTimeout(30_000);

const server = await startTestServer();
const api = apiClient(server.url);
const user = await api.newUser('Hardy');

function expectError(res: { status: number; body: any }, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.body.error).toMatchObject({ code, message: expect.any(String) });
}

/** One raw HTTP/1.1 exchange (fetch hides TRACE answers' bodies). */
function rawRequest(port: number, head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(head));
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk.toString();
    });
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
    socket.setTimeout(5_000, () => socket.destroy(new Error('no answer')));
  });
}

describe('request bodies are JSON (415 otherwise)', () => {
  const form = new URLSearchParams({ title: 'from a form' });
  const multipart = () => {
    const fd = new FormData();
    fd.set('title', 'from multipart');
    return fd;
  };

  test('POST /tasks refuses form-encoded and multipart bodies and creates nothing', async () => {
    const before = (await api.get('/api/v1/tasks', user.token)).headers.get('x-total-count');
    for (const raw of [form, multipart()]) {
      const res = await api.request('POST', '/api/v1/tasks', { token: user.token, raw });
      expectError(res, 415, 'unsupported_media_type');
    }
    expect((await api.get('/api/v1/tasks', user.token)).headers.get('x-total-count')).toBe(before);
  });

  test('PATCH and register refuse them too', async () => {
    const task = await api.post('/api/v1/tasks', { title: 'json' }, user.token);
    const patch = await api.request('PATCH', `/api/v1/tasks/${task.body.id}`, {
      token: user.token,
      raw: form,
    });
    expectError(patch, 415, 'unsupported_media_type');
    const register = await api.request('POST', '/api/v1/auth/register', {
      raw: new URLSearchParams({ email: 'form@example.com', password: 'long enough', full_name: 'F' }),
    });
    expectError(register, 415, 'unsupported_media_type');
  });

  test('login takes the OAuth2 form (urlencoded) but not multipart', async () => {
    const ok = await api.request('POST', '/api/v1/auth/login', {
      raw: new URLSearchParams({ username: user.email, password: user.password }),
    });
    expect(ok.status).toBe(200);
    const fd = new FormData();
    fd.set('username', user.email);
    fd.set('password', user.password);
    expectError(await api.request('POST', '/api/v1/auth/login', { raw: fd }), 415, 'unsupported_media_type');
  });

  test('application/json with a charset is accepted; text and XML are not', async () => {
    const send = (type: string) =>
      api.request('POST', '/api/v1/tasks', {
        token: user.token,
        raw: JSON.stringify({ title: type }),
        headers: { 'content-type': type },
      });
    expect((await send('application/json; charset=utf-8')).status).toBe(201);
    for (const type of ['text/plain', 'application/xml'])
      expectError(await send(type), 415, 'unsupported_media_type');
  });
});

describe('numbers in the query are plain decimal', () => {
  test.each(['0x10', '1e1', '0b11', '0o7', '+5', ' 5', '5.0', ''])('limit=%p is 422', async (value) => {
    const q = encodeURIComponent(value);
    expectError(await api.get(`/api/v1/tasks?limit=${q}`, user.token), 422, 'validation_error');
    expectError(await api.get(`/api/v1/users/online?limit=${q}`, user.token), 422, 'validation_error');
    expectError(await api.get(`/api/v1/dashboard/trends?days=${q}`), 422, 'validation_error');
  });

  test('plain decimals still work', async () => {
    expect((await api.get('/api/v1/tasks?limit=16&offset=0', user.token)).status).toBe(200);
    expect((await api.get('/api/v1/dashboard/trends?days=7')).body).toHaveLength(7);
  });
});

describe('every answer says nosniff; API answers are not stored by caches', () => {
  test('JSON answers, success and error, carry nosniff and no-store', async () => {
    const answers = [
      await api.get('/api/v1/users/me', user.token),
      await api.get('/api/v1/users/me'),
      await api.get('/api/v1/tasks?limit=0', user.token),
      await api.get('/no/such/route'),
      await api.get('/swagger'),
      await api.get('/swagger/json'),
      await api.get('/health'),
    ];
    for (const res of answers) {
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('cache-control')).toBe('no-store');
    }
  });

  test('the summary keeps its ETag and no-cache; the page keeps its own caching', async () => {
    const summary = await api.get('/api/v1/dashboard/summary');
    expect(summary.headers.get('cache-control')).toBe('no-cache');
    expect(summary.headers.get('etag')).toBeTruthy();
    expect(summary.headers.get('x-content-type-options')).toBe('nosniff');
    const page = await fetch(`${server.url}/`);
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
  });
});

describe('TRACE', () => {
  test('is refused with 405, Allow and an error body', async () => {
    const text = await rawRequest(
      server.port,
      'TRACE /api/v1/tasks HTTP/1.1\r\nHost: x\r\nCookie: secret=1\r\nConnection: close\r\n\r\n',
    );
    expect(text).toStartWith('HTTP/1.1 405');
    expect(text.toLowerCase()).toContain('allow: get, head, post, patch, delete, options');
    const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
    expect(body).toEqual({ error: { code: 'method_not_allowed', message: expect.any(String) } });
    expect(text).not.toContain('secret=1');
  });
});

describe('431', () => {
  test('oversized headers are refused by Bun itself before any hook runs (README: why it has no body)', async () => {
    const res = await fetch(`${server.url}/api/v1/tasks`, { headers: { 'x-filler': 'a'.repeat(64 * 1024) } });
    expect(res.status).toBe(431);
    expect(res.headers.get('x-request-id')).toBeNull(); // no JavaScript saw this request
  });
});

describe('CORS', () => {
  const preflight = (base: string, origin: string, path = '/api/v1/tasks') =>
    fetch(`${base}${path}`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });

  test('by default (no CORS_ORIGINS) no foreign origin is allowed, and OPTIONS is 204, not 404', async () => {
    const res = await preflight(server.url, 'https://elsewhere.example');
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.headers.get('allow')).toContain('POST');
    const get = await fetch(`${server.url}/api/v1/dashboard/summary`, {
      headers: { origin: 'https://elsewhere.example' },
    });
    expect(get.headers.get('access-control-allow-origin')).toBeNull();
  });

  test('with CORS_ORIGINS, a listed origin gets a full preflight and readable answers; others get nothing', async () => {
    const app = 'https://app.example.com';
    const corsServer = await startTestServer({ env: { CORS_ORIGINS: `${app}, http://localhost:5173` } });
    const res = await preflight(corsServer.url, app);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(app);
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-headers')).toContain('authorization');
    expect(res.headers.get('access-control-max-age')).toBeTruthy();
    expect(res.headers.get('vary')).toContain('Origin');
    expect((await preflight(corsServer.url, app, '/no/such/route')).status).toBe(204);

    const corsApi = apiClient(corsServer.url);
    const u = await corsApi.newUser('Cross');
    const list = await corsApi.request('GET', '/api/v1/tasks', { token: u.token, headers: { origin: app } });
    expect(list.status).toBe(200);
    expect(list.headers.get('access-control-allow-origin')).toBe(app);
    expect(list.headers.get('access-control-expose-headers')).toContain('x-total-count');

    const other = await preflight(corsServer.url, 'https://evil.example');
    expect(other.status).toBe(204);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    expect(other.headers.get('access-control-allow-methods')).toBeNull();
  });
});
