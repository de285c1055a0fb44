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
  /** When it was learned: the read's start, or the notification's arrival. */
  readAt: number;
}

/** The channel of migration 0021: account changes, and each instance's heartbeats. */
export const ACCOUNTS_CHANNEL = 'hive_accounts';

/** An account change as migration 0021's trigger announces it, or undefined if the payload is not one. */
function parseChange(payload: string): { id: string; state: AccountState | undefined } | undefined {
  const parts = payload.split(':');
  if (parts[0] === 'd' && parts.length === 2) return { id: parts[1]!, state: undefined };
  if (parts[0] !== 'a' || parts.length !== 5) return undefined;
  const version = Number(parts[2]);
  const role = parts[3];
  if (!Number.isSafeInteger(version) || (role !== 'admin' && role !== 'member')) return undefined;
  return { id: parts[1]!, state: { version, role, active: parts[4] === '1' } };
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
 * Whether the account feed vouches for an entry: it was learned since the current LISTEN
 * session began, and a heartbeat of ours sent less than a TTL ago has come back through it.
 */
function createFeedSession(ttlMs: number) {
  /** When the current LISTEN session began (+∞: none). */
  let since = Number.POSITIVE_INFINITY;
  /** When the last heartbeat that came back in this session was sent (−∞: none yet). */
  let confirmedAt = Number.NEGATIVE_INFINITY;
  const live = (at: number) => at - confirmedAt < ttlMs;
  return {
    live,
    vouchesFor: (learnedAt: number, at: number) => learnedAt >= since && live(at),
    started(at: number): void {
      since = at;
      confirmedAt = Number.NEGATIVE_INFINITY;
    },
    stopped(): void {
      since = Number.POSITIVE_INFINITY;
      confirmedAt = Number.NEGATIVE_INFINITY;
    },
    /** `hb:<instance>:<sent at, ms>`: only our own count (another's clock is not ours). */
    heartbeat(payload: string, instanceId: string): void {
      const sep = payload.lastIndexOf(':');
      if (payload.slice(3, sep) !== instanceId) return;
      const sentAt = Number(payload.slice(sep + 1));
      if (Number.isFinite(sentAt) && since !== Number.POSITIVE_INFINITY)
        confirmedAt = Math.max(confirmedAt, sentAt);
    },
  };
}

/**
 * Drop the EVICT_BATCH oldest entries. Deleting the oldest one per insert made every insert
 * walk the map's deleted slots from the start: a profile of 10,000 sockets over 10,000 cached
 * accounts showed it.
 */
function evictOldest(entries: Map<string, Entry>): void {
  let n = 0;
  for (const key of entries.keys()) {
    entries.delete(key);
    if (++n === EVICT_BATCH) break;
  }
}

/** Token checks waiting for an account's read, by account id. */
type Waiters = Map<
  string,
  { resolve: (s: AccountState | undefined) => void; reject: (e: unknown) => void }[]
>;

export interface AccountCacheOptions {
  ttlMs?: number;
  /** The clock (ms); tests pass their own. */
  now?: () => number;
}

/**
 * The per-instance view of account states that token checks use. A hit is a map lookup, so
 * the hot path has no database round trip; a miss is one query, shared by every request for
 * that account that arrives meanwhile.
 *
 * An entry counts for ACCOUNT_TTL_MS after it was learned. Past that it still counts while
 * the account feed is live (./account-feed.ts): the instance LISTENs on ACCOUNTS_CHANNEL, where
 * migration 0021 announces every change, and its own heartbeat, sent on the same channel
 * less than ACCOUNT_TTL_MS ago, has come back. NOTIFY delivers in commit order, so that
 * heartbeat proves every change committed before it was sent has been applied here: an entry
 * learned during the current LISTEN session is then never more than ACCOUNT_TTL_MS behind
 * the database, the same bound as a timed re-read, and usually milliseconds. When the feed
 * lapses (the LISTEN connection dropped, PostgreSQL slow or away) entries fall back to the TTL;
 * after a reconnect only what is learned anew is kept by the feed.
 */
export function createAccountCache(sql: Sql, options: AccountCacheOptions = {}) {
  const ttlMs = options.ttlMs ?? ACCOUNT_TTL_MS;
  const now = options.now ?? Date.now;
  const entries = new Map<string, Entry>();
  const loading = new Map<string, Promise<AccountState | undefined>>();
  /** When forget() was called, per account: a read that started earlier may predate the change. */
  const forgottenAt = new Map<string, number>();
  const session = createFeedSession(ttlMs);
  let resetAt = Number.NEGATIVE_INFINITY; // the last 'reset': reads that began before it are not kept
  let rowsRead = 0; // for token checks (misses, the socket sweep): `hive_account_rows_read_total`
  const changeListeners = new Set<() => void>();

  const fresh = (entry: Entry, at: number) =>
    at - entry.readAt < ttlMs || session.vouchesFor(entry.readAt, at);

  function remember(id: string, state: AccountState | undefined, readAt = now()) {
    if (readAt <= resetAt) return;
    const forgotten = forgottenAt.get(id);
    if (forgotten !== undefined) {
      if (readAt <= forgotten) return;
      forgottenAt.delete(id);
    }
    // What was learned later wins: a read that started before a notification arrived may
    // carry the state from before the change it announced.
    const known = entries.get(id);
    if (known && known.readAt > readAt) return;
    entries.delete(id); // re-insert: Map order is the eviction order
    entries.set(id, { state, readAt });
    if (entries.size > MAX_ENTRIES) evictOldest(entries);
  }

  /**
   * Misses waiting for the next query. The first miss is read at once; misses arriving while
   * a read is in flight share the next one (`where id = any(…)`): a connect storm of 10,000
   * distinct users would otherwise be 10,000 queries queued in front of the presence writes.
   */
  let waiting: Waiters = new Map();
  let reading = false;

  async function readWaiting(): Promise<void> {
    reading = true;
    while (waiting.size > 0) {
      const batch = waiting;
      waiting = new Map();
      const readAt = now();
      try {
        rowsRead += batch.size;
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
     * The account's state, at most `ttlMs` behind the database; undefined when it no longer
     * exists. While the database is unreachable, the last state read (however old);
     * AccountsUnavailableError when there is none.
     */
    current(id: string): AccountState | undefined | Promise<AccountState | undefined> {
      const entry = entries.get(id);
      if (entry && fresh(entry, now())) return entry.state;
      let pending = loading.get(id);
      if (!pending) {
        pending = load(id).finally(() => loading.delete(id));
        loading.set(id, pending);
      }
      return pending;
    },

    /**
     * The states of many accounts (the socket sweep): those the live feed keeps from memory,
     * the others in one query, which also refreshes the cache. An id missing from the answer
     * was deleted.
     */
    async readMany(ids: string[]): Promise<Map<string, AccountState>> {
      const readAt = now();
      const states = new Map<string, AccountState>();
      const unknown: string[] = [];
      for (const id of ids) {
        const entry = entries.get(id);
        if (entry && session.vouchesFor(entry.readAt, readAt)) {
          if (entry.state) states.set(id, entry.state);
        } else unknown.push(id);
      }
      if (unknown.length === 0) return states;
      rowsRead += unknown.length;
      const rows = await sql<AccountRow[]>`
        select id, token_version, role, is_active from users where id = any(${unknown}::uuid[])`;
      for (const row of rows) states.set(row.id, toState(row));
      for (const id of unknown) remember(id, states.get(id), readAt);
      return states;
    },

    /** Drop what this instance knows about an account (after changing it here), so the next check reads it. */
    forget(id: string): void {
      entries.delete(id);
      loading.delete(id);
      forgottenAt.set(id, now());
    },

    /**
     * Read up to `limit` accounts, the most recently seen first, so that the users who come
     * back first after a start or a feed reconnect are checked from memory.
     */
    async preload(limit = MAX_ENTRIES - EVICT_BATCH): Promise<number> {
      const readAt = now();
      const rows = await sql<AccountRow[]>`
        select id, token_version, role, is_active from users
         order by last_seen_at desc nulls last limit ${limit}`;
      // Oldest first, so the most recent end up last in the eviction order.
      for (let i = rows.length - 1; i >= 0; i--) remember(rows[i]!.id, toState(rows[i]!), readAt);
      return rows.length;
    },

    /** Rows read from the database for token checks since start. */
    rowsRead: () => rowsRead,

    /** Call `listener` after each account change the feed applies (the socket check runs then). */
    onChange(listener: () => void): () => void {
      changeListeners.add(listener);
      return () => changeListeners.delete(listener);
    },

    /** The account feed (./account-feed.ts) drives these. */
    feed: {
      /** A LISTEN session began (the first, or after a reconnect): what it missed is unknown. */
      started: () => session.started(now()),
      /** The LISTEN was dropped on purpose (shutdown). */
      stopped: () => session.stopped(),
      /** A notification on ACCOUNTS_CHANNEL; `instanceId` tells our heartbeats from others'. */
      notified(payload: string, instanceId: string): void {
        if (payload.startsWith('hb:')) {
          session.heartbeat(payload, instanceId);
          return;
        }
        const change = payload === 'reset' ? undefined : parseChange(payload);
        if (change) remember(change.id, change.state);
        else {
          // A reset, or not a payload of ours: whatever it announced, nothing known is to be trusted.
          resetAt = now();
          entries.clear();
        }
        for (const listener of changeListeners) listener();
      },
      /** True while entries are kept current by notifications beyond their TTL. */
      live: (): boolean => session.live(now()),
    },
  };
}

export type AccountCache = ReturnType<typeof createAccountCache>;
