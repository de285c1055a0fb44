import type { Sql } from '../../db/client';
import { inSlices } from '../../lib/slices';
import type { Role } from '../../protocol/schemas';

/** What the database says about an account right now: enough to decide whether a token still counts. */
export interface AccountState {
  /** users.token_version: moved by a trigger on every password, role or is_active change (migration 0011). */
  version: number;
  role: Role;
  active: boolean;
}

/**
 * How long this instance trusts what it read about an account. A password change, a
 * demotion, a deactivation or a delete (through the API or in psql) reaches every REST route
 * of every instance within this time, well inside the 5 s the contract allows, while a busy
 * client costs one indexed lookup per TTL instead of one per request.
 */
export const ACCOUNT_TTL_MS = 2_000;
/** Entries kept at most; the oldest go first. 50,000 accounts is a few MiB. */
const MAX_ENTRIES = 50_000;
/** Evicted together when full: one pass over the map, not a search for the oldest per insert. */
const EVICT_BATCH = 5_000;

/** The account could not be read (database unreachable) and this instance has never seen it. */
export class AccountsUnavailableError extends Error {
  constructor(cause: unknown) {
    super('account state unavailable: the database did not answer', { cause });
    this.name = 'AccountsUnavailableError';
  }
}

interface Entry {
  state: AccountState | undefined;
  readAt: number;
}

interface AccountRow {
  id: string;
  token_version: number;
  role: Role;
  is_active: boolean;
}

const toState = (row: AccountRow): AccountState => ({
  version: row.token_version,
  role: row.role,
  active: row.is_active,
});

/**
 * The per-instance view of account states that token checks use. A hit is a map lookup, so
 * the hot path has no database round trip; a miss (or an entry older than ACCOUNT_TTL_MS) is
 * one query, shared by every request for that account that arrives meanwhile.
 */
export function createAccountCache(sql: Sql, ttlMs = ACCOUNT_TTL_MS) {
  const entries = new Map<string, Entry>();
  const loading = new Map<string, Promise<AccountState | undefined>>();
  /** When forget() was called per account: a read that started earlier may predate the change. */
  const forgottenAt = new Map<string, number>();

  function remember(id: string, state: AccountState | undefined, readAt = Date.now()) {
    const forgotten = forgottenAt.get(id);
    if (forgotten !== undefined) {
      if (readAt <= forgotten) return;
      forgottenAt.delete(id);
    }
    entries.delete(id); // re-insert: Map order is the eviction order
    entries.set(id, { state, readAt });
    if (entries.size > MAX_ENTRIES) {
      // Deleting the oldest one per insert made every insert walk the map's deleted slots
      // from the start: a profile of 10,000 sockets over 10,000 cached accounts showed it.
      let n = 0;
      for (const key of entries.keys()) {
        entries.delete(key);
        if (++n === EVICT_BATCH) break;
      }
    }
  }

  /**
   * Misses waiting for the next query. The first miss is read at once; misses arriving while
   * a read is in flight share the next one (`where id = any(…)`): a connect storm of 10,000
   * distinct users would otherwise be 10,000 queries queued in front of the presence writes.
   */
  let waiting = new Map<
    string,
    { resolve: (s: AccountState | undefined) => void; reject: (e: unknown) => void }[]
  >();
  let reading = false;

  async function readWaiting(): Promise<void> {
    reading = true;
    while (waiting.size > 0) {
      const batch = waiting;
      waiting = new Map();
      const readAt = Date.now();
      try {
        const rows = await sql<AccountRow[]>`
          select id, token_version, role, is_active from users where id = any(${[...batch.keys()]}::uuid[])`;
        const states = new Map(rows.map((row) => [row.id, toState(row)]));
        for (const id of batch.keys()) remember(id, states.get(id), readAt);
        // Each waiter is an upgrade or a request that goes on at once: woken in slices.
        inSlices([...batch], ([id, waiters]) => {
          for (const w of waiters) w.resolve(states.get(id));
        });
      } catch (err) {
        // The database is away: the last state read is still the best answer there is.
        for (const [id, waiters] of batch) {
          const stale = entries.get(id);
          for (const w of waiters) {
            if (stale) w.resolve(stale.state);
            else w.reject(new AccountsUnavailableError(err));
          }
        }
      }
    }
    reading = false;
  }

  function load(id: string): Promise<AccountState | undefined> {
    return new Promise((resolve, reject) => {
      const waiters = waiting.get(id);
      if (waiters) waiters.push({ resolve, reject });
      else waiting.set(id, [{ resolve, reject }]);
      if (!reading) void readWaiting();
    });
  }

  return {
    /**
     * The account's state, at most `ttlMs` old; undefined when it no longer exists. While the
     * database is unreachable, the last state read (however old); AccountsUnavailableError
     * when there is none.
     */
    current(id: string): AccountState | undefined | Promise<AccountState | undefined> {
      const entry = entries.get(id);
      if (entry && Date.now() - entry.readAt < ttlMs) return entry.state;
      let pending = loading.get(id);
      if (!pending) {
        pending = load(id).finally(() => loading.delete(id));
        loading.set(id, pending);
      }
      return pending;
    },

    /**
     * The states of many accounts in one query (the socket sweep), also refreshing the cache.
     * An id missing from the answer was deleted.
     */
    async readMany(ids: string[]): Promise<Map<string, AccountState>> {
      const readAt = Date.now();
      const rows = await sql<AccountRow[]>`
        select id, token_version, role, is_active from users where id = any(${ids}::uuid[])`;
      const states = new Map(rows.map((row) => [row.id, toState(row)]));
      for (const id of ids) remember(id, states.get(id), readAt);
      return states;
    },

    /** Drop what this instance knows about an account (after changing it here), so the next check reads it. */
    forget(id: string): void {
      entries.delete(id);
      loading.delete(id);
      forgottenAt.set(id, Date.now());
    },
  };
}

export type AccountCache = ReturnType<typeof createAccountCache>;
