import { createHmac } from 'node:crypto';

/** Hand-made JWTs for auth-failure tests: forged signatures, `alg: none`, past expiry. */
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

export function makeJwt(
  payload: Record<string, unknown>,
  opts: { secret?: string; alg?: 'HS256' | 'none' } = {},
): string {
  const alg = opts.alg ?? 'HS256';
  const head = `${b64url({ alg, typ: 'JWT' })}.${b64url(payload)}`;
  if (alg === 'none') return `${head}.`;
  const sig = createHmac('sha256', opts.secret ?? 'x'.repeat(40))
    .update(head)
    .digest('base64url');
  return `${head}.${sig}`;
}

/** The claims the server puts in an access token, valid for an hour from now. */
export function accessClaims(userId: string, extra: Record<string, unknown> = {}) {
  const now = Math.floor(Date.now() / 1000);
  return { sub: userId, ver: 0, typ: 'access', iat: now, exp: now + 3600, ...extra };
}
