import type { Logger } from '../../lib/logger';
import type { PresenceStore } from './store';
import { createTransitionWriter, type TransitionWriterDeps } from './writer';

/**
 * What turns sockets opening and closing into committed rows: the presence store and the
 * transition writer, as one unit. Each store operation hands the transitions it causes
 * straight to the writer, so an open reaches the database without a trip through the
 * caller. It runs in process (`createLocalEngine`) or on a thread of its own
 * (`./engine-thread.ts`), where that path never waits behind the main loop's sockets.
 */
export interface PresenceEngine {
  /**
   * Register a connection; if it turned its user online, the write is queued. Nothing comes
   * back (a storm's 10,000 answers would be work for nobody): a failure goes to `onFailure`.
   */
  connect(connId: string, userId: string): void;
  /** Call `handler` when a `connect` failed (the store was unreachable). */
  onFailure(handler: (op: 'connect', err: unknown) => void): () => void;
  /** Unregister a connection; the offline deadline, when it was its user's last (see PresenceStore). */
  disconnect(connId: string, userId: string, graceMs: number): Promise<number | undefined>;
  heartbeat(): Promise<boolean>;
  /** Re-register these live connections; the users it turned online are queued. Returns their number. */
  resync(live: { connId: string; userId: string }[], graceMs: number): Promise<number>;
  /** Sweep expired instances and passed deadlines; the users now offline are queued. Returns their number. */
  sweep(): Promise<number>;
  onlineUsers(): ReturnType<PresenceStore['onlineUsers']>;
  removeInstance(): Promise<void>;
  /** Call `handler` each time the store (or the engine's thread) comes back after being lost. */
  onReconnect(handler: () => void): () => void;
  /** Queue a repair found by reconciliation (see TransitionWriter.enqueue: `repair`). */
  enqueue(userId: string, isOnline: boolean, seq: number): void;
  /** Of these users, those with a change queued or being written. */
  pendingAmong(userIds: string[]): Promise<string[]>;
  /** Whether transitions are queued or being written. */
  busy(): Promise<boolean>;
  /** Resolves once everything queued so far is written (or the deadline passes). */
  idle(timeoutMs: number): Promise<void>;
}

export interface LocalEngineDeps {
  store: PresenceStore;
  users: TransitionWriterDeps['users'];
  written: TransitionWriterDeps['written'];
  log: Logger;
}

/** The store and the writer in this thread. */
export function createLocalEngine(deps: LocalEngineDeps): PresenceEngine {
  const { store } = deps;
  const writer = createTransitionWriter(deps);
  const failureHandlers = new Set<(op: 'connect', err: unknown) => void>();
  return {
    connect(connId, userId) {
      store.connect(connId, userId).then(
        (seq) => {
          if (seq !== undefined) writer.enqueue(userId, true, seq);
        },
        (err) => {
          for (const handler of failureHandlers) handler('connect', err);
        },
      );
    },
    onFailure(handler) {
      failureHandlers.add(handler);
      return () => failureHandlers.delete(handler);
    },
    disconnect: (connId, userId, graceMs) => store.disconnect(connId, userId, graceMs),
    heartbeat: () => store.heartbeat(),
    async resync(live, graceMs) {
      const turnedOnline = await store.resync(live, graceMs);
      for (const t of turnedOnline) writer.enqueue(t.userId, true, t.seq);
      return turnedOnline.length;
    },
    async sweep() {
      const gone = await store.sweep();
      for (const t of gone) writer.enqueue(t.userId, false, t.seq);
      return gone.length;
    },
    onlineUsers: () => store.onlineUsers(),
    removeInstance: () => store.removeInstance(),
    onReconnect: (handler) => store.onReconnect?.(handler) ?? (() => {}),
    enqueue: (userId, isOnline, seq) => writer.enqueue(userId, isOnline, seq, true),
    pendingAmong: async (userIds) => [...writer.pendingAmong(userIds)],
    busy: async () => writer.busy(),
    idle: (timeoutMs) => writer.idle(timeoutMs),
  };
}
