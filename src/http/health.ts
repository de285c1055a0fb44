import { Elysia, t } from 'elysia';
import type Redis from 'ioredis';
import type { Sql } from '../db/client';
import type { Logger } from '../lib/logger';
import { ErrorBody } from '../protocol/schemas';

const CHECK_TIMEOUT_MS = 2000;

function withTimeout<T>(p: Promise<T>): Promise<T> {
  return Promise.race([
    p,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), CHECK_TIMEOUT_MS)),
  ]);
}

/** `/health` (liveness) and `/ready` (the database, and Redis when configured, answer). */
export function healthPlugin(deps: { sql: Sql; redis: Redis | undefined; log: Logger }) {
  const { sql, redis, log } = deps;

  async function check(name: string, probe: () => Promise<unknown>): Promise<'ok' | 'down'> {
    try {
      await withTimeout(probe());
      return 'ok';
    } catch (err) {
      log.warn(`readiness: ${name} check failed`, { err });
      return 'down';
    }
  }

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
        const checks: Record<string, 'ok' | 'down'> = {
          database: await check('database', () => sql`select 1`),
        };
        if (redis) checks.redis = await check('redis', () => redis.ping());
        const failed = Object.keys(checks).filter((k) => checks[k] === 'down');
        if (failed.length === 0) return { status: 'ready' as const, checks };
        set.status = 503;
        return {
          error: {
            code: 'service_unavailable',
            message: `Not ready: ${failed.join(' and ')} unreachable.`,
            details: { checks, failed },
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
          summary: 'Readiness: 200 when the database (and Redis) answer, else 503',
          description:
            'Checks PostgreSQL (and Redis when configured) with a 2 s timeout each; a 503 names the failed ones in `details`.',
          responses: { 503: { description: 'A dependency is unreachable; `details.failed` names it.' } },
        },
      },
    );
}
