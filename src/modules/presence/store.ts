/**
 * Where presence lives: per user, the set of live connections on every instance, and the
 * set of users whose "online" transition has been announced. Two implementations share
 * this interface: Redis (several instances) and memory (single instance). Each method is
 * atomic in its implementation, so a transition is observed by exactly one caller in the
 * whole cluster and is therefore written and broadcast exactly once.
 */
/**
 * A transition as the store decided it, stamped with the store's sequence number: strictly
 * increasing across the whole cluster (Redis's clock in microseconds, or this process's), so
 * the database write can refuse to apply an older transition over a newer one.
 */
export interface Transition {
  userId: string;
  seq: number;
}

export interface PresenceStore {
  /**
   * Register a connection. When it turned its user online (the announced state went 0→1),
   * returns that transition's sequence number, else undefined.
   */
  connect(connId: string, userId: string): Promise<number | undefined>;
  /**
   * Unregister a connection. When it was its user's last one, the user is scheduled to go
   * offline `graceMs` from now (cancelled by a reconnect); the deadline (epoch ms) is
   * returned so the caller can sweep right then, else undefined.
   */
  disconnect(connId: string, userId: string, graceMs: number): Promise<number | undefined>;
  /**
   * Renew this instance's liveness; false when the store had lost or expired it (Redis
   * restarted, or we were silent longer than the TTL), so the caller must `resync`.
   */
  heartbeat(): Promise<boolean>;
  /**
   * Make the store hold exactly these live connections for this instance: register missing
   * ones, drop ones that closed while the store was unreachable. Returns users turned online.
   */
  resync(live: { connId: string; userId: string }[], graceMs: number): Promise<Transition[]>;
  /**
   * Drop connections of instances that stopped renewing, and take users whose offline
   * deadline passed with no connection left. Returns the users now offline.
   */
  sweep(): Promise<Transition[]>;
  /**
   * Users currently announced online (for reconciliation with the database), with a sequence
   * number taken atomically with the snapshot: any later transition has a larger one.
   * `settleLeftMs` > 0: the store is still waiting for instances to re-register after an
   * outage, so a user missing from it may just not be registered again yet.
   */
  onlineUsers(): Promise<{ seq: number; settleLeftMs: number; users: string[] }>;
  /** Forget this instance at once (graceful shutdown, after its connections left). */
  removeInstance(): Promise<void>;
  /** Call `handler` each time the store's connection comes back after being lost. */
  onReconnect?(handler: () => void): () => void;
}

/**
 * Single-instance mode. Only this process exists, so there are no other instances to expire:
 * `heartbeat` and `removeInstance` have nothing to do, and the sweep only handles deadlines.
 */
export function createMemoryPresenceStore(): PresenceStore {
  // Microseconds since the epoch, strictly increasing: still larger than the previous
  // process's numbers after a restart (unless the clock went back).
  let lastSeq = 0;
  const nextSeq = () => {
    lastSeq = Math.max(lastSeq + 1, Date.now() * 1000);
    return lastSeq;
  };
  const connsByUser = new Map<string, Set<string>>();
  const online = new Set<string>();
  const offlineDeadlines = new Map<string, number>();

  function addConn(connId: string, userId: string): boolean {
    let conns = connsByUser.get(userId);
    if (!conns) {
      conns = new Set();
      connsByUser.set(userId, conns);
    }
    conns.add(connId);
    offlineDeadlines.delete(userId);
    if (online.has(userId)) return false;
    online.add(userId);
    return true;
  }

  function dropConn(connId: string, userId: string, graceMs: number): number | undefined {
    const conns = connsByUser.get(userId);
    if (!conns?.delete(connId) || conns.size > 0) return undefined;
    connsByUser.delete(userId);
    if (!online.has(userId)) return undefined;
    const deadline = Date.now() + graceMs;
    offlineDeadlines.set(userId, deadline);
    return deadline;
  }

  return {
    async connect(connId, userId) {
      return addConn(connId, userId) ? nextSeq() : undefined;
    },
    async disconnect(connId, userId, graceMs) {
      return dropConn(connId, userId, graceMs);
    },
    async heartbeat() {
      return true;
    },
    async resync(live) {
      return live
        .filter((c) => addConn(c.connId, c.userId))
        .map((c) => ({ userId: c.userId, seq: nextSeq() }));
    },
    async sweep() {
      const now = Date.now();
      const gone: Transition[] = [];
      for (const [userId, deadline] of offlineDeadlines) {
        if (deadline > now) continue;
        offlineDeadlines.delete(userId);
        if (connsByUser.has(userId)) continue;
        online.delete(userId);
        gone.push({ userId, seq: nextSeq() });
      }
      return gone;
    },
    async onlineUsers() {
      return { seq: nextSeq(), settleLeftMs: 0, users: [...online] };
    },
    async removeInstance() {},
  };
}
