import type { LogLevel } from '../../config';
import type { Logger } from '../../lib/logger';
import { afterSlice, inSlice } from '../../lib/slices';
import type { PresenceChange } from '../../protocol/bus';
import type { PresenceEngine } from './engine';

/**
 * The presence engine (store + transition writer, ./engine.ts) on a Bun worker thread with
 * its own Redis connection and database pool, used when HIVE runs on real PostgreSQL and
 * Redis (PRESENCE_THREAD, on by default).
 *
 * Why: during a connect storm the main loop's turns take 50–100 ms (hundreds of upgrades
 * per I/O phase), and an open paid two of them, the Redis reply and the database reply,
 * before its row was committed: 170–410 ms at p99 (bench/presence.ts). On its own loop the
 * same path waits for nobody: median 5–8 ms, p99 14–90 ms and at most 50 ms in 10 runs of 12
 * on one instance, in the same benchmark (bench/RESULTS.md, round five).
 *
 * Calls keep their order (one message queue, one Redis connection in the thread). If the
 * thread dies, calls in flight fail like a store outage (the service re-registers its live
 * connections and heals), and a new thread is started.
 */

/** Everything the thread needs to build its engine (structured-cloned to it). */
export interface EngineThreadInit {
  redisUrl: string;
  databaseUrl: string;
  /** The presence connection's name in Redis's CLIENT LIST. */
  redisConnectionName: string;
  /** `application_name` of the thread's pool: a server session (SERVER_SESSION_PREFIX). */
  applicationName: string;
  logLevel: LogLevel;
  store: {
    prefix: string;
    instanceId: string;
    instanceExpiryMs: number;
    graceMs: number;
    silence: { afterMs: number; settleMs: number };
  };
}

/** Engine methods that answer (every one but `enqueue`). */
export type EngineCall =
  | Exclude<keyof PresenceEngine, 'connect' | 'enqueue' | 'onReconnect' | 'onFailure'>
  | 'close';

export type ToThread =
  | { kind: 'init'; init: EngineThreadInit }
  | { kind: 'call'; id: number; method: EngineCall; args: unknown[] }
  | { kind: 'connect'; args: [string, string] }
  | { kind: 'enqueue'; args: [string, boolean, number] };

export type FromThread =
  | { kind: 'ready' }
  | { kind: 'reply'; id: number; value: unknown }
  | { kind: 'fail'; id: number; error: { name: string; message: string; code?: unknown } }
  | { kind: 'written'; changes: PresenceChange[]; durationS: number }
  | { kind: 'reconnect' }
  | { kind: 'failed'; op: 'connect'; error: { name: string; message: string; code?: unknown } }
  | { kind: 'redis'; status: string }
  | { kind: 'log'; level: LogLevel; msg: string; fields?: Record<string, unknown> };

/** After the thread died, a new one is started this soon (doubling while it keeps dying, up to 5 s). */
const RESTART_MIN_MS = 100;
const RESTART_MAX_MS = 5_000;
/** `close` waits this long for the thread to close its connections, then stops it anyway. */
const CLOSE_WAIT_MS = 2_000;

/** A failure reported by the thread, rebuilt so logs show its name, message and code. */
function rebuildError(error: { name: string; message: string; code?: unknown }): Error {
  const err = new Error(error.message);
  err.name = error.name;
  if (error.code !== undefined) (err as Error & { code?: unknown }).code = error.code;
  return err;
}

/** Live engine threads of this process, for tests that make one die (see tests/integration). */
export const engineThreads = new Set<Worker>();

export interface ThreadEngine extends PresenceEngine {
  /** Start the thread; resolves once its engine is built (Redis may still be unreachable). */
  start(): Promise<void>;
  /** Close the thread's connections and stop it. */
  close(): Promise<void>;
  /** The thread's Redis connection, as `hive_redis_up{connection="presence"}` reads it. */
  readonly redis: { readonly status: string };
}

