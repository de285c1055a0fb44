import type { Logger } from '../../lib/logger';
import { recordPresenceWrite } from '../../lib/metrics';
import type { UserStatus } from '../../protocol/schemas';
import type { EventBus } from '../../realtime/bus';
import type { OnlineStatusChange, UsersService } from '../users/service';
import type { PresenceStore } from './store';

/**
 * Presence timings derived from PRESENCE_TTL_MS. An instance renews itself every TTL/5 and
 * its entry expires 0.7×TTL after the last renewal, so after a crash the sweeper (every
 * TTL/10) finds it dead within 0.8×TTL, leaving time for the database write and the
 * broadcast inside the TTL. A live instance has 3.5 heartbeats of slack before expiry.
 */
export function presenceTimings(ttlMs: number) {
  return {
    heartbeatMs: Math.max(50, Math.round(ttlMs / 5)),
    sweepMs: Math.max(25, Math.round(ttlMs / 10)),
    instanceExpiryMs: Math.round(ttlMs * 0.7),
    // After our Redis connection comes back, let every instance re-register before anyone
    // expires anyone: two heartbeats.
    settleAfterReconnectMs: Math.max(100, Math.round((ttlMs / 5) * 2)),
    // Database and store are compared this often, to heal any drift (a lost write, a race
    // between two instances' writes for one user).
    reconcileMs: Math.max(5_000, ttlMs * 2),
  };
}

/** Largest batch in one UPDATE; a storm of 10k users becomes a handful of statements. */
const MAX_BATCH = 2_000;
/**
 * No fixed batching window: the first transition is written at once (lowest latency when
 * quiet) and everything arriving while that write is in flight forms the next batch, so
 * batches grow exactly as fast as the database falls behind. `setImmediate`, not a timer:
 * during a connect storm the event loop is saturated with upgrades and timers fire late.
 */
const FLUSH_NOW = 0;
const RETRY_AFTER_DB_ERROR_MS = 500;

/**
 * Writes transitions to the database in batches, in order, and announces each written row
 * once on the bus. Only the last change per user in a batch is kept: a user who came and
 * went within a few milliseconds needs only their final state written.
 */
