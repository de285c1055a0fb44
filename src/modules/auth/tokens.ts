import { jwt } from '@elysiajs/jwt';
import { createVerifier } from 'fast-jwt';
import type { Config } from '../../config';
import { UUID_RE } from '../../lib/schemas';
import type { Role } from '../../protocol/schemas';
import { type AccountCache, type AccountState, AccountsUnavailableError } from './accounts';

/** Who a verified access token speaks for, as the database says now. */
export interface AuthUser {
  id: string;
  /** From the database (through the account cache), never from the token: a demotion counts at once. */
  role: Role;
  /** When the token this user came from expires (ms since epoch); a WebSocket closes then. */
  expiresAt?: number;
  /** The account's token_version the token was issued for; a socket is closed when it moves on. */
  tokenVersion: number;
}

/** The claims of a well-signed, unexpired access token, before the account is consulted. */
export interface AccessClaims {
  id: string;
  version: number;
  expiresAt: number;
}

/**
 * Access tokens in one place, usable outside a request (the WebSocket upgrade, tests):
 * `@elysiajs/jwt` signs HS256 tokens with an expiry. `fast-jwt` verifies them, with the
 * algorithm list pinned, so `alg: none` and tokens signed with another key or algorithm are
 * refused: it checks the HMAC with node:crypto in ~5 µs of CPU, where jose's WebCrypto path
 * (behind `@elysiajs/jwt`'s verify) took ~50 µs on Bun, a tenth of a 10,000-socket connect
 * storm's CPU (docs/decisions.md). A token must carry `exp` (one without would never expire)
 * and `ver`, the account's token_version at login; it is accepted only while the account
 * exists, is active and still has that version (see migrations/0011 and ./accounts.ts).
 */
export function createTokenService(config: Config, accounts: AccountCache) {
  const signer = jwt({
    name: 'jwt',
    secret: config.jwtSecret,
    alg: 'HS256',
    exp: `${config.accessTokenTtlS}s`,
  }).decorator.jwt;
  // Synchronous; throws on a bad signature, algorithm, shape, `exp` in the past or `nbf` ahead.
  const verifySigned = createVerifier({
    key: config.jwtSecret,
    algorithms: ['HS256'],
    requiredClaims: ['exp'],
    cache: false,
  });

  /** Signature, algorithm, type and expiry only; undefined when any is wrong or missing. */
  function decode(token: string | undefined | null): AccessClaims | undefined {
    if (!token || token.length > 4096) return undefined;
    let payload: Record<string, unknown>;
    try {
      payload = verifySigned(token);
    } catch {
      return undefined;
    }
    if (!payload || typeof payload.sub !== 'string' || !UUID_RE.test(payload.sub)) return undefined;
    if (payload.typ !== 'access') return undefined;
    if (typeof payload.exp !== 'number' || !Number.isSafeInteger(payload.ver)) return undefined;
    return { id: payload.sub, version: payload.ver as number, expiresAt: payload.exp * 1000 };
  }

  return {
    accounts,
    /** The claims of a well-signed, unexpired access token (no account check); undefined otherwise. */
    claims: decode,
    /** The user of an access token; undefined when missing, expired, forged, malformed or revoked. */
    async verify(token: string | undefined | null): Promise<AuthUser | undefined> {
      const claims = decode(token);
      if (!claims) return undefined;
      let account: AccountState | undefined;
      try {
        account = await accounts.current(claims.id);
      } catch (err) {
        if (!(err instanceof AccountsUnavailableError)) throw err;
        // PostgreSQL is away and this instance never read the account. Every REST route needs
        // the database anyway (it answers 503); a WebSocket may open, so presence keeps
        // working through the outage. Least privilege meanwhile, and the socket check closes it
        // within seconds of the return if the session was revoked.
        return { id: claims.id, role: 'member', expiresAt: claims.expiresAt, tokenVersion: claims.version };
      }
      if (!account?.active || account.version !== claims.version) return undefined;
      return { id: claims.id, role: account.role, expiresAt: claims.expiresAt, tokenVersion: claims.version };
    },
    /** A token for this account as it is now (`tokenVersion` = its users.token_version). */
    sign(user: { id: string; tokenVersion: number }): Promise<string> {
      return signer.sign({ sub: user.id, ver: user.tokenVersion, typ: 'access' });
    },
  };
}

export type TokenService = ReturnType<typeof createTokenService>;
