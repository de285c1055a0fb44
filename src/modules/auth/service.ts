import type { Sql } from '../../db/client';
import { ConflictError, UnauthorizedError } from '../../lib/errors';
import type { UserPrivate } from '../../protocol/schemas';
import { toUserPrivate, type UserRow } from '../users/service';
import { hashPassword, verifyPassword } from './passwords';

export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

// Verified against when the email is unknown, so a wrong email costs as long as a wrong
// password and the answer's timing does not reveal which emails exist.
let dummyHash: Promise<string> | undefined;

/** Accounts and credentials: creating an account and proving who you are. */
export function createAuthService(sql: Sql) {
  return {
    async register(
      input: { email: string; password: string; full_name: string },
      signal?: AbortSignal,
    ): Promise<UserPrivate> {
      const email = normaliseEmail(input.email);
      const passwordHash = await hashPassword(input.password, signal);
      const rows = await sql<UserRow[]>`
        insert into users (email, password_hash, full_name)
        values (${email}, ${passwordHash}, ${input.full_name.trim()})
        on conflict do nothing
        returning *`;
      if (rows.length === 0) throw new ConflictError('That email is already registered.', 'email_taken');
      return toUserPrivate(rows[0]!);
    },

    /** The user for these credentials, or 401 — the same answer whether or not the email exists. */
    async authenticate(emailInput: string, password: string, signal?: AbortSignal): Promise<UserRow> {
      const email = normaliseEmail(emailInput);
      const [row] = await sql<UserRow[]>`select * from users where lower(email) = ${email}`;
      if (!row) {
        dummyHash ??= hashPassword('not-a-real-password-just-for-timing');
        await verifyPassword(password, await dummyHash, signal);
        throw new UnauthorizedError('Incorrect email or password.', 'invalid_credentials');
      }
      const ok = await verifyPassword(password, row.password_hash, signal);
      if (!ok || !row.is_active)
        throw new UnauthorizedError('Incorrect email or password.', 'invalid_credentials');
      return row;
    },
  };
}

export type AuthService = ReturnType<typeof createAuthService>;
