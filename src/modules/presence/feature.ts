import { SERVER_SESSION_PREFIX } from '../../db/bootstrap';
import type { Sql } from '../../db/client';
import { recordPresenceWrite } from '../../lib/metrics';
import { closeRedis, connectRedis, createRedis } from '../../lib/redis';
import { iso } from '../../lib/schemas';
import type { PresenceChange } from '../../protocol/bus';
import { CloseCodes } from '../../protocol/frames';
import { wsRoutes } from '../../realtime/ws';
import type { Feature, Runtime } from '../../runtime';
import { createLocalEngine, type LocalEngineDeps } from './engine';
import { createThreadEngine } from './engine-thread';
import { createPresenceFanout } from './fanout';
import { createRedisPresenceStore } from './redis-store';
import { createPresenceService, presenceTimings } from './service';
import { createMemoryPresenceStore } from './store';

/** How long shutdown waits for clients to acknowledge the 1001 close before releasing them anyway. */
const CLOSE_WAIT_MS = 1_000;

/** The rows a subscription answer starts from, with the sequence number of their last write. */
async function readStatuses(sql: Sql, userIds: string[]): Promise<PresenceChange[]> {
  const rows = await sql<
    {
      id: string;
      full_name: string;
      is_online: boolean;
      last_seen_at: Date | null;
      presence_seq: string | null;
    }[]
  >`select id, full_name, is_online, last_seen_at, presence_seq from users where id = any(${userIds}::uuid[])`;
  return rows.map((r) => ({
    user: {
      user_id: r.id,
      full_name: r.full_name,
      is_online: r.is_online,
      last_seen_at: iso(r.last_seen_at),
    },
    seq: Number(r.presence_seq ?? 0),
  }));
}

/** Users online in the whole cluster, from the counter the triggers keep (migration 0005). */
async function readOnlineCount(sql: Sql): Promise<number> {
  const [row] = await sql<{ n: number }[]>`select online::int as n from user_counts`;
  return row?.n ?? 0;
}

/**
 * The presence store and its writer (./engine.ts): on a thread of their own on real
 * PostgreSQL and Redis (PRESENCE_THREAD), else in this thread, on Redis or in memory.
 */
function createEngine(rt: Runtime, written: LocalEngineDeps['written']) {
  const { config, log } = rt;
  const timings = presenceTimings(config.presenceTtlMs);
  const storeOptions = {
    prefix: config.redisPrefix,
    instanceId: rt.instanceId,
    instanceExpiryMs: timings.instanceExpiryMs,
    graceMs: config.presenceGraceMs,
    silence: { afterMs: timings.silenceAfterMs, settleMs: timings.settleAfterSilenceMs },
  };
  const engineLog = log.child({ feature: 'presence' });
  // Presence has a Redis connection of its own: its scripts never queue behind (or time out
  // like) request-path commands, and it detects a frozen Redis by itself (src/lib/redis.ts).
  const redisConnectionName = `hive:${rt.instanceId}:presence`;
  // DATABASE_URL set means real PostgreSQL: the embedded database takes one connection.
  if (config.redisUrl && config.databaseUrl && config.presenceThread) {
    const engine = createThreadEngine({
      init: {
        redisUrl: config.redisUrl,
        databaseUrl: config.databaseUrl,
        redisConnectionName,
        applicationName: `${SERVER_SESSION_PREFIX}${rt.instanceId} presence`,
        logLevel: config.logLevel,
        store: storeOptions,
      },
      log: engineLog,
      written,
    });
    rt.redisConnections.set(engine.redis, 'presence');
    return {
      engine,
      start: () => engine.start(),
      async close() {
        await engine.close();
        rt.redisConnections.delete(engine.redis);
      },
    };
  }
  const redis = config.redisUrl
    ? createRedis(config.redisUrl, redisConnectionName, log, 'presence')
    : undefined;
  if (redis) rt.redisConnections.set(redis, 'presence');
  const store = redis ? createRedisPresenceStore({ redis, ...storeOptions }) : createMemoryPresenceStore();
  return {
    engine: createLocalEngine({ store, users: rt.users, written, log: engineLog }),
    async start() {
      // Down at start-up is not fatal: presence registers once Redis is reachable.
      if (redis) await connectRedis(redis).catch((err) => log.warn('presence: redis unreachable', { err }));
    },
    async close() {
      if (!redis) return;
      await closeRedis(redis);
      rt.redisConnections.delete(redis);
    },
  };
}

