import type { PresenceChange } from '../../protocol/bus';
import type { HubSocket } from '../../realtime/hub';

/**
 * Which local sockets follow which users (`presence_subscribe`), indexed both ways: by user
 * for fan-out (who gets this change), by connection to replace or drop a socket's set.
 */
export function createSubscriptionRegistry() {
  const byConn = new Map<string, { socket: HubSocket; users: Set<string> }>();
  /**
   * Per user, its followers, and the id string itself: every socket's set refers to this one
   * string, not to its own copy from its frame (10,000 sockets following 50 users each would
   * otherwise keep 500,000 copies alive).
   */
  const byUser = new Map<string, { id: string; followers: Set<HubSocket> }>();

  function forget(connId: string): void {
    const entry = byConn.get(connId);
    if (!entry) return;
    byConn.delete(connId);
    for (const userId of entry.users) {
      const followed = byUser.get(userId);
      followed?.followers.delete(entry.socket);
      if (followed?.followers.size === 0) byUser.delete(userId);
    }
  }

  return {
    /** Make `userIds` this socket's whole subscription (an empty list clears it). */
    replace(socket: HubSocket, userIds: readonly string[]): void {
      forget(socket.connId);
      if (userIds.length === 0) return;
      const users = new Set<string>();
      for (const requested of userIds) {
        let followed = byUser.get(requested);
        if (!followed) {
          followed = { id: requested, followers: new Set() };
          byUser.set(requested, followed);
        }
        followed.followers.add(socket);
        users.add(followed.id);
      }
      byConn.set(socket.connId, { socket, users });
    },
    forget,
    followersOf: (userId: string): ReadonlySet<HubSocket> | undefined => byUser.get(userId)?.followers,
    /** The users this socket follows, or undefined when it has no subscription. */
    usersOf: (connId: string): ReadonlySet<string> | undefined => byConn.get(connId)?.users,
    /** Every subscribed socket, with its users. */
    all: () => [...byConn.values()],
  };
}

/**
 * Current statuses for subscription answers, one query per round trip however many sockets
 * subscribe at once (the DataLoader pattern, like the transition writer's batching): during
 * a connect storm thousands of sockets subscribe within a second, and one `where id = any(…)`
 * per socket would queue in front of the presence writes.
 */
/** A user's row as loaded, with its status serialised once for every answer that carries it. */
export interface LoadedStatus extends PresenceChange {
  json: string;
}

export function createStatusLoader(read: (userIds: string[]) => Promise<PresenceChange[]>) {
  let waiting: {
    userIds: string[];
    resolve: (rows: Map<string, LoadedStatus>) => void;
    reject: (err: unknown) => void;
  }[] = [];
  let running = false;

  async function run(): Promise<void> {
    running = true;
    while (waiting.length > 0) {
      const batch = waiting;
      waiting = [];
      const union = [...new Set(batch.flatMap((w) => w.userIds))];
      try {
        const rows = new Map(
          (await read(union)).map((r) => [r.user.user_id, { ...r, json: JSON.stringify(r.user) }]),
        );
        for (const w of batch) w.resolve(rows);
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
    running = false;
  }

  return {
    /** The rows of these users (unknown ids are absent), as a map by user id. */
    load(userIds: string[]): Promise<Map<string, LoadedStatus>> {
      if (userIds.length === 0) return Promise.resolve(new Map());
      return new Promise((resolve, reject) => {
        waiting.push({ userIds, resolve, reject });
        if (!running) void run();
      });
    },
  };
}