function createTransitionWriter(deps: { users: UsersService; bus: EventBus; log: Logger }) {
  const queued = new Map<string, OnlineStatusChange>();
  /** Users in the batch being written: reconciliation must treat them as mid-flight too. */
  let writing = new Set<string>();
  let timer: ReturnType<typeof setTimeout> | ReturnType<typeof setImmediate> | undefined;
  let inflight: Promise<void> | undefined;
  const idleWaiters: (() => void)[] = [];

  function schedule(delayMs: number) {
    if (timer || inflight || queued.size === 0) return;
    timer = delayMs === FLUSH_NOW ? setImmediate(flush) : setTimeout(flush, delayMs);
  }

  function flush() {
    timer = undefined;
    const batch = [...queued.values()].slice(0, MAX_BATCH);
    for (const change of batch) queued.delete(change.userId);
    writing = new Set(batch.map((c) => c.userId));
    const startedAt = performance.now();
    inflight = deps.users.setUsersOnlineStatus(batch).then(
      (rows: UserStatus[]) => {
        recordPresenceWrite(rows, startedAt);
        deps.log.debug('presence batch written', {
          users: batch.length,
          duration_ms: Math.round((performance.now() - startedAt) * 100) / 100,
        });
        // Send the next batch to the database before fanning this one out: under a storm
        // the fan-out is the expensive part, and the next write need not wait behind it.
        finished(FLUSH_NOW);
        for (const row of rows) deps.bus.publish('presence', { type: 'user_status_update', data: row });
      },
      (err) => {
        deps.log.warn('presence write failed; retrying', { err, users: batch.length });
        // Put back what no newer change has replaced, and try again shortly.
        for (const change of batch) if (!queued.has(change.userId)) queued.set(change.userId, change);
        finished(RETRY_AFTER_DB_ERROR_MS);
      },
    );
  }

  function finished(nextDelayMs: number) {
    inflight = undefined;
    writing = new Set();
    if (queued.size === 0) {
      for (const resolve of idleWaiters.splice(0)) resolve();
    } else if (nextDelayMs === FLUSH_NOW) {
      flush();
    } else {
      schedule(nextDelayMs);
    }
  }

  return {
    /**
     * Queue a user's transition. Store operations resolve out of order, so a change older
     * (by the store's sequence) than the one already queued for the user is dropped.
     */
    enqueue(userId: string, isOnline: boolean, seq: number) {
      const current = queued.get(userId);
      if (current?.seq !== undefined && current.seq > seq) return;
      queued.set(userId, { userId, isOnline, at: new Date(), seq });
      schedule(FLUSH_NOW);
    },
    /** True while a change for this user is queued or being written. */
    has: (userId: string) => queued.has(userId) || writing.has(userId),
    busy: () => queued.size > 0 || inflight !== undefined,
    /** Resolves once everything queued so far is written (or the deadline passes). */
    idle(timeoutMs: number): Promise<void> {
      if (queued.size === 0 && !inflight) return Promise.resolve();
      return new Promise((resolve) => {
        const t = setTimeout(resolve, timeoutMs);
        idleWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    },
  };
}

export interface PresenceServiceDeps {
  store: PresenceStore;
  users: UsersService;
  bus: EventBus;
  log: Logger;
  graceMs: number;
  ttlMs: number;
}

/**
 * Presence for this instance: registers connections in the store, turns the store's
 * transitions into database writes and broadcasts, renews this instance, sweeps expired
 * ones, and heals after a store outage by re-registering what is live here.
 */
export function createPresenceService(deps: PresenceServiceDeps) {
  const { store, log, graceMs } = deps;
  const timings = presenceTimings(deps.ttlMs);
  const writer = createTransitionWriter(deps);
  /** What is open on this instance, by connection id: the source of truth for resync. */
  const live = new Map<string, string>();
  /** Store operations in flight, so shutdown can wait for them. */
  const inflight = new Set<Promise<unknown>>();
  // Set when a store operation failed or the store forgot us: our registrations may be
  // stale, so re-register everything before trusting (or sweeping) the store again.
  let needsResync = true;
  let sweepPausedUntil = 0;
  let sweeping: Promise<void> | undefined;
  let sweepAgain = false;
  let sweepTimer: ReturnType<typeof setTimeout> | undefined;
  let sweepTimerAt = Number.POSITIVE_INFINITY;
  let lastOfflineDeadline = 0;
  let intervals: ReturnType<typeof setInterval>[] = [];
  let stopped = false;

  const track = <T>(p: Promise<T>): Promise<T> => {
    inflight.add(p);
    return p.finally(() => inflight.delete(p));
  };

  function storeFailed(op: string, err: unknown) {
    if (!needsResync) log.warn('presence store unreachable; will re-register when it returns', { op, err });
    needsResync = true;
  }

  function sweepAt(deadline: number) {
    lastOfflineDeadline = Math.max(lastOfflineDeadline, deadline);
    if (stopped || deadline >= sweepTimerAt) return;
    if (sweepTimer) clearTimeout(sweepTimer);
    sweepTimerAt = deadline;
    // A few ms late so the store's clock has passed the deadline too.
    sweepTimer = setTimeout(
      () => {
        sweepTimer = undefined;
        sweepTimerAt = Number.POSITIVE_INFINITY;
        void sweep();
      },
      Math.max(0, deadline - Date.now()) + 5,
    );
  }

  function sweep(): Promise<void> {
    if (needsResync || Date.now() < sweepPausedUntil) return Promise.resolve();
    if (sweeping) {
      sweepAgain = true;
      return sweeping;
    }
    sweeping = track(store.sweep())
      .then((gone) => {
        for (const t of gone) writer.enqueue(t.userId, false, t.seq);
      })
      .catch((err) => storeFailed('sweep', err))
      .finally(() => {
        sweeping = undefined;
        if (sweepAgain) {
          sweepAgain = false;
          void sweep();
        }
      });
    return sweeping;
  }

  async function resync(): Promise<void> {
    needsResync = false;
    const snapshot = [...live].map(([connId, userId]) => ({ connId, userId }));
    try {
      const turnedOnline = await track(store.resync(snapshot, graceMs));
      for (const t of turnedOnline) writer.enqueue(t.userId, true, t.seq);
      if (snapshot.length > 0 || turnedOnline.length > 0)
        log.info('presence re-registered', { connections: snapshot.length, online: turnedOnline.length });
    } catch (err) {
      storeFailed('resync', err);
    }
  }

  async function heartbeat(): Promise<void> {
    try {
      const known = await track(store.heartbeat());
      if (!known) needsResync = true;
    } catch (err) {
      storeFailed('heartbeat', err);
      return;
    }
    if (needsResync) await resync();
  }

  /**
   * Make `users.is_online` equal the store's announced state. Heals a database left online
   * by processes that died (their users are not in the store), and any lost write. Users
   * with a transition queued here are mid-flight and left alone.
   */
  async function reconcile(): Promise<void> {
    // While transitions are being written the database lags the store by design; comparing
    // then would re-send what is already on its way. The next period will look again.
    if (needsResync || writer.busy()) return;
    try {
      const dbOnline = await deps.users.onlineIds();
      // The snapshot's sequence number orders these fixes after every transition the snapshot
      // reflects and before any later one, so a fix can never undo a newer transition.
      const snapshot = await track(store.onlineUsers());
      const storeOnline = new Set(snapshot.users);
      const dbOnlineIds = new Set(dbOnline);
      let fixed = 0;
      for (const id of dbOnlineIds) {
        if (!storeOnline.has(id) && !writer.has(id)) {
          writer.enqueue(id, false, snapshot.seq);
          fixed += 1;
        }
      }
      const missing = [...storeOnline].filter((id) => !dbOnlineIds.has(id) && !writer.has(id));
      if (missing.length > 0) {
        // Only users that exist; the store may name a user deleted since.
        const ids = await deps.users.offlineAmong(missing);
        for (const id of ids) writer.enqueue(id, true, snapshot.seq);
        fixed += ids.length;
      }
      if (fixed > 0) log.info('presence reconciled with the database', { fixed });
    } catch (err) {
      log.warn('presence reconciliation failed; will retry', { err });
    }
  }

  return {
    connect(connId: string, userId: string): void {
      live.set(connId, userId);
      void track(store.connect(connId, userId))
        .then((seq) => {
          if (seq !== undefined) writer.enqueue(userId, true, seq);
        })
        .catch((err) => storeFailed('connect', err));
    },

    /** Idempotent: a connection released at shutdown and then closed is released once. */
    disconnect(connId: string): void {
      const userId = live.get(connId);
      if (userId === undefined) return;
      live.delete(connId);
      void track(store.disconnect(connId, userId, graceMs))
        .then((deadline) => {
          if (deadline !== undefined) sweepAt(deadline);
        })
        .catch((err) => storeFailed('disconnect', err));
    },

    /** The store connection came back: re-register, and give other instances time to do the same. */
    storeReconnected(): void {
      needsResync = true;
      sweepPausedUntil = Date.now() + timings.settleAfterReconnectMs;
      void heartbeat()
        .then(() => writer.idle(5_000))
        .then(reconcile);
    },

    async start(): Promise<void> {
      await heartbeat();
      await reconcile();
      intervals = [
        setInterval(() => void heartbeat(), timings.heartbeatMs),
        setInterval(() => void sweep(), timings.sweepMs),
        setInterval(() => void reconcile(), timings.reconcileMs),
      ];
    },

    /**
     * Shutdown, after every local connection was released: wait out the grace so users
     * whose only sockets were here go offline through the normal path (another instance's
     * sweeper may get there first; the store makes that exactly once), then leave the store.
     */
    async stop(): Promise<void> {
      for (const id of [...live.keys()]) this.disconnect(id);
      await Promise.allSettled([...inflight]);
      const waitMs = lastOfflineDeadline - Date.now();
      if (waitMs > 0) await Bun.sleep(waitMs + 5);
      stopped = true;
      for (const i of intervals) clearInterval(i);
      if (sweepTimer) clearTimeout(sweepTimer);
      await sweep();
      await store.removeInstance().catch((err) => log.warn('presence: could not leave the store', { err }));
      await writer.idle(5_000);
    },
  };
}

export type PresenceService = ReturnType<typeof createPresenceService>;
