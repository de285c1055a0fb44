import type { Logger } from '../../lib/logger';
import type { UsersService } from '../users/service';
import type { AnnouncedPresence } from './announced';
import type { PresenceEngine } from './engine';

/** How long one heal keeps retrying (store settling, writer busy, database away) before waiting for the next trigger. */
const HEAL_PATIENCE_MS = 15_000;
const RETRY_AFTER_DB_ERROR_MS = 500;
/** While transitions are being written the database lags the store: look again this soon. */
const RETRY_WHILE_WRITING_MS = 50;
/** Until this instance re-registered (it probes the store at least this often): look again then. */
const RETRY_WHILE_UNREGISTERED_MS = 250;

/**
 * Healing after anything that may have lost a transition or a frame: at start-up, after a
 * store or bus outage, and periodically. First the database is made to match the store
 * (reconciliation), then this instance's sockets are made to match the database (the
 * announced view's correction), so a client that missed frames ends with the right view.
 */
export function createPresenceHealer(deps: {
  /** The store's snapshot and the transition writer. */
  engine: Pick<PresenceEngine, 'onlineUsers' | 'enqueue' | 'pendingAmong' | 'busy' | 'idle'>;
  users: Pick<UsersService, 'onlineIds' | 'offlineAmong'>;
  log: Logger;
  announced: AnnouncedPresence;
  track: <T>(p: Promise<T>) => Promise<T>;
  /** False while this instance still has to re-register its connections with the store. */
  registered: () => boolean;
  stopped: () => boolean;
}) {
  const { engine, users, log } = deps;
  let healing: Promise<void> | undefined;
  let healAgain = false;

  /**
   * Make `users.is_online` equal the store's announced state. Heals a database left online
   * by processes that died (their users are not in the store), and any lost write. Users
   * with a transition queued here are mid-flight and left alone. Returns undefined when done,
   * else how soon to try again.
   */
  async function reconcile(): Promise<number | undefined> {
    // Until we re-registered, the store lacks our users; while transitions are being
    // written the database lags the store by design (comparing would re-send them).
    if (!deps.registered()) return RETRY_WHILE_UNREGISTERED_MS;
    try {
      if (await engine.busy()) return RETRY_WHILE_WRITING_MS;
      const dbOnline = await users.onlineIds();
      // The snapshot's sequence number orders these fixes after every transition the snapshot
      // reflects and before any later one, so a fix can never undo a newer transition.
      const snapshot = await deps.track(engine.onlineUsers());
      // After an outage, a user missing from the store may belong to an instance that has
      // not re-registered yet: never take anyone offline before the store has settled.
      if (snapshot.settleLeftMs > 0) return snapshot.settleLeftMs + 10;
      const storeOnline = new Set(snapshot.users);
      const dbOnlineIds = new Set(dbOnline);
      const goneOffline = [...dbOnlineIds].filter((id) => !storeOnline.has(id));
      const cameOnline = [...storeOnline].filter((id) => !dbOnlineIds.has(id));
      // Users with a transition queued or being written meanwhile are mid-flight: left alone.
      const inFlight = new Set(await engine.pendingAmong([...goneOffline, ...cameOnline]));
      let fixed = 0;
      for (const id of goneOffline) {
        if (inFlight.has(id)) continue;
        engine.enqueue(id, false, snapshot.seq);
        fixed += 1;
      }
      const missing = cameOnline.filter((id) => !inFlight.has(id));
      if (missing.length > 0) {
        // Only users that exist; the store may name a user deleted since.
        const ids = await users.offlineAmong(missing);
        for (const id of ids) engine.enqueue(id, true, snapshot.seq);
        fixed += ids.length;
      }
      if (fixed > 0) log.info('presence reconciled with the database', { fixed });
      return undefined;
    } catch (err) {
      log.warn('presence reconciliation failed; will retry', { err });
      return RETRY_AFTER_DB_ERROR_MS;
    }
  }

  /** Database from the store, then our sockets from the database; retried until it could run. */
  async function healOnce(): Promise<void> {
    const giveUpAt = Date.now() + HEAL_PATIENCE_MS;
    for (let retryIn = await reconcile(); retryIn !== undefined; retryIn = await reconcile()) {
      if (deps.stopped() || Date.now() + retryIn > giveUpAt) return;
      await Bun.sleep(retryIn);
    }
    await engine.idle(5_000);
    for (let tries = 0; tries < 5 && !deps.stopped(); tries++) {
      try {
        const sent = await deps.announced.correct();
        if (sent === undefined) continue; // raced a frame: read again
        if (sent > 0) log.info('presence: sent our sockets the changes they missed', { users: sent });
        return;
      } catch (err) {
        log.warn('presence view check failed; will retry', { err });
        await Bun.sleep(RETRY_AFTER_DB_ERROR_MS);
      }
    }
  }

  return {
    /** Single-flight; a call during a heal runs one more after it (its cause may be newer). */
    heal(): Promise<void> {
      if (healing) {
        healAgain = true;
        return healing;
      }
      healing = (async () => {
        do {
          healAgain = false;
          await healOnce();
        } while (healAgain && !deps.stopped());
      })().finally(() => {
        healing = undefined;
      });
      return healing;
    },
  };
}
