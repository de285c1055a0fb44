import type { Sql } from '../../db/client';
import { NotFoundError, UnauthorizedError } from '../../lib/errors';
import { iso } from '../../lib/schemas';
import type { Role, UserPrivate, UserPublic, UserStatus } from '../../protocol/schemas';
import { hashPassword, verifyPassword } from '../auth/passwords';

export interface UserRow {
  id: string;
  email: string;
  password_hash: string;
  full_name: string;
  role: Role;
  is_active: boolean;
  /** Moved by a trigger on every password, role or is_active change; tokens carry it (migration 0011). */
  token_version: number;
  is_online: boolean;
  last_seen_at: Date | null;
  created_at: Date;
}

export function toUserPrivate(row: UserRow): UserPrivate {
  return {
    id: row.id,
    email: row.email,
    full_name: row.full_name,
    role: row.role,
    is_active: row.is_active,
    is_online: row.is_online,
    last_seen_at: iso(row.last_seen_at),
    created_at: iso(row.created_at)!,
  };
}

export function toUserPublic(
  row: Pick<UserRow, 'id' | 'full_name' | 'role' | 'is_online' | 'last_seen_at'>,
): UserPublic {
  return {
    id: row.id,
    full_name: row.full_name,
    role: row.role,
    is_online: row.is_online,
    last_seen_at: iso(row.last_seen_at),
  };
}

/** One user's presence transition, as written by setUsersOnlineStatus. */
export interface OnlineStatusChange {
  userId: string;
  isOnline: boolean;
  at: Date;
  /**
   * The presence store's sequence number for this transition: the write applies only when it
   * is newer than the one the row holds, so crossing writes from two instances keep the
   * latest state. Undefined: apply unconditionally (tools, tests).
   */
  seq?: number;
  /**
   * A repair found by reconciliation, not a transition: written only if no one else is
   * writing the row (see setUsersOnlineStatus).
   */
  repair?: boolean;
}

