import { Elysia } from 'elysia';
import type { Config } from '../../config';
import { RateLimitedError, ValidationError } from '../../lib/errors';
import type { RateLimiter } from '../../lib/rate-limit';
import { errors } from '../../lib/schemas';
import { UserPrivate } from '../users/model';
import { normaliseEmail, type UsersService } from '../users/service';
import { LoginBody, RegisterBody, TokenResponse } from './model';
import { authPlugin } from './plugin';

export function authRoutes(deps: { config: Config; users: UsersService; loginLimiter: RateLimiter }) {
  const { config, users, loginLimiter } = deps;
  return new Elysia({ prefix: '/api/v1/auth', tags: ['auth'] })
    .use(authPlugin(config))
    .post(
      '/register',
      async ({ body, set, request }) => {
        const user = await users.register(body, request.signal);
        set.status = 201;
        return user;
      },
      {
        body: RegisterBody,
        response: { 201: UserPrivate, ...errors(409, 413, 422, 503) },
        detail: { summary: 'Create an account (role member)' },
      },
    )
    .post(
      '/login',
      async ({ body, signAccessToken, request, server }) => {
        const login = body.email ?? body.username;
        if (!login)
          throw new ValidationError('Send email (JSON) or username (OAuth2 form) with the password.');
        const ip = server?.requestIP(request)?.address ?? 'unknown';
        const verdict = await loginLimiter.hit(`login:${ip}:${normaliseEmail(login)}`);
        if (!verdict.allowed) throw new RateLimitedError(verdict.retryAfterS);
        const user = await users.authenticate(login, body.password, request.signal);
        return {
          access_token: await signAccessToken({ id: user.id, role: user.role }),
          token_type: 'bearer' as const,
          expires_in: config.accessTokenTtlS,
        };
      },
      {
        body: LoginBody,
        response: { 200: TokenResponse, ...errors(401, 413, 422, 429, 503) },
        detail: {
          summary: 'Exchange email and password for an access token',
          description:
            'JSON `{email, password}` or an OAuth2 password form (`username`, `password`). 429 after too many attempts per IP and email per minute.',
        },
      },
    );
}
