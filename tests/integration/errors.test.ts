import { beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { connect } from 'node:net';
import { apiClient } from '../helpers/api';
import { startTestServer } from '../helpers/server';

// Logins cost an argon2id verify each; on a loaded machine a test with several exceeds 5 s.
setDefaultTimeout(30_000);

/**
 * Whatever a client sends, the answer is a 4xx in the contract's error body: never a 500,
 * never a stack trace, never HTML.
 */
const server = await startTestServer();
const api = apiClient(server.url);
let token: string;
beforeAll(async () => {
  token = (await api.newUser()).token;
});

const MiB = 1024 * 1024;

function expectContractError(
  res: { status: number; headers: Headers; body: unknown },
  status: number,
  code?: string,
) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toContain('application/json');
  const body = res.body as { error: { code: string; message: string } };
  expect(body).toEqual({
    error: expect.objectContaining({
      code: code ?? expect.stringMatching(/^[a-z_]+$/),
      message: expect.any(String),
    }),
  });
  const text = JSON.stringify(body);
  expect(text).not.toMatch(/\bat .*\.(ts|js):\d+|node_modules|stack/i);
}

/** Raw HTTP/1.1 over a socket, for requests fetch will not send (chunked bodies, lying lengths). */
function rawHttp(port: number, payload: string | Uint8Array[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      if (typeof payload === 'string') socket.write(payload);
      else for (const chunk of payload) socket.write(chunk);
    });
    let out = '';
    socket.on('data', (d) => {
      out += d.toString('latin1');
    });
    socket.on('end', () => resolve(out));
    socket.on('close', () => resolve(out));
    socket.on('error', (err) => (out ? resolve(out) : reject(err)));
    socket.setTimeout(10_000, () => {
      socket.destroy();
      resolve(out);
    });
  });
}

