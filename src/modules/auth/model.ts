import { t } from 'elysia';
import { Email, FullName, Password } from '../users/model';

export const RegisterBody = t.Object({
  email: Email,
  password: Password,
  full_name: FullName,
});

/**
 * JSON `{email, password}`, or the OAuth2 password form Swagger's Authorize button sends
 * (`username`, `password`, form-encoded). One schema for both: whichever of email/username is
 * present names the account.
 */
export const LoginBody = t.Object({
  email: t.Optional(t.String({ maxLength: 254 })),
  username: t.Optional(t.String({ maxLength: 254, description: 'OAuth2 password form: the email' })),
  password: t.String({ minLength: 1, maxLength: 256 }),
  grant_type: t.Optional(t.String()),
  scope: t.Optional(t.String()),
});
