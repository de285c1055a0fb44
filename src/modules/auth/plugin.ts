import { jwt } from '@elysiajs/jwt';
import { Elysia } from 'elysia';
import type { Config } from '../../config';
import { UnauthorizedError } from '../../lib/errors';
import { UUID_RE } from '../../lib/schemas';

export type Role = 'admin' | 'member';
export interface AuthUser {
  id: string;
  role: Role;
  /** When the token this user came from expires (ms since epoch); a WebSocket closes then. */
  expiresAt?: number;
}

/**
 * Token handling in one place: `@elysiajs/jwt` signs HS256 tokens with an expiry; verify
 * pins the algorithm list, so `alg: none` and tokens signed with another key or algorithm
 * are refused. The `auth` macro turns `Authorization: Bearer …` into `user` for a route.
 */
export function authPlugin(config: Config) {
  return new Elysia({ name: 'hive.auth', seed: config.jwtSecret })
    .use(
      jwt({
        name: 'jwt',
        secret: config.jwtSecret,
        alg: 'HS256',
        exp: `${config.accessTokenTtlS}s`,
      }),
    )
    .derive({ as: 'global' }, ({ jwt }) => ({
      /** Verify an access token; undefined when missing, expired, forged or malformed. */
      async verifyAccessToken(token: string | undefined | null): Promise<AuthUser | undefined> {
        if (!token || token.length > 4096) return undefined;
        const payload = await jwt.verify(token, { algorithms: ['HS256'] });
        if (!payload || typeof payload.sub !== 'string' || !UUID_RE.test(payload.sub)) return undefined;
        if (payload.typ !== 'access') return undefined;
        const role = payload.role === 'admin' ? 'admin' : 'member';
        const expiresAt = typeof payload.exp === 'number' ? payload.exp * 1000 : undefined;
        return { id: payload.sub, role, expiresAt };
      },
      async signAccessToken(user: AuthUser): Promise<string> {
        return jwt.sign({ sub: user.id, role: user.role, typ: 'access' });
      },
    }))
    .macro({
      auth: {
        async resolve({ headers, verifyAccessToken }) {
          const header = headers.authorization;
          if (!header)
            throw new UnauthorizedError('Missing Authorization header; send "Bearer <access_token>".');
          const match = /^Bearer\s+(\S+)$/i.exec(header);
          if (!match)
            throw new UnauthorizedError('Malformed Authorization header; send "Bearer <access_token>".');
          const user = await verifyAccessToken(match[1]);
          if (!user)
            throw new UnauthorizedError('The access token is invalid or has expired.', 'invalid_token');
          return { user };
        },
        detail: { security: [{ bearerAuth: [] }] },
      },
    });
}
