import { describe, expect, setDefaultTimeout, test } from 'bun:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiClient } from '../helpers/api';
import { createTestDatabase } from '../helpers/db';
import { REAL_DB, TEST_REDIS_URL } from '../helpers/env';
import { spawnServer } from '../helpers/process';
import { startTestServer, testEnv } from '../helpers/server';
import { startTcpProxy } from '../helpers/tcp-proxy';
import { waitFor } from '../helpers/wait';

setDefaultTimeout(60_000);
const server = await startTestServer();
const api = apiClient(server.url);

describe('OpenAPI', () => {
  test('GET /swagger serves Swagger UI', async () => {
    const res = await api.get('/swagger');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(String(res.body).toLowerCase()).toContain('swagger');
  });

  test('GET /swagger/json documents every contract route with its schemas and error body', async () => {
    const res = await api.get('/swagger/json');
    expect(res.status).toBe(200);
    const doc = res.body as {
      openapi: string;
      paths: Record<string, Record<string, { requestBody?: unknown; responses?: Record<string, unknown> }>>;
    };
    expect(doc.openapi).toMatch(/^3\./);
    const expected: [string, string, string[]][] = [
      ['/api/v1/auth/register', 'post', ['201', '409', '422']],
      ['/api/v1/auth/login', 'post', ['200', '401', '429']],
      ['/api/v1/users/me', 'get', ['200', '401']],
      ['/api/v1/users/me', 'patch', ['200', '401', '422']],
      ['/api/v1/users/online', 'get', ['200', '401']],
      ['/api/v1/tasks', 'post', ['201', '401', '422']],
      ['/api/v1/tasks', 'get', ['200', '401', '422']],
      ['/api/v1/tasks/{id}', 'get', ['200', '401', '404']],
      ['/api/v1/tasks/{id}', 'patch', ['200', '404', '422']],
      ['/api/v1/tasks/{id}', 'delete', ['204', '403', '404']],
      ['/health', 'get', ['200']],
      ['/ready', 'get', ['200', '503']],
    ];
    for (const [path, method, statuses] of expected) {
      const op = doc.paths[path]?.[method] ?? doc.paths[`${path}/`]?.[method];
      expect(op, `${method.toUpperCase()} ${path}`).toBeDefined();
      for (const s of statuses) expect(op!.responses?.[s], `${method} ${path} ${s}`).toBeDefined();
      if (method === 'post' || method === 'patch') expect(op!.requestBody).toBeDefined();
    }
    const text = JSON.stringify(doc);
    for (const schema of ['UserPrivate', 'UserPublic', 'Task', 'Token', 'Error'])
      expect(text).toContain(schema);
  });
});

describe('readiness', () => {
  test('/ready is 200 with each dependency ok', async () => {
    const res = await api.get('/ready');
    expect(res.status).toBe(200);
    expect(res.body.checks.database).toBe('ok');
    if (server.config.redisUrl) expect(res.body.checks.redis).toBe('ok');
  });

  test.skipIf(!TEST_REDIS_URL || !REAL_DB)(
    'Redis unreachable: /ready stays 200 (REST still serves) and reports redis as degraded, within a second',
    async () => {
      const redisUrl = new URL(TEST_REDIS_URL!);
      const proxy = startTcpProxy({ host: redisUrl.hostname, port: Number(redisUrl.port || 6379) });
      const s = await startTestServer({ env: { REDIS_URL: proxy.url(TEST_REDIS_URL!) } });
      const a = apiClient(s.url);
      const user = await a.newUser('Ready Rita');
      expect((await a.get('/ready')).body.checks).toEqual({ database: 'ok', redis: 'ok' });
      for (const mode of ['refuse', 'accept-and-close'] as const) {
        proxy.cut(mode);
        const degraded = await waitFor(
          async () => {
            const started = performance.now();
            const r = await a.get('/ready');
            // A load balancer's probe must get an answer in time, whatever Redis does.
            expect(performance.now() - started).toBeLessThan(1_000);
            return r.body.checks?.redis === 'degraded' ? r : undefined;
          },
          { timeoutMs: 5_000, what: `/ready to report redis degraded (${mode})` },
        );
        expect(degraded.status).toBe(200);
        expect(degraded.body).toEqual({ status: 'ready', checks: { database: 'ok', redis: 'degraded' } });
        // The REST API keeps serving while only Redis is down.
        expect((await a.post('/api/v1/tasks', { title: `while redis is ${mode}` }, user.token)).status).toBe(
          201,
        );
        proxy.restore();
        await waitFor(async () => (await a.get('/ready')).body.checks?.redis === 'ok', {
          timeoutMs: 15_000,
          what: '/ready to see Redis again',
        });
      }
    },
  );
});

describe('structured request logs', () => {
  test('one JSON line per request with request id, method, path, status and duration', async () => {
    const db = await createTestDatabase();
    // Embedded mode: a data directory of its own, never the developer's ./.hive.
    const dataDir = await mkdtemp(join(tmpdir(), 'hive-logs-'));
    const proc = await spawnServer({ ...testEnv(db), HIVE_DATA_DIR: dataDir, LOG_LEVEL: 'info' });
    try {
      const a = apiClient(proc.url);
      await a.request('GET', '/api/v1/tasks', { headers: { 'x-request-id': 'log-probe-1' } });
      const line = await waitFor(
        () =>
          proc
            .output()
            .split('\n')
            .find((l) => l.includes('"log-probe-1"')),
        { what: 'the request log line' },
      );
      const rec = JSON.parse(line);
      expect(rec).toMatchObject({
        level: 'info',
        msg: 'request',
        request_id: 'log-probe-1',
        method: 'GET',
        path: '/api/v1/tasks',
        status: 401,
      });
      expect(rec.duration_ms).toEqual(expect.any(Number));
      expect(Date.parse(rec.time)).not.toBeNaN();
      // Every stdout line is JSON (log shippers parse them all).
      const lines = proc
        .output()
        .split('\n')
        .filter((l) => l.trim().startsWith('{'));
      for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
      // Secrets never reach the log.
      await a.post('/api/v1/auth/login', { email: 'who@example.com', password: 'super-secret-pw-123' });
      await waitFor(() => proc.output().includes('/api/v1/auth/login'), { what: 'the login log line' });
      expect(proc.output()).not.toContain('super-secret-pw-123');
    } finally {
      await proc.stop();
      await db.drop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
