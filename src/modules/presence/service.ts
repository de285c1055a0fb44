import type { Logger } from '../../lib/logger';
import type { UserStatus } from '../../protocol/schemas';
import type { EventBus } from '../../realtime/bus';
import type { UsersService } from '../users/service';
import { createAnnouncedPresence } from './announced';
import type { PresenceEngine } from './engine';
import { createPresenceHealer } from './heal';

/**
 * Presence timings derived from PRESENCE_TTL_MS. An instance renews itself every TTL/5 and
 * its entry expires 0.7×TTL after the last renewal, so after a crash the sweeper (every
 * TTL/10) finds it dead within 0.8×TTL, leaving time for the database write and the
 * broadcast inside the TTL. A live instance has 3.5 heartbeats of slack before expiry.
 */
export function presenceTimings(ttlMs: number) {
  const heartbeatMs = Math.max(50, Math.round(ttlMs / 5));
  return {
    heartbeatMs,
    sweepMs: Math.max(25, Math.round(ttlMs / 10)),
    instanceExpiryMs: Math.round(ttlMs * 0.7),
    // Every live instance calls the store at least every sweep (TTL/10), so no call at all
    // for two of those means nobody could reach it: Redis was down or frozen.
    silenceAfterMs: heartbeatMs,
    // After such a silence, sweeps wait this long for every instance to re-register: each
    // reconnects within REDIS_RECONNECT_MAX_MS (½ s) and re-registers at once. Up to four
    // times that, for loaded machines, but at most TTL/2: short next to the TTL users rely on.
    settleAfterSilenceMs: Math.min(2_000, Math.max(300, Math.round(ttlMs / 2))),
    // While the store is unreachable, it is tried this often (not just at each heartbeat).
    probeMs: Math.min(heartbeatMs, 250),
    // Database and store are compared this often, to heal any drift (a lost write, a race
    // between two instances' writes for one user, a frame lost while pub/sub was down).
    reconcileMs: Math.max(5_000, ttlMs * 2),
  };
}

/**
 * While a burst of closes reaches its grace deadlines, sweeps follow each other this closely
 * (each is one Redis script). At 250 ms, the last users of a 10,000-close burst went offline
 * ~220 ms after their deadline (bench/presence.ts: all offline 2.1–2.6 s with a 1 s grace).
 */
const BURST_SWEEP_MS = 100;
/** Shutdown waits this long at most for store operations: a frozen Redis must not hold it up. */
const STOP_STORE_WAIT_MS = 1_000;

export interface PresenceServiceDeps {
  /** The store and the transition writer (./engine.ts), in process or on their own thread. */
  engine: PresenceEngine;
  users: UsersService;
  bus: EventBus;
  log: Logger;
  graceMs: number;
  ttlMs: number;
}

/**
 * Presence for this instance: registers connections in the store, turns the store's
 * transitions into database writes and broadcasts, renews this instance, sweeps expired
 * ones, and heals after an outage: re-registers what is live here, then (once every instance
 * could do the same) fixes the database from the store and our sockets from the database.
 */
