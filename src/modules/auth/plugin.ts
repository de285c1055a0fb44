import { Elysia } from 'elysia';
import { UnauthorizedError } from '../../lib/errors';
import type { TokenService } from './tokens';

export type { AuthUser } from './tokens';

/**
 * The `auth` macro: a route with `auth: true` gets `user` from `Authorization: Bearer …`,
 * or answers 401 in the contract's error format. `user.role` is the database's (through the
 * account cache), so a demotion or deactivation counts within seconds, not at token expiry. The token service is a singleton, so it is
 * decorated, not derived per request.
 */
export function authPlugin(tokens: TokenService) {
  return new Elysia({ name: 'hive.auth' }).decorate('tokens', tokens).macro({
    auth: {
      async resolve({ headers, tokens }) {
        const header = headers.authorization;
        if (!header)
          throw new UnauthorizedError('Missing Authorization header; send "Bearer <access_token>".');
        const match = /^Bearer\s+(\S+)$/i.exec(header);
        if (!match)
          throw new UnauthorizedError('Malformed Authorization header; send "Bearer <access_token>".');
        const user = await tokens.verify(match[1]);
        if (!user)
          throw new UnauthorizedError(
            'The access token is invalid, has expired or was revoked (account changed); sign in again.',
            'invalid_token',
          );
        return { user };
      },
      // Either scheme yields the same bearer token; listing both lets Swagger UI's Authorize
      // (the OAuth2 password form) sign its "Try it out" requests.
      detail: { security: [{ bearerAuth: [] }, { oauth2: [] }] },
    },
  });
}
