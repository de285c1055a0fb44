import { UUID_RE } from '../../lib/schemas';
import { slicedQueue } from '../../lib/slices';
import type { UserStatus } from '../../protocol/schemas';
import type { HubSocket } from '../../realtime/hub';

/** A user's status with its presence sequence number, serialised once for every frame that carries it. */
export interface KnownStatus {
  seq: number;
  user: UserStatus;
  /** `JSON.stringify(user)`. */
  json: string;
}

/** One socket's subscription: the records of its users, in the order asked, without repeats. */
interface Following {
  socket: HubSocket;
  of: UserRecord[];
  /** Replaced or forgotten: it still takes a slot in its users' follower lists until they are compacted. */
  gone: boolean;
}

/**
 * What this instance holds about one user: who follows them here, the newest change the bus
 * delivered (./fanout.ts), and the row last read for a subscription answer (./status-loader.ts).
 * One record per user, so answering a subscription of 50 users reads 50 objects the follow
 * index has just touched, rather than five hash lookups per user in three maps (a third of a
 * 10,000-user storm's main-thread samples was the index and the answers: bench/RESULTS.md,
 * round thirteen).
 */
export interface UserRecord {
  /** The id string itself: every socket's list refers to this one string, not its frame's copy. */
  readonly id: string;
  /** Whether the id can name a user at all (a uuid); others are never looked up in the database. */
  readonly uuid: boolean;
  /** Its followers here, some of them gone (skipped, and dropped when they are half the list). */
  followers: Following[];
  /** How many of `followers` are gone. */
  goneFollowers: number;
  /** The newest change delivered for this user; changes older than it are dropped. */
  latest: KnownStatus | undefined;
  /** The row last read: null when there is no such user, undefined before any read. */
  row: KnownStatus | null | undefined;
  /** When that read was sent, and in which of the loader's generations (./status-loader.ts). */
  rowAt: number;
  rowGeneration: number;
}

/**
 * Which local sockets follow which users (`presence_subscribe`), indexed both ways: by user
 * for fan-out (who gets this change), by connection to replace or drop a socket's set.
 * Plain arrays rather than Sets: at 10,000 sockets following 50 users each, the two Sets per
 * follow were ~55 MB of the heap, the arrays ~6 MB. A socket leaves by being marked gone, and
 * a follower list drops its gone entries once they are half of it: leaving costs O(1) per
 * follow (amortised), and following costs one array push on the user's side. (Swap-removal,
 * as before, kept each socket's slot in every list and each list's place in every socket: a
 * third and fourth array written per follow, at random places of a large heap; in a
 * 10,000-user storm the index was a fifth of the main thread's samples: bench/RESULTS.md,
 * round thirteen.) The index's entries are the users' records (UserRecord), which also carry
 * their newest change and row.
 */
export function createSubscriptionRegistry() {
  const byConn = new Map<string, Following>();
  /**
   * The record of every user followed here or with a change delivered here. A record with
   * neither goes (an id a client made up must not stay once nobody follows it).
   */
  const byUser = new Map<string, UserRecord>();

  function newRecord(id: string): UserRecord {
    const record: UserRecord = {
      id,
      uuid: UUID_RE.test(id),
      followers: [],
      goneFollowers: 0,
      latest: undefined,
      row: undefined,
      rowAt: 0,
      rowGeneration: 0,
    };
    byUser.set(id, record);
    return record;
  }

  function forget(connId: string): void {
    const entry = byConn.get(connId);
    if (!entry) return;
    byConn.delete(connId);
    entry.gone = true;
    for (const record of entry.of) {
      record.goneFollowers += 1;
      if (record.goneFollowers === record.followers.length) {
        record.followers = [];
        record.goneFollowers = 0;
        if (record.latest === undefined) byUser.delete(record.id);
      } else if (record.goneFollowers * 2 > record.followers.length) {
        record.followers = record.followers.filter((f) => !f.gone);
        record.goneFollowers = 0;
      }
    }
  }

  /**
   * Closed sockets leave in slices, after the loop has heard what else was ready: leaving
   * touches every follower list the socket was in (~35 µs for 50 follows on a slow machine),
   * and in the close handler that held up the next closes of a burst, whose grace starts when
   * each is seen (10,000 closes: 0.37 s; bench/RESULTS.md, round six). Until then the
   * socket is skipped: it is closed.
   */
  const leaving = slicedQueue<string>(forget);

  return {
    /** Make `userIds` this socket's whole subscription (an empty list clears it). */
    replace(socket: HubSocket, userIds: readonly string[]): void {
      forget(socket.connId);
      if (userIds.length === 0) return;
      const entry: Following = { socket, of: [], gone: false };
      for (const requested of userIds) {
        const record = byUser.get(requested) ?? newRecord(requested);
        if (record.followers.at(-1) === entry) continue; // a repeated id: added just now
        record.followers.push(entry);
        entry.of.push(record);
      }
      byConn.set(socket.connId, entry);
    },
    forget,
    /** Forget a closed socket in a later slice (see `leaving`). */
    forgetSoon(connId: string): void {
      if (byConn.has(connId)) leaving.push(connId);
    },
    /** Calls `fn` for each open local socket following this user (a closed one may await `forget`). */
    forEachFollower(userId: string, fn: (socket: HubSocket) => void): void {
      const record = byUser.get(userId);
      if (record) for (const f of record.followers) if (!f.gone && !f.socket.closed) fn(f.socket);
    },
    /** The users this socket follows, or undefined when it has no subscription. */
    usersOf: (connId: string): readonly string[] | undefined => byConn.get(connId)?.of.map((r) => r.id),
    /** Their records, in the same order. */
    recordsOf: (connId: string): readonly UserRecord[] | undefined => byConn.get(connId)?.of,
    /** This user's record, made if there is none (a change was delivered for them). */
    record: (userId: string): UserRecord => byUser.get(userId) ?? newRecord(userId),
    /** Records held: users followed here or with a change delivered here. */
    size: () => byUser.size,
    /** Every open subscribed socket, with its users. */
    all: () =>
      [...byConn.values()]
        .filter((f) => !f.socket.closed)
        .map(({ socket, of }) => ({ socket, users: of.map((r) => r.id) })),
  };
}