export function createUsersService(sql: Sql) {
  return {
    async getById(id: string): Promise<UserPrivate> {
      const [row] = await sql<UserRow[]>`select * from users where id = ${id}`;
      if (!row) throw new NotFoundError('User');
      return toUserPrivate(row);
    },

    async updateMe(
      id: string,
      patch: { full_name?: string; password?: string; current_password?: string },
    ): Promise<UserPrivate> {
      const [current] = await sql<UserRow[]>`select * from users where id = ${id}`;
      if (!current) throw new NotFoundError('User');
      const changes: Record<string, string> = {};
      if (patch.full_name !== undefined) changes.full_name = patch.full_name.trim();
      if (patch.password !== undefined) {
        const ok =
          patch.current_password !== undefined &&
          (await verifyPassword(patch.current_password, current.password_hash));
        if (!ok)
          throw new UnauthorizedError('current_password is missing or wrong.', 'invalid_current_password');
        changes.password_hash = await hashPassword(patch.password);
      }
      if (Object.keys(changes).length === 0) return toUserPrivate(current);
      const [row] = await sql<UserRow[]>`
        update users set ${sql(changes, Object.keys(changes))} where id = ${id} returning *`;
      return toUserPrivate(row!);
    },

    /**
     * The one place that writes presence into the database. Takes a batch so a connect
     * storm costs one UPDATE per flush, not one per user. Returns the rows as written.
     *
     * `skipLocked`: rows another transaction is writing are left alone, never waited for
     * (reconciliation's repairs: a row being written is mid-flight, as a queued change is).
     * Repairs of one instance overlapped another instance's batches in flight, and two
     * UPDATEs locking shared rows in different orders deadlock: PostgreSQL failed one after
     * deadlock_timeout (1 s) and its users came late. A statement that never waits for a row
     * cannot close such a cycle. Locking first costs a second write per row, so transitions,
     * which must never be skipped, go without it.
     */
    async setUsersOnlineStatus(
      changes: OnlineStatusChange[],
      options: { skipLocked?: boolean } = {},
    ): Promise<UserStatus[]> {
      if (changes.length === 0) return [];
      const ids = changes.map((c) => c.userId);
      // As 't'/'f' text: postgres.js serialises a JS boolean array as a scalar boolean
      // ("cannot cast type boolean to boolean[]"), so the array goes in as text[] and is cast.
      const flags = changes.map((c) => (c.isOnline ? 't' : 'f'));
      const ats = changes.map((c) => c.at.toISOString());
      const seqs = changes.map((c) => (c.seq === undefined ? null : String(c.seq)));
      // `for no key update` is the lock the UPDATE itself takes: task writes checking their
      // foreign keys against these users are not blocked by it.
      const lockFirst = options.skipLocked
        ? sql`with locked as (select id from users where id = any(${ids}::uuid[]) for no key update skip locked)`
        : sql``;
      const onlyLocked = options.skipLocked ? sql`and u.id in (select id from locked)` : sql``;
      const rows = await sql<
        { id: string; full_name: string; is_online: boolean; last_seen_at: Date | null }[]
      >`
        ${lockFirst}
        update users u
           set is_online = c.is_online,
               last_seen_at = greatest(u.last_seen_at, c.at),
               presence_seq = coalesce(c.seq, u.presence_seq)
          from unnest(${ids}::uuid[], ${flags}::text[]::boolean[], ${ats}::timestamptz[], ${seqs}::bigint[])
            as c(id, is_online, at, seq)
         where u.id = c.id
           ${onlyLocked}
           and (c.seq is null or u.presence_seq is null or u.presence_seq < c.seq)
        returning u.id, u.full_name, u.is_online, u.last_seen_at`;
      return rows.map((r) => ({
        user_id: r.id,
        full_name: r.full_name,
        is_online: r.is_online,
        last_seen_at: iso(r.last_seen_at),
      }));
    },

    /** Ids of the users the database marks online (presence reconciliation compares them with the store). */
    async onlineIds(): Promise<string[]> {
      const rows = await sql<{ id: string }[]>`select id from users where is_online`;
      return rows.map((r) => r.id);
    },

    /** Of these ids, the users that exist and are marked offline (the store may name a user deleted since). */
    async offlineAmong(ids: string[]): Promise<string[]> {
      const rows = await sql<{ id: string }[]>`
        select id from users where id = any(${ids}::uuid[]) and not is_online`;
      return rows.map((r) => r.id);
    },

    /**
     * The status of every user marked online, and of these users whatever their state: what
     * presence compares with what an instance's sockets were told (src/modules/presence/announced.ts).
     */
    async statusesOnlineOrAmong(ids: string[]): Promise<UserStatus[]> {
      const rows = await sql<
        { id: string; full_name: string; is_online: boolean; last_seen_at: Date | null }[]
      >`
        select id, full_name, is_online, last_seen_at from users
         where is_online or id = any(${ids}::uuid[])`;
      return rows.map((r) => ({
        user_id: r.id,
        full_name: r.full_name,
        is_online: r.is_online,
        last_seen_at: iso(r.last_seen_at),
      }));
    },

    async listOnline(limit: number, offset: number): Promise<{ items: UserPublic[]; total: number }> {
      const [rows, [count]] = await Promise.all([
        sql<UserRow[]>`
          select id, full_name, role, is_online, last_seen_at
            from users where is_online
           order by full_name, id
           limit ${limit} offset ${offset}`,
        // X-Total-Count from the trigger-kept counter (migration 0005), not a count over users:
        // ~1 ms at 10,000 online was most of this route's cost under load.
        sql<{ n: number }[]>`select online::int as n from user_counts`,
      ]);
      return { items: rows.map(toUserPublic), total: count?.n ?? 0 };
    },
  };
}

export type UsersService = ReturnType<typeof createUsersService>;
