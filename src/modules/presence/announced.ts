import type { UserStatus } from '../../protocol/schemas';
import type { EventBus } from '../../realtime/bus';
import type { UsersService } from '../users/service';

/**
 * What this instance's sockets have been told about who is online: the database's answer
 * when the instance started, then every `user_status_update` forwarded since. Two uses:
 *
 * - **No repeats.** A frame that would not change this view (a user announced online who
 *   already is) is not forwarded: after an outage, a re-registration or a correction may
 *   produce such frames, and a client must only ever see real changes.
 * - **Nothing missed.** Pub/sub is fire-and-forget: frames published while this instance's
 *   subscriber was disconnected are gone. `correct()` compares the view with the database
 *   (where every transition is written before it is published) and sends our sockets the
 *   difference, through the same local path as any other presence frame.
 */
export function createAnnouncedPresence(deps: {
  users: Pick<UsersService, 'onlineIds' | 'statusesOnlineOrAmong'>;
  bus: EventBus;
}) {
  let online = new Set<string>();
  let loaded = false;
  /** Frames admitted before `load()` finished: re-applied over the database's answer. */
  let early: UserStatus[] = [];
  /** Frames admitted so far: a correction that raced one reads the database again. */
  let admitted = 0;

  function apply(status: UserStatus) {
    if (status.is_online) online.add(status.user_id);
    else online.delete(status.user_id);
  }

  return {
    async load(): Promise<void> {
      online = new Set(await deps.users.onlineIds());
      for (const status of early) apply(status);
      early = [];
      loaded = true;
    },

    /** Whether this frame changes what our sockets were told (and, if so, record it). */
    admit(status: UserStatus): boolean {
      if (!loaded) {
        early.push(status);
        apply(status);
        return true;
      }
      if (online.has(status.user_id) === status.is_online) return false;
      apply(status);
      admitted += 1;
      return true;
    },

    /**
     * Send our sockets what they missed: a frame per user whose state in the database differs
     * from this view. Returns how many were sent, or undefined when a frame arrived while
     * the database was read (the answer may be older than it; call again).
     */
    async correct(): Promise<number | undefined> {
      if (!loaded) {
        await this.load(); // it failed at start-up (database away): from now on it is right
        return 0;
      }
      const before = admitted;
      const rows = await deps.users.statusesOnlineOrAmong([...online]);
      if (admitted !== before) return undefined;
      const present = new Set(rows.map((r) => r.user_id));
      // Deleted users: nothing to tell (their rows are gone), just stop tracking them.
      for (const id of online) if (!present.has(id)) online.delete(id);
      let sent = 0;
      for (const data of rows) {
        if (online.has(data.user_id) === data.is_online) continue;
        // Through the bus's local delivery, so it reaches sockets exactly like a published
        // frame (and passes `admit`, which records it).
        deps.bus.deliverLocally('presence', { type: 'user_status_update', data });
        sent += 1;
      }
      return sent;
    },
  };
}

export type AnnouncedPresence = ReturnType<typeof createAnnouncedPresence>;
