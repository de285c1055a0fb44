/**
 * Where presence lives: per user, the set of live connections on every instance, and the
 * set of users whose "online" transition has been announced. Two implementations share
 * this interface: Redis (several instances) and memory (single instance). Each method is
 * atomic in its implementation, so a transition is observed by exactly one caller in the
 * whole cluster and is therefore written and broadcast exactly once.
 */
export interface PresenceStore {
  /** Register a connection; true when it turned its user online (the announced state went 0→1). */
  connect(connId: string, userId: string): Promise<boolean>;
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
  resync(live: { connId: string; userId: string }[], graceMs: number): Promise<string[]>;
  /**
   * Drop connections of instances that stopped renewing, and take users whose offline
   * deadline passed with no connection left. Returns the users now offline.
   */
  sweep(): Promise<string[]>;
  /** Users currently announced online (for reconciliation with the database). */
  onlineUsers(): Promise<string[]>;
  /** Forget this instance at once (graceful shutdown, after its connections left). */
  removeInstance(): Promise<void>;
}

/**
 * Single-instance mode. Only this process exists, so there are no other instances to expire:
 * `heartbeat` and `removeInstance` have nothing to do, and the sweep only handles deadlines.
 */
export function createMemoryPresenceStore(): PresenceStore {
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
      return addConn(connId, userId);
    },
    async disconnect(connId, userId, graceMs) {
      return dropConn(connId, userId, graceMs);
    },
    async heartbeat() {
      return true;
    },
    async resync(live) {
      return live.filter((c) => addConn(c.connId, c.userId)).map((c) => c.userId);
    },
    async sweep() {
      const now = Date.now();
      const gone: string[] = [];
      for (const [userId, deadline] of offlineDeadlines) {
        if (deadline > now) continue;
        offlineDeadlines.delete(userId);
        if (connsByUser.has(userId)) continue;
        online.delete(userId);
        gone.push(userId);
      }
      return gone;
    },
    async onlineUsers() {
      return [...online];
    },
    async removeInstance() {},
  };
}
