import type Redis from 'ioredis';
import type { Logger } from './logger';

/**
 * Fixed-window counters: `hit(key)` counts one attempt and says whether it is within the
 * limit. With Redis the counters are shared by every instance (so the limit holds behind a
 * load balancer); if Redis is unreachable, or does not answer within the command
 * connection's deadline (REDIS_COMMAND_TIMEOUT_MS, e.g. a frozen Redis), we fall back to
 * this instance's memory rather than refuse, or hold up, every login.
 */
export interface RateLimiter {
  hit(key: string): Promise<{ allowed: boolean; retryAfterS: number }>;
}

export function createMemoryRateLimiter(limit: number, windowMs: number): RateLimiter {
  const windows = new Map<string, { count: number; resetAt: number }>();
  let lastSweep = Date.now();
  return {
    async hit(key) {
      const now = Date.now();
      if (now - lastSweep > windowMs) {
        for (const [k, w] of windows) if (w.resetAt <= now) windows.delete(k);
        lastSweep = now;
      }
      let w = windows.get(key);
      if (!w || w.resetAt <= now) {
        w = { count: 0, resetAt: now + windowMs };
        windows.set(key, w);
      }
      w.count += 1;
      return { allowed: w.count <= limit, retryAfterS: Math.ceil((w.resetAt - now) / 1000) };
    },
  };
}

export function createRedisRateLimiter(
  redis: Redis,
  prefix: string,
  limit: number,
  windowMs: number,
  log: Logger,
): RateLimiter {
  const fallback = createMemoryRateLimiter(limit, windowMs);
  return {
    async hit(key) {
      const redisKey = `${prefix}ratelimit:${key}`;
      try {
        const result = await redis
          .multi()
          .incr(redisKey)
          .pexpire(redisKey, windowMs, 'NX')
          .pttl(redisKey)
          .exec();
        const count = Number(result?.[0]?.[1] ?? 0);
        const ttl = Number(result?.[2]?.[1] ?? windowMs);
        return { allowed: count <= limit, retryAfterS: Math.max(1, Math.ceil(ttl / 1000)) };
      } catch (err) {
        log.debug('rate limiter falling back to memory', { err });
        return fallback.hit(key);
      }
    },
  };
}