/**
 * Live presence over WebSockets: the `/ws` route, presence bookkeeping (Redis or memory),
 * presence fan-out (batched, by subscription above the threshold: ./fanout.ts) and task
 * events to this instance's sockets.
 */
export function createPresenceFeature(rt: Runtime) {
  const { config, log, hub, bus } = rt;
  const engine = createEngine(rt, (changes, durationS) => {
    recordPresenceWrite(changes, durationS);
    // One bus message per batch (one JSON encoding, one Redis PUBLISH); each instance
    // batches it into frames for its own sockets (./fanout.ts).
    if (changes.length > 0) bus.publish('presence', { changes });
  });
  const presence = createPresenceService({
    engine: engine.engine,
    users: rt.users,
    bus,
    log: log.child({ feature: 'presence' }),
    graceMs: config.presenceGraceMs,
    ttlMs: config.presenceTtlMs,
  });
  const unsubscribers: (() => void)[] = [];
  const fanout = createPresenceFanout({
    hub,
    threshold: config.presenceSubscribeThreshold,
    readOnlineCount: () => readOnlineCount(rt.sql),
    readStatuses: (ids) => readStatuses(rt.sql, ids),
    log: log.child({ feature: 'presence-fanout' }),
  });

  return {
    name: 'presence',
    routes: wsRoutes({
      hub,
      log,
      verifyToken: (token) => rt.tokens.verify(token),
      onOpen: (conn) => {
        fanout.opened(conn);
        presence.connect(conn.connId, conn.userId);
      },
      onClose: (conn) => {
        fanout.closed(conn);
        presence.disconnect(conn.connId);
      },
      onPresenceSubscribe: (conn, userIds) => void fanout.subscribe(conn, userIds),
    }),

    async start() {
      // Every instance forwards every presence and task event to its own sockets; the
      // bus has already dropped our own Redis echoes (we got those in process).
      unsubscribers.push(
        // A change that tells our sockets nothing new is a repeat (after an outage): dropped.
        bus.subscribe('presence', (message) =>
          fanout.deliver(message.changes.filter((change) => presence.admit(change.user))),
        ),
        // Task bus messages are WebSocket frames already (src/protocol/bus.ts).
        bus.subscribe('tasks', (message) => hub.broadcast(message)),
        bus.onReconnect(() => fanout.resendSubscriptions()),
        // Task events published meanwhile are not replayed: clients that keep tasks re-read them.
        bus.onReconnect(() => hub.broadcast({ type: 'resync', data: { topics: ['tasks'] } })),
        () => fanout.stop(),
      );
      await engine.start();
      await fanout.start();
      await presence.start();
    },

    async stop() {
      // Tell clients to reconnect elsewhere; their close handlers release presence with the
      // usual grace, so a user who reconnects to another instance in time never flaps.
      for (const socket of [...hub.all()]) socket.close(CloseCodes.goingAway);
      const deadline = Date.now() + CLOSE_WAIT_MS;
      while (hub.size() > 0 && Date.now() < deadline) await Bun.sleep(10);
      for (const socket of [...hub.all()]) {
        hub.remove(socket.connId);
        presence.disconnect(socket.connId);
      }
      await presence.stop();
      for (const unsubscribe of unsubscribers.splice(0)) unsubscribe();
      await engine.close();
    },
  } satisfies Feature;
}