describe('malformed and mistyped bodies', () => {
  test.each([
    ['truncated JSON', '{"title": "x"'],
    ['not JSON at all', 'title=x'],
    ['a trailing comma', '{"title": "x",}'],
  ])('400 invalid_body for %s', async (_label, raw) => {
    const res = await api.request('POST', '/api/v1/tasks', {
      token,
      raw,
      headers: { 'content-type': 'application/json' },
    });
    expectContractError(res, 400, 'invalid_body');
  });

  test('malformed JSON on the public register route is 400 too', async () => {
    const res = await api.request('POST', '/api/v1/auth/register', {
      raw: '{"email": ',
      headers: { 'content-type': 'application/json' },
    });
    expectContractError(res, 400, 'invalid_body');
  });

  test.each([
    ['a JSON array', '[]'],
    ['a JSON string', '"hello"'],
    ['JSON null', 'null'],
    ['a number', '42'],
    ['an empty body', ''],
  ])('400 or 422 (never 500) for %s as a task', async (_label, raw) => {
    const res = await api.request('POST', '/api/v1/tasks', {
      token,
      raw,
      headers: { 'content-type': 'application/json' },
    });
    expect([400, 422]).toContain(res.status);
    expectContractError(res, res.status);
  });

  test('wrong types are 422 with details naming the field', async () => {
    const res = await api.post('/api/v1/tasks', { title: 42, priority: ['high'] }, token);
    expectContractError(res, 422, 'validation_error');
    const details = (res.body as { error: { details: { path: string }[] } }).error.details;
    expect(details.map((d) => d.path).join(' ')).toContain('title');
  });

  test('a form body where JSON is expected is refused with 415', async () => {
    const res = await api.request('POST', '/api/v1/tasks', {
      token,
      raw: 'title=hello',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    // A form is what any site's HTML form can send cross-origin without a preflight.
    expectContractError(res, 415, 'unsupported_media_type');
  });

  test('an unusual content type is refused in the contract format', async () => {
    const res = await api.request('POST', '/api/v1/tasks', {
      token,
      raw: '<task/>',
      headers: { 'content-type': 'application/xml' },
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expectContractError(res, res.status);
  });

  test('__proto__ keys do not pollute anything', async () => {
    const res = await api.request('POST', '/api/v1/tasks', {
      token,
      raw: '{"title": "proto", "__proto__": {"status": "completed"}, "constructor": {"prototype": {"x": 1}}}',
      headers: { 'content-type': 'application/json' },
    });
    expect([201, 422]).toContain(res.status);
    if (res.status === 201) expect((res.body as { status: string }).status).toBe('todo');
    expect(({} as Record<string, unknown>).status).toBeUndefined();
  });

  test('deeply nested JSON is refused, not a crash', async () => {
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    const res = await api.request('POST', '/api/v1/tasks', {
      token,
      raw: `{"title": "x", "description": ${deep}}`,
      headers: { 'content-type': 'application/json' },
    });
    expect([400, 422]).toContain(res.status);
  });

  test('NUL bytes in a title are refused with 422, not a database 500', async () => {
    const res = await api.post('/api/v1/tasks', { title: 'a\u0000b' }, token);
    expectContractError(res, 422, 'validation_error');
    const reg = await api.post('/api/v1/auth/register', {
      email: 'nul@example.com',
      password: 'long enough password',
      full_name: 'N\u0000L',
    });
    expectContractError(reg, 422, 'validation_error');
  });
});

describe('bodies over 1 MiB', () => {
  test('413 payload_too_large with Content-Length', async () => {
    const raw = JSON.stringify({ title: 'big', description: 'x'.repeat(MiB + 10) });
    const res = await api.request('POST', '/api/v1/tasks', {
      token,
      raw,
      headers: { 'content-type': 'application/json' },
    });
    expectContractError(res, 413, 'payload_too_large');
  });

  test('413 on a public route too (the limit is checked before auth and parsing)', async () => {
    const res = await api.request('POST', '/api/v1/auth/login', {
      raw: 'x'.repeat(MiB + 1),
      headers: { 'content-type': 'application/json' },
    });
    expectContractError(res, 413, 'payload_too_large');
  });

  /** POST a chunked body (no Content-Length) of `size` bytes over a raw socket; the reply's status and text. */
  async function postChunked(size: number) {
    const url = new URL(server.url);
    const body = `{"title": "chunked", "description": "${'x'.repeat(size)}"}`;
    const parts = [
      `POST /api/v1/tasks HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`,
    ];
    const step = 256 * 1024;
    for (let i = 0; i < body.length; i += step) {
      const piece = body.slice(i, i + step);
      parts.push(`${piece.length.toString(16)}\r\n${piece}\r\n`);
    }
    parts.push('0\r\n\r\n');
    const reply = await rawHttp(
      Number(url.port),
      parts.map((p) => new TextEncoder().encode(p)),
    );
    return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(reply)?.[1]), reply };
  }

  test.each([
    ['just over the limit', MiB + 100],
    ['several times the limit', 6 * MiB],
  ])('413 for a chunked body without Content-Length %s', async (_label, size) => {
    const { status, reply } = await postChunked(size);
    expect(status).toBe(413);
    expect(reply).toContain('"payload_too_large"');
  });

  test('a small chunked body is parsed as usual', async () => {
    const { status, reply } = await postChunked(100);
    expect(status).toBe(201);
    expect(reply).toContain('"title":"chunked"');
  });

  test('a body just under the limit is fine', async () => {
    const res = await api.post('/api/v1/tasks', { title: 'under', description: 'y'.repeat(9_000) }, token);
    expect(res.status).toBe(201);
  });
});

describe('routes and methods', () => {
  test('unknown routes are 404 in the contract format', async () => {
    for (const path of ['/nope', '/api/v1/nope', '/api/v2/tasks', '/api/v1/tasks/a/b/c']) {
      expectContractError(await api.get(path, token), 404, 'not_found');
    }
  });

  test('a known path with an unsupported method is 404 or 405 in the contract format', async () => {
    const res = await api.request('PUT', '/api/v1/users/me', { token, body: {} });
    expect([404, 405]).toContain(res.status);
    expectContractError(res, res.status);
  });

  test('a bad percent-encoding in the path or query is a 4xx, not a 500', async () => {
    const path = await api.get('/api/v1/tasks/%E0%A4%A', token);
    expect(path.status).toBeGreaterThanOrEqual(400);
    expect(path.status).toBeLessThan(500);
    // In a query it is taken literally (a category nobody uses): an empty list, not an error.
    const query = await api.get('/api/v1/tasks?category=%E0%A4%A', token);
    expect(query.status).toBeLessThan(500);
  });

  test('every response carries a request id, and a sane incoming one is echoed', async () => {
    const res = await api.request('GET', '/health', { headers: { 'x-request-id': 'trace-123' } });
    expect(res.headers.get('x-request-id')).toBe('trace-123');
    const fresh = await api.get('/api/v1/nope');
    expect(fresh.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const hostile = await api.request('GET', '/health', { headers: { 'x-request-id': 'a b<script>' } });
    expect(hostile.headers.get('x-request-id')).not.toContain('<');
  });
});
