import { closeRedis, connectRedis, createRedis } from '../../lib/redis';
import { CloseCodes, type ServerFrame } from '../../protocol/frames';
import type { SocketHub } from '../../realtime/hub';
import { wsRoutes } from '../../realtime/ws';
import type { Feature, Runtime } from '../../runtime';
import { createRedisPresenceStore } from './redis-store';
import { createPresenceService, presenceTimings } from './service';
import { createMemoryPresenceStore } from './store';

/**
 * Fan-out to local sockets gets at most this much of each event-loop turn. Under a connect
 * storm every transition goes to every socket (N² frames); sending them in slices lets
 * upgrades, Redis replies and the presence writes in between instead of waiting behind it.
 */
const FANOUT_SLICE_MS = 4;

/** Frames waiting for local fan-out, in order, sent in time-boxed slices. */
function createFanoutQueue(hub: SocketHub) {
  let queue: ServerFrame[] = [];
  let head = 0;
  let scheduled = false;
  function drain() {
    scheduled = false;
    const until = performance.now() + FANOUT_SLICE_MS;
    while (head < queue.length && performance.now() < until) hub.broadcast(queue[head++]!);
    if (head < queue.length) {
      scheduled = true;
      setImmediate(drain);
    } else {
      queue = [];
      head = 0;
    }
  }
  return {
    push(frame: ServerFrame) {
      queue.push(frame);
      if (!scheduled) {
        scheduled = true;
        setImmediate(drain);
      }
    },
  };
}

/** How long shutdown waits for clients to acknowledge the 1001 close before releasing them anyway. */
const CLOSE_WAIT_MS = 1_000;

/**
 * Live presence over WebSockets: the `/ws` route, presence bookkeeping (Redis or memory),
 * and fan-out of `presence` and `tasks` bus events to this instance's sockets.
 */
export function createPresenceFeature(rt: Runtime) {
  const { config, log, hub, bus } = rt;
  const timings = presenceTimings(config.presenceTtlMs);
  // Presence has a Redis connection of its own: its scripts never queue behind (or time out
  // like) request-path commands, and it detects a frozen Redis by itself (src/lib/redis.ts).
  const presenceRedis = config.redisUrl
    ? createRedis(config.redisUrl, `hive:${rt.instanceId}:presence`, log, 'presence')
    : undefined;
  const store = presenceRedis
    ? createRedisPresenceStore({
        redis: presenceRedis,
        prefix: config.redisPrefix,
        instanceId: rt.instanceId,
        instanceExpiryMs: timings.instanceExpiryMs,
        graceMs: config.presenceGraceMs,
        silence: { afterMs: timings.silenceAfterMs, settleMs: timings.settleAfterSilenceMs },
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
  const fanout = createFanoutQueue(hub);

  return {
    name: 'presence',
    routes: wsRoutes({
      hub,
      log,
      verifyToken: (token) => rt.tokens.verify(token),
      onOpen: (conn) => presence.connect(conn.connId, conn.userId),
      onClose: (conn) => presence.disconnect(conn.connId),
    }),

    async start() {
      // Every instance forwards every presence and task event to its own sockets; the
      // bus has already dropped our own Redis echoes (we got those in process).
      unsubscribers.push(
        // Task and presence bus messages are WebSocket frames already (src/protocol/bus.ts).
        // A presence frame that changes nothing our sockets were told is a repeat: dropped.
        bus.subscribe('presence', (message) => {
          if (presence.admit(message.data)) fanout.push(message);
        }),
        bus.subscribe('tasks', (message) => fanout.push(message)),
      );
      // Down at start-up is not fatal: presence registers once Redis is reachable.
      if (presenceRedis)
        await connectRedis(presenceRedis).catch((err) => log.warn('presence: redis unreachable', { err }));
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
      if (presenceRedis) await closeRedis(presenceRedis);
    },
  } satisfies Feature;
}
