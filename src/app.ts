import { openapi } from '@elysiajs/openapi';
import { Elysia, ParseError, t } from 'elysia';
import type Redis from 'ioredis';
import type { Config } from './config';
import type { Sql } from './db/client';
import { AppError, PayloadTooLargeError, RateLimitedError, translateDbError } from './lib/errors';
import { installFastFormats } from './lib/formats';
import type { Logger } from './lib/logger';
import type { RateLimiter } from './lib/rate-limit';
import { ErrorBody } from './lib/schemas';
import { authRoutes } from './modules/auth';
import { tasksRoutes } from './modules/tasks';
import type { TasksService } from './modules/tasks/service';
import { usersRoutes } from './modules/users';
import type { UsersService } from './modules/users/service';
import type { EventBus } from './realtime/bus';
import { websocketServerOptions } from './realtime/ws';

/** Everything the HTTP app needs, built by `src/server.ts`. Importing this file has no side effects. */
export interface AppDeps {
  config: Config;
  log: Logger;
  sql: Sql;
  redis: Redis | undefined;
  bus: EventBus;
  users: UsersService;
  tasks: TasksService;
  loginLimiter: RateLimiter;
  /** Feature modules mounted after the core routes (dashboard, realtime, web page). */
  // biome-ignore lint/suspicious/noExplicitAny: Elysia instances of any shape
  modules?: Elysia<any, any, any, any, any, any, any>[];
}

function errorBody(code: string, message: string, details?: unknown) {
  return details === undefined ? { error: { code, message } } : { error: { code, message, details } };
}

/** Elysia's validation error, reduced to what a client can act on: which field, what is wrong. */
function validationDetails(err: unknown): { path: string; message: string }[] | undefined {
  const all = (err as { all?: unknown }).all;
  if (!Array.isArray(all)) return undefined;
  return all.slice(0, 20).map((e: { path?: string; message?: string; summary?: string }) => ({
    path: e.path ?? '',
    message: e.summary ?? e.message ?? 'invalid',
  }));
}