export function createPresenceService(deps: PresenceServiceDeps) {
  const { engine, log, graceMs } = deps;
  const timings = presenceTimings(deps.ttlMs);
  const announced = createAnnouncedPresence(deps);
  /** What is open on this instance, by connection id: the source of truth for resync. */
  const live = new Map<string, string>();
  /** Store operations in flight, so shutdown can wait for them. */
  const inflight = new Set<Promise<unknown>>();
  // Set when a store operation failed or the store forgot us: our registrations may be
  // stale, so re-register everything before trusting (or sweeping) the store again.
  let needsResync = true;
  let probeTimer: ReturnType<typeof setTimeout> | undefined;
  let heartbeating: Promise<void> | undefined;
  let sweeping: Promise<void> | undefined;
  let sweepAgain = false;
  let sweepTimer: ReturnType<typeof setTimeout> | undefined;
  let sweepTimerAt = Number.POSITIVE_INFINITY;
  let lastOfflineDeadline = 0;
  let intervals: ReturnType<typeof setInterval>[] = [];
  const unsubscribers: (() => void)[] = [];
  let stopped = false;

  const track = <T>(p: Promise<T>): Promise<T> => {
    inflight.add(p);
    return p.finally(() => inflight.delete(p));
  };
  const { heal } = createPresenceHealer({
    engine,
    users: deps.users,
    log,
    announced,
    track,
    registered: () => !needsResync,
    stopped: () => stopped,
  });

  function storeFailed(op: string, err: unknown) {
    if (!needsResync) log.warn('presence store unreachable; will re-register when it returns', { op, err });
    needsResync = true;
    probeSoon();
  }

  /** While the store is unreachable, try it every probeMs so we re-register soon after it returns. */
  function probeSoon() {
    if (probeTimer || stopped) return;
    probeTimer = setTimeout(() => {
      probeTimer = undefined;
      void heartbeat();
    }, timings.probeMs);
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
        // Deadlines that arrived while this timer was armed were later ones: keep sweeping,
        // at most every BURST_SWEEP_MS, until the last, so a burst of closes goes offline at
        // its grace rather than at the next periodic sweep.
        if (lastOfflineDeadline > deadline)
          sweepAt(Math.min(lastOfflineDeadline, Date.now() + BURST_SWEEP_MS));
      },
      Math.max(0, deadline - Date.now()) + 5,
    );
  }

  function sweep(): Promise<void> {
    // Until we re-registered, the store may lack our connections: a sweep could take their users offline.
    if (needsResync) return Promise.resolve();
    if (sweeping) {
      sweepAgain = true;
      return sweeping;
    }
    sweeping = track(engine.sweep())
      .then(
        () => {},
        (err) => storeFailed('sweep', err),
      )
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
      const turnedOnline = await track(engine.resync(snapshot, graceMs));
      if (snapshot.length > 0 || turnedOnline > 0)
        log.info('presence re-registered', { connections: snapshot.length, online: turnedOnline });
    } catch (err) {
      storeFailed('resync', err);
      return;
    }
    // Operations that failed on our side may still have run on Redis, their transitions
    // never written: once everyone re-registered, compare the database with the store.
    void heal();
  }

  /** Renew this instance; re-register first if the store lost us or we lost it. Single-flight. */
  function heartbeat(): Promise<void> {
    heartbeating ??= (async () => {
      try {
        const known = await track(engine.heartbeat());
        if (!known) needsResync = true;
      } catch (err) {
        storeFailed('heartbeat', err);
        return;
      }
      if (needsResync) await resync();
    })().finally(() => {
      heartbeating = undefined;
    });
    return heartbeating;
  }

  return {
    connect(connId: string, userId: string): void {
      live.set(connId, userId);
      engine.connect(connId, userId);
    },

    /** Idempotent: a connection released at shutdown and then closed is released once. */
    disconnect(connId: string): void {
      const userId = live.get(connId);
      if (userId === undefined) return;
      live.delete(connId);
      void track(engine.disconnect(connId, userId, graceMs))
        .then((deadline) => {
          if (deadline !== undefined) sweepAt(deadline);
        })
        .catch((err) => storeFailed('disconnect', err));
    },

    /**
     * Whether a presence frame changes what this instance's sockets were told; false for a
     * repeat, which must not be forwarded (see announced.ts).
     */
    admit: (status: UserStatus): boolean => announced.admit(status),

    async start(): Promise<void> {
      await announced.load().catch((err) => log.warn('presence: could not read who is online', { err }));
      unsubscribers.push(
        // The store's connection came back: re-register at once (the heal follows it).
        engine.onFailure((op, err) => storeFailed(op, err)),
        engine.onReconnect(() => {
          needsResync = true;
          void heartbeat();
        }),
        // Our subscriber came back: frames published meanwhile never reached our sockets.
        deps.bus.onReconnect(() => void heal()),
      );
      await heartbeat();
      void heal();
      intervals = [
        setInterval(() => void heartbeat(), timings.heartbeatMs),
        setInterval(() => void sweep(), timings.sweepMs),
        setInterval(() => void heal(), timings.reconcileMs),
      ];
    },

    /**
     * Shutdown, after every local connection was released: wait out the grace so users
     * whose only sockets were here go offline through the normal path (another instance's
     * sweeper may get there first; the store makes that exactly once), then leave the store.
     */
    async stop(): Promise<void> {
      for (const id of [...live.keys()]) this.disconnect(id);
      await withDeadline(Promise.allSettled([...inflight]), STOP_STORE_WAIT_MS);
      const waitMs = lastOfflineDeadline - Date.now();
      if (waitMs > 0) await Bun.sleep(waitMs + 5);
      stopped = true;
      for (const i of intervals) clearInterval(i);
      for (const unsubscribe of unsubscribers.splice(0)) unsubscribe();
      if (sweepTimer) clearTimeout(sweepTimer);
      if (probeTimer) clearTimeout(probeTimer);
      await withDeadline(sweep(), STOP_STORE_WAIT_MS);
      await withDeadline(
        engine.removeInstance().catch((err) => log.warn('presence: could not leave the store', { err })),
        STOP_STORE_WAIT_MS,
      );
      await engine.idle(5_000);
    },
  };
}

export type PresenceService = ReturnType<typeof createPresenceService>;

/** Resolves when `p` settles or after `ms`, whichever comes first. */
function withDeadline(p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    void p.finally(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
