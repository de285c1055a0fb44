import { slicedQueue } from '../../lib/slices';
import type { HubSocket } from '../../realtime/hub';

/** One socket's subscription: its users, and where it sits in each user's follower list. */
interface Following {
  socket: HubSocket;
  users: string[];
  /** of[i]: the entry of users[i] (leaving needs no lookup by id). */
  of: Followed[];
  /** slots[i]: this socket's index in the follower list of users[i]. */
  slots: number[];
}

/** A followed user: its id string (shared by every socket's list) and who follows it. */
interface Followed {
  id: string;
  followers: Following[];
  /** at[j]: where this user sits in followers[j].users, so a follower that moves can update its slot. */
  at: number[];
}

/**
 * Which local sockets follow which users (`presence_subscribe`), indexed both ways: by user
 * for fan-out (who gets this change), by connection to replace or drop a socket's set.
 * Plain arrays with swap-removal rather than Sets: at 10,000 sockets following 50 users each,
 * the two Sets per follow were ~55 MB of the heap, the arrays ~6 MB; a socket leaves each
 * follower list in O(1) (it knows its slot), however many follow that user.
 */
export function createSubscriptionRegistry() {
  const byConn = new Map<string, Following>();
  /**
   * Per user, its followers, and the id string itself: every socket's list refers to this one
   * string, not to its own copy from its frame (10,000 sockets following 50 users each would
   * otherwise keep 500,000 copies alive).
   */
  const byUser = new Map<string, Followed>();

  function forget(connId: string): void {
    const entry = byConn.get(connId);
    if (!entry) return;
    byConn.delete(connId);
    for (let i = 0; i < entry.users.length; i++) {
      const followed: Followed = entry.of[i]!;
      const slot: number = entry.slots[i]!;
      const last: Following = followed.followers.pop()!;
      const lastAt: number = followed.at.pop()!;
      if (last !== entry) {
        // The last follower moves into the freed slot and records where it now is.
        followed.followers[slot] = last;
        followed.at[slot] = lastAt;
        last.slots[lastAt] = slot;
      }
      if (followed.followers.length === 0) byUser.delete(followed.id);
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
      const entry: Following = { socket, users: [], of: [], slots: [] };
      for (const requested of userIds) {
        let followed = byUser.get(requested);
        if (!followed) {
          followed = { id: requested, followers: [], at: [] };
          byUser.set(requested, followed);
        } else if (followed.followers.at(-1) === entry) continue; // a repeated id: added just now
        entry.slots.push(followed.followers.length);
        followed.followers.push(entry);
        followed.at.push(entry.users.length);
        entry.users.push(followed.id);
        entry.of.push(followed);
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
      const followed = byUser.get(userId);
      if (followed) for (const f of followed.followers) if (!f.socket.closed) fn(f.socket);
    },
    /** The users this socket follows, or undefined when it has no subscription. */
    usersOf: (connId: string): readonly string[] | undefined => byConn.get(connId)?.users,
    /** Every open subscribed socket, with its users. */
    all: () =>
      [...byConn.values()].filter((f) => !f.socket.closed).map(({ socket, users }) => ({ socket, users })),
  };
}
