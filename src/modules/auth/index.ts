import { Elysia } from 'elysia';
import { RateLimitedError, ValidationError } from '../../lib/errors';
import { createMemoryRateLimiter, createRedisRateLimiter } from '../../lib/rate-limit';
import { errors } from '../../lib/schemas';
import { Token, UserPrivate } from '../../protocol/schemas';
import type { Feature, Runtime } from '../../runtime';
import { LoginBody, RegisterBody } from './model';
import { createAuthService, normaliseEmail } from './service';

/** `/api/v1/auth`: register and log in (JSON, or the OAuth2 password form of Swagger's Authorize). */
export function createAuthFeature(rt: Pick<Runtime, 'config' | 'log' | 'sql' | 'redis' | 'tokens'>) {
  const { config, tokens } = rt;
  const auth = createAuthService(rt.sql);
  const loginLimiter = rt.redis
    ? createRedisRateLimiter(rt.redis, config.redisPrefix, config.loginRateLimitPerMinute, 60_000, rt.log)
    : createMemoryRateLimiter(config.loginRateLimitPerMinute, 60_000);

  const routes = new Elysia({ prefix: '/api/v1/auth', tags: ['auth'] })
    .post(
      '/register',
      async ({ body, set, request }) => {
        const user = await auth.register(body, request.signal);
        set.status = 201;
        return user;
      },
      {
        body: RegisterBody,
        response: { 201: UserPrivate, ...errors(409, 413, 415, 422, 503) },
        detail: {
          operationId: 'register',
          summary: 'Create an account (role member)',
          description:
            'The email is unique in any letter case (409 `email_taken`). Log in afterwards to get a token.',
          requestBody: {
            content: {
              'application/json': {
                example: {
                  email: 'maya@example.com',
                  password: 'correct horse battery',
                  full_name: 'Maya Lin',
                },
              },
            },
          },
          responses: { 201: { description: 'The new account.' } },
        },
      },
    )
    .post(
      '/login',
      async ({ body, request, server }) => {
        const login = body.email ?? body.username;
        if (!login)
          throw new ValidationError('Send email (JSON) or username (OAuth2 form) with the password.');
        const ip = server?.requestIP(request)?.address ?? 'unknown';
        const verdict = await loginLimiter.hit(`login:${ip}:${normaliseEmail(login)}`);
        if (!verdict.allowed) throw new RateLimitedError(verdict.retryAfterS);
        const user = await auth.authenticate(login, body.password, request.signal);
        return {
          access_token: await tokens.sign({ id: user.id, tokenVersion: user.token_version }),
          token_type: 'bearer' as const,
          expires_in: config.accessTokenTtlS,
        };
      },
      {
        body: LoginBody,
        response: { 200: Token, ...errors(401, 413, 415, 422, 429, 503) },
        detail: {
          operationId: 'login',
          summary: 'Exchange email and password for an access token',
          description:
            'JSON `{email, password}`, or the OAuth2 password form (`username` = email, `password`) that Swagger UI’s Authorize sends. Wrong credentials get the same 401 whether the email exists or not; 429 after LOGIN_RATE_LIMIT_PER_MINUTE attempts per client IP and email in a minute; 503 when password checks are queued beyond capacity.',
          requestBody: {
            content: {
              'application/json': { example: { email: 'admin@hive.local', password: 'hive-demo-password' } },
              'application/x-www-form-urlencoded': {
                example: {
                  grant_type: 'password',
                  username: 'admin@hive.local',
                  password: 'hive-demo-password',
                },
              },
            },
          },
          responses: {
            200: { description: 'An access token; send it as `Authorization: Bearer <access_token>`.' },
            401: {
              description: 'Wrong email or password, or a deactivated account (`invalid_credentials`).',
            },
          },
        },
      },
    );
  return { name: 'auth', routes } satisfies Feature;
}
