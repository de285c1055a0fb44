import { describe, expect, setDefaultTimeout, test } from 'bun:test';
import { networkInterfaces } from 'node:os';
import { apiClient } from '../helpers/api';
import { REAL_STACK, TEST_REDIS_URL } from '../helpers/env';
import { startTestServer } from '../helpers/server';
import { startTcpProxy } from '../helpers/tcp-proxy';
import { waitFor } from '../helpers/wait';
import { openSocket } from '../helpers/ws';

setDefaultTimeout(30_000);

const server = await startTestServer();
const api = apiClient(server.url);

/** One scrape, parsed: `name{labels}` → value (every sample line of the text format). */
async function scrape(base = server.url, headers: Record<string, string> = {}): Promise<Map<string, number>> {
  const res = await fetch(`${base}/metrics`, { headers });
  expect(res.status).toBe(200);
  const samples = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

const value = (samples: Map<string, number>, key: string) => samples.get(key) ?? 0;

describe('GET /metrics (Prometheus text format)', () => {
  test('is served with the Prometheus content type, process metrics included', async () => {
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    const text = await res.text();
    expect(text).toContain('# TYPE hive_http_requests_total counter');
    expect(text).toContain('# TYPE hive_http_request_duration_seconds histogram');
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
  });

  test("shows the socket writes waiting in the hub's queues, by queue (none in quiet time)", async () => {
    const samples = await waitFor(
      async () => {
        const s = await scrape();
        return s.has('hive_websocket_queued_writes{queue="frames"}') ? s : undefined;
      },
      { what: 'the queued-writes gauge' },
    );
    expect(samples.get('hive_websocket_queued_writes{queue="frames"}')).toBe(0);
    expect(samples.get('hive_websocket_queued_writes{queue="broadcasts"}')).toBe(0);
  });

  test('counts open file descriptors, and leaves out the metrics that walk the heap at each scrape', async () => {
    const before = value(await scrape(), 'process_open_fds');
    expect(before).toBeGreaterThan(0);
    const u = await api.newUser('Fd Counter');
    const sockets = await Promise.all(Array.from({ length: 5 }, () => openSocket(server.wsUrl, u.token)));
    try {
      // Each open socket is at least one descriptor (the server's end; the client's too when in-process).
      expect(value(await scrape(), 'process_open_fds') - before).toBeGreaterThanOrEqual(5);
    } finally {
      await Promise.all(sockets.map((s) => s.close()));
    }
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \d+/m);
    // Bun answers v8.getHeapSpaceStatistics() by walking the heap: ~150 ms per scrape at 2M objects.
    expect(text).not.toContain('nodejs_heap_space_size');
  });

  test('counts requests by route pattern (not raw path) and status, with latencies', async () => {
    const u = await api.newUser('Metered');
    const created = await api.post('/api/v1/tasks', { title: 'counted' }, u.token);
    const route = 'method="GET",route="/api/v1/tasks/:id"';
    const before = await scrape();
    for (let i = 0; i < 3; i++)
      expect((await api.get(`/api/v1/tasks/${created.body.id}`, u.token)).status).toBe(200);
    expect((await api.get(`/api/v1/tasks/${crypto.randomUUID()}`, u.token)).status).toBe(404);
    const after = await scrape();
    const ok = `hive_http_requests_total{${route},status="200"}`;
    expect(value(after, ok) - value(before, ok)).toBe(3);
    const missing = `hive_http_requests_total{${route},status="404"}`;
    expect(value(after, missing) - value(before, missing)).toBe(1);
    const count = `hive_http_request_duration_seconds_count{${route},status="200"}`;
    expect(value(after, count) - value(before, count)).toBe(3);
    const inf = `hive_http_request_duration_seconds_bucket{le="+Inf",${route},status="200"}`;
    expect(value(after, inf) - value(before, inf)).toBe(3);
    // No raw ids in any label.
    expect([...after.keys()].some((k) => k.includes(created.body.id))).toBe(false);
  });

  test('shows open WebSockets and presence transitions as they happen', async () => {
    const before = await scrape();
    const u = await api.newUser('Socket Sue');
    const socket = await openSocket(server.wsUrl, u.token);
    const during = await waitFor(
      async () => {
        const s = await scrape();
        return value(s, 'hive_presence_transitions_total{to="online"}') >
          value(before, 'hive_presence_transitions_total{to="online"}')
          ? s
          : undefined;
      },
      { what: 'an online transition counted' },
    );
    expect(value(during, 'hive_websocket_connections') - value(before, 'hive_websocket_connections')).toBe(1);
    expect(value(during, 'hive_presence_write_duration_seconds_count')).toBeGreaterThan(
      value(before, 'hive_presence_write_duration_seconds_count'),
    );
    await socket.close();
    await waitFor(
      async () =>
        value(await scrape(), 'hive_presence_transitions_total{to="offline"}') >
        value(before, 'hive_presence_transitions_total{to="offline"}'),
      { what: 'an offline transition counted' },
    );
    expect(value(await scrape(), 'hive_websocket_connections')).toBe(
      value(before, 'hive_websocket_connections'),
    );
  });

  test('counts summary cache misses and hits', async () => {
    const u = await api.newUser('Cache Carol');
    await api.post('/api/v1/tasks', { title: 'moves the version' }, u.token);
    const miss = 'hive_summary_cache_requests_total{result="miss"}';
    const hit = 'hive_summary_cache_requests_total{result="hit"}';
    // The write invalidates the cache: the next read loads (a miss), the ones after hit.
    await waitFor(
      async () => {
        const before = await scrape();
        await api.get('/api/v1/dashboard/summary');
        const after = await scrape();
        return value(after, miss) > value(before, miss);
      },
      { what: 'a summary cache miss counted' },
    );
    // Then reads of an unchanged summary are hits (retried: a late invalidation may cost one more miss).
    await waitFor(
      async () => {
        const before = await scrape();
        for (let i = 0; i < 3; i++) await api.get('/api/v1/dashboard/summary');
        return value(await scrape(), hit) - value(before, hit) >= 3;
      },
      { what: 'three summary cache hits counted' },
    );
  });

  test('reports the database, the password gate and (with Redis) Redis', async () => {
    const s = await scrape();
    expect(value(s, 'hive_db_up')).toBe(1);
    expect(value(s, 'hive_db_pool_max')).toBeGreaterThanOrEqual(1);
    expect(s.has('hive_password_gate_jobs{state="running"}')).toBe(true);
    expect(s.has('hive_password_gate_jobs{state="waiting"}')).toBe(true);
    if (REAL_STACK) {
      for (const connection of ['command', 'presence', 'subscriber'])
        expect(value(s, `hive_redis_up{connection="${connection}"}`)).toBe(1);
      expect([...s.keys()].some((k) => k.startsWith('hive_db_pool_connections{'))).toBe(true);
    }
  });
});

