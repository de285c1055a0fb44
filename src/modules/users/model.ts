import { t } from 'elysia';
import { Pagination } from '../../lib/schemas';

export const Password = t.String({ minLength: 8, maxLength: 256, description: '8 to 256 characters' });
export const FullName = t.String({ minLength: 1, maxLength: 100, pattern: '\\S' });
export const Email = t.String({ format: 'email', maxLength: 254 });

/**
 * Only these fields can be changed by the user. Unknown fields (is_online, role, …) are
 * stripped by validation and so change nothing, as the contract requires.
 */
export const UpdateMeBody = t.Object({
  full_name: t.Optional(FullName),
  password: t.Optional(Password),
  current_password: t.Optional(t.String({ maxLength: 256 })),
});
export type UpdateMeBody = typeof UpdateMeBody.static;

export const OnlineQuery = t.Object({ ...Pagination });
