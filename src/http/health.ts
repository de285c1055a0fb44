import { Elysia, t } from 'elysia';
import type Redis from 'ioredis';
import { databaseHealth, type Sql } from '../db/client';
import { rejectAfter } from '../lib/deadline';
import type { Logger } from '../lib/logger';
import { ErrorBody } from '../protocol/schemas';

/** Each check answers within this, so `/ready` answers within a second whatever is down. */
const CHECK_TIMEOUT_MS = 500;

const withTimeout = <T>(p: Promise<T>) => rejectAfter(p, CHECK_TIMEOUT_MS, () => new Error('timeout'));

type CheckResult = 'ok' | 'down' | 'degraded';

/**
 * `/health` (liveness) and `/ready` (readiness).
 *
 * Only PostgreSQL decides readiness: without it no route works, so a load balancer should
 * send traffic elsewhere. Redis does not: REST serves without it (presence, cross-instance
 * events and the shared summary cache degrade and catch up when it returns), and every
 * instance shares one Redis, so failing readiness on it would drain all of them at once.
 * It is reported as `degraded` in `checks`.
 */
export function healthPlugin(deps: { sql: Sql; redis: Redis | undefined; log: Logger }) {
  const { sql, redis, log } = deps;
  const health = databaseHealth(sql);

  async function check(name: string, probe: () => Promise<unknown>): Promise<boolean> {
    try {
      await withTimeout(probe());
      return true;
    } catch (err) {
      log.warn(`readiness: ${name} check failed`, { err });
      return false;
    }
  }

  // The circuit breaker answers at once while the database is known down, else probes it.
  const databaseUp = () => (health ? health.check() : check('database', () => sql`select 1`));

  return new Elysia({ name: 'hive.health', tags: ['operations'] })
    .get('/health', () => ({ status: 'ok' as const }), {
      response: t.Object({ status: t.Literal('ok') }),
      detail: {
        operationId: 'getHealth',
        summary: 'Liveness: 200 while the process runs',
        description: 'Touches no dependency: for a process supervisor or a load balancer.',
      },
    })
    .get(
      '/ready',
      async ({ set }) => {
        const [database, redisUp] = await Promise.all([
          databaseUp(),
          redis ? check('redis', () => redis.ping()) : undefined,
        ]);
        const checks: Record<string, CheckResult> = { database: database ? 'ok' : 'down' };
        if (redisUp !== undefined) checks.redis = redisUp ? 'ok' : 'degraded';
        if (database) return { status: 'ready' as const, checks };
        set.status = 503;
        set.headers['retry-after'] = '1';
        return {
          error: {
            code: 'service_unavailable',
            message: 'Not ready: database unreachable.',
            details: { checks, failed: ['database'] },
          },
        };
      },
      {
        response: {
          200: t.Object({ status: t.Literal('ready'), checks: t.Record(t.String(), t.String()) }),
          503: ErrorBody,
        },
        detail: {
          operationId: 'getReady',
          summary: 'Readiness: 200 while PostgreSQL answers (Redis down is reported as degraded), else 503',
          description:
            'Checks PostgreSQL (and Redis when configured); only PostgreSQL makes an instance unready, since REST serves without Redis. A 503 names the failed check in `details`.',
          responses: { 503: { description: 'PostgreSQL is unreachable; `details.failed` names it.' } },
        },
      },
    );
}