describe.skipIf(!REAL_STACK)('hive_redis_up through a Redis outage', () => {
  test('every connection (command, presence, subscriber) reads 0 while Redis is cut, 1 once it is back', async () => {
    const target = new URL(TEST_REDIS_URL!);
    const proxy = startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    const cut = await startTestServer({ env: { REDIS_URL: proxy.url(TEST_REDIS_URL!) } });
    const roles = ['command', 'presence', 'subscriber'];
    const readings = async () => {
      const s = await scrape(cut.url);
      return roles.map((connection) => s.get(`hive_redis_up{connection="${connection}"}`));
    };
    expect(await readings()).toEqual([1, 1, 1]);
    proxy.cut('refuse');
    await waitFor(async () => (await readings()).every((v) => v === 0), { what: 'every connection down' });
    proxy.restore();
    await waitFor(async () => (await readings()).every((v) => v === 1), {
      what: 'every connection back',
      timeoutMs: 10_000,
    });
  });
});

describe('who may read /metrics', () => {
  test('with METRICS_TOKEN set, only its bearer: 401 without it or with a wrong one', async () => {
    const secret = 'metrics-secret-0123456789';
    const guarded = await startTestServer({ env: { METRICS_TOKEN: secret } });
    const none = await fetch(`${guarded.url}/metrics`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    expect((await none.json()).error.code).toBe('unauthorized');
    const wrong = await fetch(`${guarded.url}/metrics`, {
      headers: { authorization: 'Bearer wrong-secret-0123456789' },
    });
    expect(wrong.status).toBe(401);
    await scrape(guarded.url, { authorization: `Bearer ${secret}` });
  });

  const external = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;

  test.skipIf(!external)('without METRICS_TOKEN, a client that is not on loopback gets 403', async () => {
    const open = await startTestServer({ env: { HOST: '0.0.0.0' } });
    const res = await fetch(`http://${external}:${open.port}/metrics`);
    expect(res.status).toBe(403);
    expect((await res.json()).error.code).toBe('forbidden');
    // The same server still serves its API there, and metrics to loopback.
    expect((await fetch(`http://${external}:${open.port}/health`)).status).toBe(200);
    await scrape(`http://127.0.0.1:${open.port}`);
  });
});
