import { describe, expect, test } from 'bun:test';
import { apiClient } from '../helpers/api';
import { startTestServer } from '../helpers/server';

const server = await startTestServer();
const api = apiClient(server.url);

describe('operations', () => {
  test('GET /health answers 200 while the process runs', async () => {
    const res = await api.get('/health');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  test('GET /ready reports the database (and Redis when configured) as ok', async () => {
    const res = await api.get('/ready');
    expect(res.status).toBe(200);
    expect(res.body.checks.database).toBe('ok');
    if (server.config.redisUrl) expect(res.body.checks.redis).toBe('ok');
  });

  test('an unknown route answers 404 in the contract error format', async () => {
    const res = await api.get('/api/v1/nope');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'not_found', message: expect.any(String) } });
  });
});
