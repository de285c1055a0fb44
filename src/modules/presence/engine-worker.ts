/**
 * The presence engine's thread (see ./engine-thread.ts): builds the store and the writer on
 * connections of its own and answers the main thread's calls, in the order they came.
 */
import type { LogLevel } from '../../config';
import { createSql } from '../../db/client';
import type { Logger } from '../../lib/logger';
import { closeRedis, connectRedis, createRedis } from '../../lib/redis';
import { createUsersService } from '../users/service';
import { createLocalEngine } from './engine';
import type { EngineCall, EngineThreadInit, FromThread, ToThread } from './engine-thread';
import { createRedisPresenceStore } from './redis-store';

declare const self: Worker;

/** Write transitions on two connections at once (the writer's lanes). */
const POOL_SIZE = 2;
const LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error'];

// What goes to the main thread leaves once per turn of this loop, as one message: a storm's
// thousands of replies cost the main loop a few hundred message events, not thousands.
let outgoing: FromThread[] = [];
function send(message: FromThread): void {
  if (outgoing.length === 0) setImmediate(flushOutgoing);
  outgoing.push(message);
}
function flushOutgoing(): void {
  const batch = outgoing;
  outgoing = [];
  self.postMessage(batch);
}

/** Plain data for the structured clone: errors as name, message and code (what logs show). */
function plain(value: unknown): unknown {
  if (value instanceof Error)
    return { name: value.name, message: value.message, code: (value as { code?: unknown }).code };
  return value;
}

/** Log records go to the main thread, whose logger (level, sink, bound fields) writes them. */
function forwardingLogger(level: LogLevel, bound: Record<string, unknown> = {}): Logger {
  const threshold = LEVELS.indexOf(level);
  const emit = (lvl: LogLevel) => (msg: string, fields?: Record<string, unknown>) => {
    if (LEVELS.indexOf(lvl) < threshold) return;
    const all: Record<string, unknown> = { ...bound };
    if (fields) for (const [k, v] of Object.entries(fields)) all[k] = plain(v);
    send({ kind: 'log', level: lvl, msg, fields: all });
  };
  return {
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    child: (fields) => forwardingLogger(level, { ...bound, ...fields }),
    isLevelEnabled: (lvl) => LEVELS.indexOf(lvl) >= threshold,
  };
}

async function build(init: EngineThreadInit) {
  const log = forwardingLogger(init.logLevel);
  const redis = createRedis(init.redisUrl, init.redisConnectionName, log, 'presence');
  for (const status of ['connect', 'ready', 'close', 'reconnecting', 'end'])
    redis.on(status, () => send({ kind: 'redis', status: redis.status }));
  const sql = createSql(init.databaseUrl, {
    max: POOL_SIZE,
    applicationName: init.applicationName,
    outageGuard: { log },
  });
  const store = createRedisPresenceStore({ redis, ...init.store });
  const engine = createLocalEngine({
    store,
    users: createUsersService(sql),
    written: (changes, durationS) => send({ kind: 'written', changes, durationS }),
    log,
  });
  engine.onReconnect(() => send({ kind: 'reconnect' }));
  engine.onFailure((op, err) =>
    send({ kind: 'failed', op, error: plain(err) as { name: string; message: string } }),
  );
  // Down at start-up is not fatal: presence registers once Redis is reachable.
  await connectRedis(redis).catch((err) => log.warn('presence: redis unreachable', { err }));
  const close = async () => {
    await closeRedis(redis);
    await sql.end({ timeout: 1 });
  };
  return { engine, close };
}

let built: Awaited<ReturnType<typeof build>> | undefined;
/** Calls that came while the engine was being built: answered, in order, once it is. */
let early: ToThread[] | undefined = [];

function answer(message: ToThread & { kind: 'call' }): void {
  const { engine, close } = built!;
  const method = message.method as EngineCall;
  let run: Promise<unknown>;
  if (method === 'close') run = close();
  else if (method === 'disconnect') {
    // The grace runs from the close on the main thread (its wall-clock time came along).
    const [connId, userId, graceMs, closedAt] = message.args as [string, string, number, number];
    run = engine.disconnect(connId, userId, Math.max(0, graceMs - Math.max(0, Date.now() - closedAt)));
  } else run = (engine[method] as (...args: unknown[]) => Promise<unknown>)(...message.args);
  run.then(
    (value) => send({ kind: 'reply', id: message.id, value }),
    (err) => send({ kind: 'fail', id: message.id, error: plain(err) as { name: string; message: string } }),
  );
}

function handle(message: ToThread): void {
  if (message.kind === 'call') answer(message);
  else if (message.kind === 'connect') built!.engine.connect(...message.args);
  else if (message.kind === 'enqueue') built!.engine.enqueue(...message.args);
}

/** The main thread sends its messages in arrays, in order. */
self.onmessage = (e: MessageEvent<ToThread[]>) => {
  for (const message of e.data) receive(message);
};

function receive(message: ToThread): void {
  if (message.kind === 'init') {
    build(message.init).then(
      (b) => {
        built = b;
        for (const m of early ?? []) handle(m);
        early = undefined;
        send({ kind: 'ready' });
      },
      (err) => {
        // Nothing to run on: the main thread sees the thread stop and starts a new one.
        send({
          kind: 'log',
          level: 'error',
          msg: 'presence thread could not start',
          fields: { err: plain(err) },
        });
        flushOutgoing();
        process.exit(1);
      },
    );
    return;
  }
  if (early) early.push(message);
  else handle(message);
}