export function createThreadEngine(opts: {
  init: EngineThreadInit;
  log: Logger;
  written(changes: PresenceChange[], durationS: number): void;
}): ThreadEngine {
  const { log } = opts;
  const redis = { status: 'wait' };
  const pending = new Map<number, { resolve(value: unknown): void; reject(err: unknown): void }>();
  const reconnectHandlers = new Set<() => void>();
  const failureHandlers = new Set<(op: 'connect', err: unknown) => void>();
  let nextId = 1;
  let worker: Worker | undefined;
  let ready: Promise<void> | undefined;
  let closing = false;
  let restartDelayMs = RESTART_MIN_MS;
  /**
   * Messages for the thread, sent together and in order, each send a structured clone and a
   * wake-up of the thread: at the end of the slice they were made in (a storm's upgrades
   * resume in slices: one message per slice, not one per socket); else, for an `urgent` one
   * (a connect: a row waits for it), after the current microtasks; else at the next loop turn
   * (a burst of closes comes one I/O callback each: one message per turn, not per close).
   */
  let outgoing: ToThread[] = [];
  let flushSoon = false;
  let flushNextTurn = false;
  function post(message: ToThread, urgent = true) {
    outgoing.push(message);
    if (flushSoon) return;
    if (inSlice()) {
      flushSoon = true;
      afterSlice(flushOutgoing);
    } else if (urgent) {
      flushSoon = true;
      queueMicrotask(flushOutgoing);
    } else if (!flushNextTurn) {
      flushNextTurn = true;
      setImmediate(flushOutgoing);
    }
  }
  function flushOutgoing() {
    flushSoon = false;
    flushNextTurn = false;
    if (outgoing.length === 0) return;
    const batch = outgoing;
    outgoing = [];
    worker?.postMessage(batch);
  }

  function handle(message: FromThread, onReady: () => void) {
    switch (message.kind) {
      case 'ready':
        onReady();
        return;
      case 'reply':
      case 'fail': {
        const call = pending.get(message.id);
        pending.delete(message.id);
        if (message.kind === 'reply') call?.resolve(message.value);
        else call?.reject(rebuildError(message.error));
        return;
      }
      case 'written':
        opts.written(message.changes, message.durationS);
        return;
      case 'reconnect':
        for (const handler of reconnectHandlers) handler();
        return;
      case 'failed':
        for (const handler of failureHandlers) handler(message.op, rebuildError(message.error));
        return;
      case 'redis':
        redis.status = message.status;
        return;
      case 'log':
        log[message.level](message.msg, message.fields);
        return;
    }
  }

  function spawn(): Promise<void> {
    const thread = new Worker(new URL('./engine-worker.ts', import.meta.url).href, { name: 'hive presence' });
    worker = thread;
    engineThreads.add(thread);
    const { promise, resolve } = Promise.withResolvers<void>();
    thread.onmessage = (e: MessageEvent<FromThread[]>) => {
      // The thread sends what it has once per turn of its loop, as one array.
      for (const message of e.data) handle(message, resolve);
    };
    thread.onerror = (e) => {
      log.error('presence thread failed', { err: e.message });
      thread.terminate();
    };
    thread.addEventListener('close', () => {
      engineThreads.delete(thread);
      resolve(); // never leave start() waiting on a thread that is gone
      if (worker === thread) died();
    });
    thread.postMessage([{ kind: 'init', init: opts.init }] satisfies ToThread[]);
    return promise;
  }

  /** The thread is gone: what it was asked fails like a store outage, and a new one starts. */
  function died() {
    worker = undefined;
    redis.status = 'end';
    const error = new Error('The presence thread stopped.');
    for (const call of pending.values()) call.reject(error);
    pending.clear();
    outgoing = []; // their calls just failed
    if (closing) return;
    log.error('presence thread stopped; starting a new one', { restart_in_ms: restartDelayMs });
    setTimeout(() => {
      if (closing) return;
      ready = spawn().then(() => {
        restartDelayMs = RESTART_MIN_MS;
        // Its store connection is new: the service re-registers this instance's connections.
        for (const handler of reconnectHandlers) handler();
      });
    }, restartDelayMs);
    restartDelayMs = Math.min(RESTART_MAX_MS, restartDelayMs * 2);
  }

  function call<T>(method: EngineCall, args: unknown[], urgent = true): Promise<T> {
    if (!worker) return Promise.reject(new Error('The presence thread is not running.'));
    const id = nextId++;
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
    post({ kind: 'call', id, method, args }, urgent);
    return promise;
  }

  return {
    redis,
    start() {
      ready ??= spawn();
      return ready;
    },
    async close() {
      closing = true;
      const thread = worker;
      if (!thread) return;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        call('close', []).catch(() => {}),
        new Promise((resolve) => {
          timer = setTimeout(resolve, CLOSE_WAIT_MS);
        }),
      ]);
      clearTimeout(timer);
      thread.terminate();
    },
    connect(connId, userId) {
      // A connect lost with a dying thread is re-registered by the resync that follows.
      if (worker) post({ kind: 'connect', args: [connId, userId] });
    },
    onFailure(handler) {
      failureHandlers.add(handler);
      return () => failureHandlers.delete(handler);
    },
    // Not urgent (the grace runs meanwhile), so a burst of closes travels together; the close
    // time goes along, and the thread takes the time it took off the grace.
    disconnect: (connId, userId, graceMs) => call('disconnect', [connId, userId, graceMs, Date.now()], false),
    heartbeat: () => call('heartbeat', []),
    resync: (live, graceMs) => call('resync', [live, graceMs]),
    sweep: () => call('sweep', []),
    onlineUsers: () => call('onlineUsers', []),
    removeInstance: () => call('removeInstance', []),
    onReconnect(handler) {
      reconnectHandlers.add(handler);
      return () => reconnectHandlers.delete(handler);
    },
    enqueue(userId, isOnline, seq) {
      // Lost if the thread dies before writing it, as any queued write: the next heal finds it.
      if (worker) post({ kind: 'enqueue', args: [userId, isOnline, seq] });
    },
    pendingAmong: (userIds) => call('pendingAmong', [userIds]),
    busy: () => call('busy', []),
    // Never fails: a heal waiting for the writer goes on if the thread is gone.
    idle: (timeoutMs) => call<void>('idle', [timeoutMs]).catch(() => {}),
  };
}
