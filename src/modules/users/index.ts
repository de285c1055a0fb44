import { Elysia, t } from 'elysia';
import { docHeaders } from '../../http/openapi-vocabulary';
import { NotFoundError, UnauthorizedError } from '../../lib/errors';
import { errors } from '../../lib/schemas';
import { UserPrivate, UserPublic } from '../../protocol/schemas';
import type { Feature, Runtime } from '../../runtime';
import { authPlugin } from '../auth/plugin';
import { OnlineQuery, UpdateMeBody } from './model';

/**
 * A valid token whose account has since been deleted: the token no longer names anyone, so
 * this is an authentication failure (401), not "no such resource" (404).
 */
function accountGone(err: unknown): never {
  if (err instanceof NotFoundError)
    throw new UnauthorizedError('The account for this access token no longer exists.', 'invalid_token');
  throw err;
}

/** `/api/v1/users`: your own profile, and who is online. */
export function createUsersFeature(rt: Pick<Runtime, 'tokens' | 'users'>) {
  const { users } = rt;
  const routes = new Elysia({ prefix: '/api/v1/users', tags: ['users'] })
    .use(authPlugin(rt.tokens))
    .get('/me', ({ user }) => users.getById(user.id).catch(accountGone), {
      auth: true,
      response: { 200: UserPrivate, ...errors(401, 503) },
      detail: {
        operationId: 'getMe',
        summary: 'The signed-in user',
        description: 'Your own account, email included.',
        responses: { 200: { description: 'Your account.' } },
      },
    })
    .patch(
      '/me',
      async ({ user, body }) => {
        const me = await users.updateMe(user.id, body).catch(accountGone);
        // The new password retired every token of this account (migration 0011), the caller's
        // too; this instance stops accepting them now, the others within ACCOUNT_TTL_MS.
        if (body.password !== undefined) rt.tokens.accounts.forget(user.id);
        return me;
      },
      {
        auth: true,
        body: UpdateMeBody,
        response: { 200: UserPrivate, ...errors(401, 413, 415, 422, 503) },
        detail: {
          operationId: 'updateMe',
          summary: 'Change your name or password',
          description:
            'A new password needs the right current_password (else 401), and ends every session of the account (this token included): sign in again with it. Server-owned fields (is_online, is_active, role, last_seen_at) are ignored.',
          requestBody: { content: { 'application/json': { example: { full_name: 'Maya Lin-Okafor' } } } },
          responses: { 200: { description: 'Your account after the change.' } },
        },
      },
    )
    .get(
      '/online',
      async ({ query, set }) => {
        const { items, total } = await users.listOnline(query.limit ?? 100, query.offset ?? 0);
        set.headers['x-total-count'] = String(total);
        return items;
      },
      {
        auth: true,
        query: OnlineQuery,
        response: { 200: t.Array(UserPublic), ...errors(401, 422, 503) },
        detail: {
          operationId: 'listOnlineUsers',
          summary: 'Users online now, ordered by full_name',
          description: 'Public profile only (no email). Header X-Total-Count holds the number online.',
          responses: {
            200: { description: 'One page of the users online now.', headers: docHeaders.totalCount },
          },
        },
      },
    );
  return { name: 'users', routes } satisfies Feature;
}
