import { jwt } from '@elysiajs/jwt';
import type { Config } from '../../config';
import { UUID_RE } from '../../lib/schemas';
import type { Role } from '../../protocol/schemas';

/** Who a verified access token speaks for. */
export interface AuthUser {
  id: string;
  role: Role;
  /** When the token this user came from expires (ms since epoch); a WebSocket closes then. */
  expiresAt?: number;
}

/**
 * Access tokens in one place, usable outside a request (the WebSocket upgrade, tests):
 * `@elysiajs/jwt` signs HS256 tokens with an expiry; verify pins the algorithm list, so
 * `alg: none` and tokens signed with another key or algorithm are refused.
 */
export function createTokenService(config: Config) {
  const signer = jwt({
    name: 'jwt',
    secret: config.jwtSecret,
    alg: 'HS256',
    exp: `${config.accessTokenTtlS}s`,
  }).decorator.jwt;
  return {
    /** The user of an access token; undefined when missing, expired, forged or malformed. */
    async verify(token: string | undefined | null): Promise<AuthUser | undefined> {
      if (!token || token.length > 4096) return undefined;
      const payload = await signer.verify(token, { algorithms: ['HS256'] });
      if (!payload || typeof payload.sub !== 'string' || !UUID_RE.test(payload.sub)) return undefined;
      if (payload.typ !== 'access') return undefined;
      const role = payload.role === 'admin' ? 'admin' : 'member';
      const expiresAt = typeof payload.exp === 'number' ? payload.exp * 1000 : undefined;
      return { id: payload.sub, role, expiresAt };
    },
    sign(user: Pick<AuthUser, 'id' | 'role'>): Promise<string> {
      return signer.sign({ sub: user.id, role: user.role, typ: 'access' });
    },
  };
}

export type TokenService = ReturnType<typeof createTokenService>;
