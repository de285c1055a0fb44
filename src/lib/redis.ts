import Redis, { type RedisOptions } from 'ioredis';
import type { Logger } from './logger';

/**
 * What a connection is for, which decides how it behaves while Redis is away:
 * - `command`: request-path commands (login rate limit, shared summary cache, /ready) and bus
 *   publishes. Every caller has a fallback, so a command must answer fast or fail fast.
 * - `presence`: the presence scripts. Off the request path, so no per-command deadline (a
 *   script that timed out on our side would still run on Redis, and its result — a
 *   transition — would be lost); a dead or frozen peer is detected by `socketTimeout` instead.
 * - `subscriber`: pub/sub. Its SUBSCRIBE waits for the connection (offline queue) and is
 *   never dropped, so subscriptions made while Redis is down take effect when it returns.
 */
export type RedisRole = 'command' | 'subscriber' | 'presence';
/** What `hive_redis_up` reads of a connection: an ioredis client, or the presence thread's report of its own. */
export interface ConnectionStatus {
  readonly status: string;
}

/** How long a request waits for Redis before using its fallback (issue 10: ≤ 250–500 ms). */
export const REDIS_COMMAND_TIMEOUT_MS = 250;
/** Reconnect attempts are at most this far apart, so service resumes within ~½ s of Redis returning. */
export const REDIS_RECONNECT_MAX_MS = 500;

/**
 * No byte from Redis for this long while a reply is due: the peer is frozen (SIGSTOP), or
 * the path black-holes packets. The socket is dropped and reconnected, so later calls fail
 * at once (no offline queue) instead of each waiting out its deadline. Longer on the presence
 * connection, whose spurious drop costs a full re-registration.
 */
const SOCKET_TIMEOUT_MS: Record<RedisRole, number> = { command: 1_000, presence: 2_000, subscriber: 2_000 };

function optionsFor(role: RedisRole): RedisOptions {
  const shared: RedisOptions = {
    lazyConnect: true,
    connectTimeout: 2_000,
    socketTimeout: SOCKET_TIMEOUT_MS[role],
    retryStrategy: (times) => Math.min(50 * times, REDIS_RECONNECT_MAX_MS),
    // After a failover the old primary answers READONLY: reconnect to reach the new one.
    reconnectOnError: (err) => err.message.startsWith('READONLY'),
  };
  if (role === 'subscriber') return { ...shared, enableOfflineQueue: true, maxRetriesPerRequest: null };
  return {
    ...shared,
    // Fail at once while disconnected, rather than queue behind the outage.
    enableOfflineQueue: false,
    // A command in flight when the connection drops fails at once and is never re-sent on
    // the next connection: re-sending would run a PUBLISH, an INCR or a presence script twice.
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    // Commands issued in the same event-loop turn go out in one write: a CPU profile of a
    // 10,000-socket storm showed a socket write per command as a tenth of the server's time.
    enableAutoPipelining: true,
    ...(role === 'command' ? { commandTimeout: REDIS_COMMAND_TIMEOUT_MS } : {}),
  };
}

export function createRedis(url: string, name: string, log: Logger, role: RedisRole): Redis {
  const client = new Redis(url, { connectionName: name, ...optionsFor(role) });
  let down = false;
  client.on('error', (err) => {
    if (!down) log.warn('redis connection error', { connection: name, err });
    down = true;
  });
  client.on('ready', () => {
    if (down) log.info('redis connection restored', { connection: name });
    down = false;
  });
  return client;
}

/** Connect now (a lazy connection would otherwise fail its first command while connecting). */
export async function connectRedis(client: Redis): Promise<void> {
  if (client.status === 'wait') await client.connect();
}

/** Close, or drop at once if Redis cannot answer the QUIT (a frozen Redis must not hold up shutdown). */
export async function closeRedis(client: Redis): Promise<void> {
  const dropped = new Promise<void>((resolve) => setTimeout(resolve, REDIS_COMMAND_TIMEOUT_MS));
  await Promise.race([client.quit().catch(() => {}), dropped]);
  client.disconnect();
}
