import type { Sql } from '../../db/client';
import { iso } from '../../lib/schemas';
import type { PresenceChange } from '../../protocol/bus';
import { CloseCodes } from '../../protocol/frames';
import { wsRoutes } from '../../realtime/ws';
import type { Feature, Runtime } from '../../runtime';
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
 * Live presence over WebSockets: the `/ws` route, presence bookkeeping (Redis or memory),
 * presence fan-out (batched, by subscription above the threshold: ./fanout.ts) and task
 * events to this instance's sockets.
 */
export function createPresenceFeature(rt: Runtime): Feature {
  const { config, log, hub, bus } = rt;
  const store = rt.redis
    ? createRedisPresenceStore({
        redis: rt.redis,
        prefix: config.redisPrefix,
        instanceId: rt.instanceId,
        instanceExpiryMs: presenceTimings(config.presenceTtlMs).instanceExpiryMs,
        graceMs: config.presenceGraceMs,
      })
    : createMemoryPresenceStore();
  const presence = createPresenceService({
    store,
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
  let onRedisReady: (() => void) | undefined;

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
        bus.subscribe('presence', (message) => fanout.deliver(message.changes)),
        // Task bus messages are WebSocket frames already (src/protocol/bus.ts).
        bus.subscribe('tasks', (message) => hub.broadcast(message)),
        bus.onReconnect(() => fanout.resendSubscriptions()),
        () => fanout.stop(),
      );
      await fanout.start();
      if (rt.redis) {
        const redis = rt.redis;
        let wasReady = redis.status === 'ready';
        onRedisReady = () => {
          if (wasReady) return;
          wasReady = true;
          presence.storeReconnected();
        };
        const onDown = () => {
          wasReady = false;
        };
        redis.on('ready', onRedisReady);
        redis.on('close', onDown);
        unsubscribers.push(() => {
          redis.off('ready', onRedisReady!);
          redis.off('close', onDown);
        });
      }
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
    },
  };
}
