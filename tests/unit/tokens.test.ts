import { describe, expect, test } from 'bun:test';
import { createHmac } from 'node:crypto';
import { jwt } from '@elysiajs/jwt';
import { loadConfig } from '../../src/config';
import type { AccountCache } from '../../src/modules/auth/accounts';
import { createTokenService } from '../../src/modules/auth/tokens';

/**
 * Access tokens are signed by `@elysiajs/jwt` (jose) and verified by `fast-jwt` (faster on
 * Bun). This pins the verifier to the reference: for every well-formed and forged token
 * below, the service accepts exactly the tokens jose's HS256 verify accepts (with `exp`
 * required), and reads the same claims from them.
 */
const secret = 'unit-test-secret-0123456789abcdefghijkl';
const config = loadConfig({ JWT_SECRET: secret, ACCESS_TOKEN_TTL_S: '600' });
const tokens = createTokenService(config, {} as AccountCache);
const reference = jwt({ name: 'jwt', secret, alg: 'HS256' }).decorator.jwt;
const userId = '0a6f1e52-3f1c-4f58-9a4e-1f4b1b0a2c3d';
const now = () => Math.floor(Date.now() / 1000);

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
function hand(header: unknown, payload: unknown, opts: { key?: string; hash?: string } = {}): string {
  const head = `${b64(header)}.${b64(payload)}`;
  const sig = createHmac(opts.hash ?? 'sha256', opts.key ?? secret)
    .update(head)
    .digest('base64url');
  return `${head}.${sig}`;
}
const claims = (extra: Record<string, unknown> = {}) => ({
  sub: userId,
  ver: 3,
  typ: 'access',
  iat: now(),
  exp: now() + 600,
  ...extra,
});

async function referenceAccepts(token: string): Promise<boolean> {
  const payload = await reference.verify(token, { algorithms: ['HS256'] });
  return payload !== false && typeof payload.exp === 'number';
}

describe('access token verification', async () => {
  const signed = await tokens.sign({ id: userId, tokenVersion: 3 });
  const [h, p, s] = signed.split('.') as [string, string, string];
  const flip = (part: string, i: number) =>
    part.slice(0, i) + (part[i] === 'A' ? 'B' : 'A') + part.slice(i + 1);

  const corpus: [string, string][] = [
    ['signed by the service', signed],
    ['hand-made HS256', hand({ alg: 'HS256', typ: 'JWT' }, claims())],
    ['no typ header', hand({ alg: 'HS256' }, claims())],
    ['another secret', hand({ alg: 'HS256', typ: 'JWT' }, claims(), { key: `${secret}x` })],
    ['alg none, no signature', `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims())}.`],
    ['alg none, HS256 signature', hand({ alg: 'none' }, claims())],
    ['HS512 with our secret', hand({ alg: 'HS512' }, claims(), { hash: 'sha512' })],
    ['HS256 header, HS512 signature', hand({ alg: 'HS256' }, claims(), { hash: 'sha512' })],
    ['RS256 header, HMAC signature', hand({ alg: 'RS256' }, claims())],
    ['expired', hand({ alg: 'HS256' }, claims({ exp: now() - 60 }))],
    ['no exp', hand({ alg: 'HS256' }, { sub: userId, ver: 3, typ: 'access' })],
    ['exp not a number', hand({ alg: 'HS256' }, claims({ exp: String(now() + 600) }))],
    ['nbf in the future', hand({ alg: 'HS256' }, claims({ nbf: now() + 300 }))],
    ['payload an array', hand({ alg: 'HS256' }, [1, 2])],
    [
      'payload not JSON',
      `${b64({ alg: 'HS256' })}.${b64('not json')}.${createHmac('sha256', secret)
        .update(`${b64({ alg: 'HS256' })}.${b64('not json')}`)
        .digest('base64url')}`,
    ],
    ['header not JSON', `${b64('{alg')}.${p}.${s}`],
    ['signature dropped', `${h}.${p}.`],
    ['signature missing', `${h}.${p}`],
    ['four segments', `${signed}.${s}`],
    ['empty', ''],
    ['garbage', 'not.a.jwt'],
    ...[0, 5, 20].map((i) => [`header char ${i} changed`, `${flip(h, i)}.${p}.${s}`] as [string, string]),
    ...[0, 10, 40].map((i) => [`payload char ${i} changed`, `${h}.${flip(p, i)}.${s}`] as [string, string]),
    ...[0, 20, 42].map((i) => [`signature char ${i} changed`, `${h}.${p}.${flip(s, i)}`] as [string, string]),
  ];

  test.each(corpus)('agrees with jose on: %s', async (_label, token) => {
    const expected = await referenceAccepts(token);
    expect(tokens.claims(token) !== undefined).toBe(expected);
  });

  test('reads the claims the token carries', () => {
    expect(tokens.claims(signed)).toEqual({
      id: userId,
      version: 3,
      expiresAt: expect.any(Number),
    });
    const c = tokens.claims(signed)!;
    expect(c.expiresAt).toBeGreaterThan(Date.now() + 590_000);
    expect(c.expiresAt).toBeLessThanOrEqual(Date.now() + 600_000);
  });

  test('the corpus holds both kinds (it would pass vacuously otherwise)', async () => {
    const verdicts = await Promise.all(corpus.map(([, t]) => referenceAccepts(t)));
    expect(verdicts.filter(Boolean).length).toBeGreaterThanOrEqual(3);
    expect(verdicts.filter((v) => !v).length).toBeGreaterThanOrEqual(15);
  });
});
