import { describe, expect, test } from 'bun:test';
import Redis from 'ioredis';
import { silentLogger } from '../../src/lib/logger';
import { createMemoryRateLimiter, createRedisRateLimiter } from '../../src/lib/rate-limit';
import { TEST_REDIS_URL } from '../helpers/env';
import { uniquePrefix } from '../helpers/server';
import { waitFor } from '../helpers/wait';

describe('memory rate limiter', () => {
  test('allows `limit` hits per key per window, then refuses with a retry time', async () => {
    const rl = createMemoryRateLimiter(3, 60_000);
    for (let i = 0; i < 3; i++) expect((await rl.hit('a')).allowed).toBe(true);
    const refused = await rl.hit('a');
    expect(refused.allowed).toBe(false);
    expect(refused.retryAfterS).toBeGreaterThan(0);
    expect(refused.retryAfterS).toBeLessThanOrEqual(60);
    expect((await rl.hit('b')).allowed).toBe(true);
  });

  test('a new window starts after the old one ends', async () => {
    const rl = createMemoryRateLimiter(1, 200);
    expect((await rl.hit('k')).allowed).toBe(true);
    expect((await rl.hit('k')).allowed).toBe(false);
    await waitFor(async () => (await rl.hit('k')).allowed, { timeoutMs: 2_000, what: 'the window to reset' });
  });
});

describe.skipIf(!TEST_REDIS_URL)('redis rate limiter', () => {
  test('counts are shared by every limiter on the same Redis and prefix', async () => {
    const prefix = uniquePrefix();
    const a = new Redis(TEST_REDIS_URL!);
    const b = new Redis(TEST_REDIS_URL!);
    try {
      const rlA = createRedisRateLimiter(a, prefix, 2, 60_000, silentLogger);
      const rlB = createRedisRateLimiter(b, prefix, 2, 60_000, silentLogger);
      expect((await rlA.hit('x')).allowed).toBe(true);
      expect((await rlB.hit('x')).allowed).toBe(true);
      const third = await rlA.hit('x');
      expect(third.allowed).toBe(false);
      expect(third.retryAfterS).toBeGreaterThan(0);
    } finally {
      const keys = await a.keys(`${prefix}*`);
      if (keys.length) await a.del(...keys);
      a.disconnect();
      b.disconnect();
    }
  });

  test('falls back to memory when Redis is unreachable rather than refusing every login', async () => {
    const dead = new Redis('redis://127.0.0.1:1', {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    const rl = createRedisRateLimiter(dead, uniquePrefix(), 1, 60_000, silentLogger);
    expect((await rl.hit('y')).allowed).toBe(true);
    expect((await rl.hit('y')).allowed).toBe(false);
    dead.disconnect();
  });
});
