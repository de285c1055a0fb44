import { Elysia, t } from 'elysia';
import type { Config } from '../../config';
import { errors } from '../../lib/schemas';
import { authPlugin } from '../auth/plugin';
import { OnlineQuery, UpdateMeBody, UserPrivate, UserPublic } from './model';
import type { UsersService } from './service';

export function usersRoutes(deps: { config: Config; users: UsersService }) {
  const { config, users } = deps;
  return new Elysia({ prefix: '/api/v1/users', tags: ['users'] })
    .use(authPlugin(config))
    .get('/me', ({ user }) => users.getById(user.id), {
      auth: true,
      response: { 200: UserPrivate, ...errors(401, 404) },
      detail: { summary: 'The signed-in user' },
    })
    .patch('/me', ({ user, body }) => users.updateMe(user.id, body), {
      auth: true,
      body: UpdateMeBody,
      response: { 200: UserPrivate, ...errors(401, 404, 413, 422) },
      detail: {
        summary: 'Change your name or password',
        description:
          'A new password needs the right current_password. Server-owned fields (is_online, is_active, role, last_seen_at) are ignored.',
      },
    })
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
        response: { 200: t.Array(UserPublic), ...errors(401, 422) },
        detail: {
          summary: 'Users online now, ordered by full_name',
          description: 'Public profile only (no email). Header X-Total-Count holds the number online.',
        },
      },
    );
}