/** The body as text, or PayloadTooLargeError as soon as more than `limit` bytes have arrived. */
async function readCapped(body: ReadableStream<Uint8Array>, limit: number): Promise<string> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw new PayloadTooLargeError(limit);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function createApp(deps: AppDeps) {
  installFastFormats();
  const { config, log, sql, redis } = deps;
  const started = new WeakMap<Request, { id: string; at: number }>();

  const app = new Elysia({
    serve: {
      // Bun's own hard limit sits well above ours so our JSON 413 answers first: a declared
      // Content-Length is refused in onRequest, a chunked body by the capped reader in onParse,
      // which stops reading at the limit. Past Bun's limit Bun answers a bare 413 itself.
      maxRequestBodySize: Math.max(config.maxBodyBytes * 16, 16 * 1024 * 1024),
    },
    // Bun applies WebSocket limits server-wide (64 KiB frames → 1009, pings, idle timeout).
    websocket: websocketServerOptions,
  })
    .onRequest(({ request, set }) => {
      const incoming = request.headers.get('x-request-id');
      const id = incoming && /^[\w.:-]{1,128}$/.test(incoming) ? incoming : crypto.randomUUID();
      started.set(request, { id, at: performance.now() });
      set.headers['x-request-id'] = id;
      const length = request.headers.get('content-length');
      if (length !== null && Number(length) > config.maxBodyBytes) {
        set.status = 413;
        const e = new PayloadTooLargeError(config.maxBodyBytes);
        return errorBody(e.code, e.message);
      }
    })
    .onParse({ as: 'global' }, async ({ request, contentType }) => {
      // A body without Content-Length (chunked) escapes the onRequest check: read it ourselves,
      // refusing it as soon as it passes the limit, then parse as Elysia would. Bodies with a
      // Content-Length (already within the limit) keep Elysia's own parsers.
      if (request.headers.has('content-length') || !request.body) return;
      const text = await readCapped(request.body, config.maxBodyBytes);
      const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
      if (type === 'application/json' || type.endsWith('+json')) {
        try {
          return JSON.parse(text);
        } catch (err) {
          throw new ParseError(err as Error);
        }
      }
      if (type === 'application/x-www-form-urlencoded') return Object.fromEntries(new URLSearchParams(text));
      return text;
    })
    .onError({ as: 'global' }, ({ code, error, set, request }) => {
      let status: number;
      let body: ReturnType<typeof errorBody>;
      // Elysia wraps anything thrown while parsing in a ParseError; our own errors (the capped
      // reader's 413) keep their meaning.
      const cause = code === 'PARSE' ? (error as { cause?: unknown }).cause : undefined;
      const appError =
        error instanceof AppError ? error : cause instanceof AppError ? cause : translateDbError(error);
      if (appError) {
        status = appError.status;
        body = errorBody(appError.code, appError.message, appError.details);
        if (appError instanceof RateLimitedError) set.headers['retry-after'] = String(appError.retryAfterS);
        // Overload or a dependency down: worth retrying soon, and saying so lets clients back off.
        else if (appError.status === 503) set.headers['retry-after'] = '1';
      } else if (code === 'VALIDATION') {
        status = 422;
        body = errorBody('validation_error', 'The request is not valid.', validationDetails(error));
      } else if (code === 'PARSE') {
        status = 400;
        body = errorBody('invalid_body', 'The request body could not be parsed (malformed JSON or form).');
      } else if (code === 'NOT_FOUND') {
        status = 404;
        body = errorBody('not_found', 'No such route.');
      } else if (code === 'INVALID_COOKIE_SIGNATURE' || code === 'INVALID_FILE_TYPE') {
        status = 400;
        body = errorBody('bad_request', 'The request is not valid.');
      } else if (
        typeof (error as { status?: unknown }).status === 'number' &&
        (error as { status: number }).status >= 400 &&
        (error as { status: number }).status < 500
      ) {
        // Elysia/Bun errors that carry a client status (e.g. 413 from the body reader).
        status = (error as { status: number }).status;
        body = errorBody(status === 413 ? 'payload_too_large' : 'bad_request', 'The request is not valid.');
      } else {
        status = 500;
        log.error('unhandled error', {
          request_id: started.get(request)?.id,
          path: new URL(request.url).pathname,
          err: error,
          stack: error instanceof Error ? error.stack : undefined,
        });
        body = errorBody('internal_error', 'Something went wrong on our side; it has been logged.');
      }
      set.status = status;
      set.headers['content-type'] = 'application/json; charset=utf-8';
      return body;
    })
    .onAfterResponse({ as: 'global' }, ({ request, set }) => {
      const meta = started.get(request);
      if (!meta) return;
      const status = typeof set.status === 'number' ? set.status : 200;
      const path = new URL(request.url).pathname;
      if (path === '/health' && status === 200) return; // probes every few seconds would drown the log
      log.info('request', {
        request_id: meta.id,
        method: request.method,
        path,
        status,
        duration_ms: Math.round((performance.now() - meta.at) * 100) / 100,
      });
    })
    .use(
      openapi({
        path: '/swagger',
        specPath: '/swagger/json',
        provider: 'swagger-ui',
        exclude: { paths: ['/', '/assets/*', '/app.js', '/app.css'] },
        documentation: {
          info: {
            title: 'HIVE API',
            version: '1.0.0',
            description:
              'Team task coordination: accounts, tasks, live presence and dashboard analytics. Errors are always `{"error": {"code", "message"}}`. WebSocket: `GET /ws?token=<access_token>` (see README).',
          },
          components: {
            securitySchemes: {
              bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
              oauth2: {
                type: 'oauth2',
                flows: { password: { tokenUrl: '/api/v1/auth/login', scopes: {} } },
              },
            },
          },
        },
      }),
    )
    .model({ Error: ErrorBody })
    .get('/health', () => ({ status: 'ok' as const }), {
      response: t.Object({ status: t.Literal('ok') }),
      detail: { tags: ['operations'], summary: 'Liveness: 200 while the process runs' },
    })
    .get(
      '/ready',
      async ({ set }) => {
        const checks: Record<string, 'ok' | 'down'> = {};
        const withTimeout = <T>(p: Promise<T>) =>
          Promise.race([
            p,
            new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 2000)),
          ]);
        try {
          await withTimeout(sql`select 1`);
          checks.database = 'ok';
        } catch (err) {
          checks.database = 'down';
          log.warn('readiness: database check failed', { err });
        }
        if (redis) {
          try {
            await withTimeout(redis.ping());
            checks.redis = 'ok';
          } catch (err) {
            checks.redis = 'down';
            log.warn('readiness: redis check failed', { err });
          }
        }
        const failed = Object.keys(checks).filter((k) => checks[k] === 'down');
        if (failed.length > 0) {
          set.status = 503;
          return {
            error: {
              code: 'service_unavailable',
              message: `Not ready: ${failed.join(' and ')} unreachable.`,
              details: { checks, failed },
            },
          };
        }
        return { status: 'ready' as const, checks };
      },
      {
        response: {
          200: t.Object({ status: t.Literal('ready'), checks: t.Record(t.String(), t.String()) }),
          503: ErrorBody,
        },
        detail: {
          tags: ['operations'],
          summary: 'Readiness: 200 when the database (and Redis) answer, else 503',
        },
      },
    )
    .use(authRoutes({ config, users: deps.users, loginLimiter: deps.loginLimiter }))
    .use(usersRoutes({ config, users: deps.users }))
    .use(tasksRoutes({ config, tasks: deps.tasks }));

  for (const module of deps.modules ?? []) app.use(module);
  return app;
}

export type App = ReturnType<typeof createApp>;
