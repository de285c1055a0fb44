import { describe, expect, setDefaultTimeout, test } from 'bun:test';
import { apiClient } from '../helpers/api';
import { createTestDatabase } from '../helpers/db';
import { REAL_DB, TEST_DATABASE_URL } from '../helpers/env';
import { startTestServer } from '../helpers/server';
import { startTcpProxy } from '../helpers/tcp-proxy';
import { waitFor } from '../helpers/wait';

/**
 * PostgreSQL going away and coming back, simulated by cutting a TCP proxy between the
 * server and the shared PostgreSQL (which itself stays up for everyone else). Meanwhile
 * requests answer 503 in the contract format; afterwards the server recovers by itself.
 */
setDefaultTimeout(60_000);

/** The proxied server, set up at file level (where its afterAll hooks belong), real mode only. */
async function setUp() {
  const target = new URL(TEST_DATABASE_URL!);
  const proxy = startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  const db = await createTestDatabase();
  const server = await startTestServer({ db: { url: proxy.url(db.url!), drop: () => db.drop() } });
  const api = apiClient(server.url);
  const user = await api.newUser('Outage Olly');
  const task = (await api.post('/api/v1/tasks', { title: 'before the outage' }, user.token)).body as {
    id: string;
  };
  return { proxy, api, user, task };
}
// bun evaluates a skipped describe's body too: there is no PostgreSQL to proxy in the embedded run.
const ctx = REAL_DB ? await setUp() : undefined;

describe.skipIf(!ctx)('PostgreSQL outage', () => {
  const { proxy, api, user, task } = ctx ?? ({} as NonNullable<typeof ctx>);

  const unavailable = {
    error: expect.objectContaining({ code: 'service_unavailable', message: expect.any(String) }),
  };

  test('while the database is unreachable: 503 in the contract format, quickly, never 500', async () => {
    proxy.cut();
    const started = performance.now();
    const requests = await Promise.all([
      api.get('/api/v1/tasks', user.token),
      api.get(`/api/v1/tasks/${task.id}`, user.token),
      api.post('/api/v1/tasks', { title: 'during the outage' }, user.token),
      api.patch(`/api/v1/tasks/${task.id}`, { status: 'completed' }, user.token),
      api.get('/api/v1/users/me', user.token),
      api.post('/api/v1/auth/login', { email: user.email, password: user.password }),
      api.post('/api/v1/auth/register', {
        email: `o.${crypto.randomUUID().slice(0, 6)}@example.com`,
        password: 'long enough pw',
        full_name: 'O',
      }),
    ]);
    for (const res of requests) {
      expect(res.status).toBe(503);
      expect(res.body).toEqual(unavailable);
      expect(JSON.stringify(res.body)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|stack/);
    }
    // connect_timeout bounds the wait; a refused connection fails at once.
    expect(performance.now() - started).toBeLessThan(10_000);

    const ready = await api.get('/ready');
    expect(ready.status).toBe(503);
    expect(ready.body.error.code).toBe('service_unavailable');
    expect(ready.body.error.message).toContain('database');
    expect(ready.body.error.details.failed).toContain('database');
    // Liveness is about the process, not its dependencies.
    expect((await api.get('/health')).status).toBe(200);
  });

  test('once the database is back the server recovers without a restart; nothing half-written', async () => {
    proxy.restore();
    const list = await waitFor(
      async () => {
        const res = await api.get('/api/v1/tasks', user.token);
        return res.status === 200 ? res : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200, what: 'the API to recover' },
    );
    expect(list.body.map((t: { title: string }) => t.title)).toEqual(['before the outage']);
    expect((await api.get('/ready')).status).toBe(200);
    const created = await api.post('/api/v1/tasks', { title: 'after the outage' }, user.token);
    expect(created.status).toBe(201);
    const login = await api.post('/api/v1/auth/login', { email: user.email, password: user.password });
    expect(login.status).toBe(200);
  });

  test('a second outage is handled the same way (the pool is not left broken)', async () => {
    proxy.cut();
    const res = await api.get('/api/v1/tasks', user.token);
    expect(res.status).toBe(503);
    proxy.restore();
    await waitFor(async () => (await api.get('/api/v1/tasks', user.token)).status === 200, {
      timeoutMs: 20_000,
      intervalMs: 200,
      what: 'the API to recover again',
    });
  });
});
