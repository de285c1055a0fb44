import type Redis from 'ioredis';
import { type AppOf, createApp } from './app';
import type { Config } from './config';
import { openDatabase, SERVER_SESSION_PREFIX } from './db/bootstrap';
import { databaseHealth } from './db/client';
import { DEMO_PASSWORD, DEMO_USERS, seedDemoData } from './demo-seed';
import { createMetricsFeature } from './http/metrics';
import { installFastFormats } from './lib/formats';
import { raiseListenBacklog } from './lib/listen-backlog';
import { createLogger, type Logger } from './lib/logger';
import { type ConnectionStatus, closeRedis, connectRedis, createRedis, type RedisRole } from './lib/redis';
import { createAuthFeature } from './modules/auth';
import { createAccountFeedFeature } from './modules/auth/account-feed';
import { createAccountCache } from './modules/auth/accounts';
import { passwordGate } from './modules/auth/passwords';
import { createSessionsFeature } from './modules/auth/sessions';
import { createTokenService } from './modules/auth/tokens';
import { createDashboardFeature } from './modules/dashboard/feature';
import { countTasksFromCube } from './modules/dashboard/service';
import { createPresenceFeature } from './modules/presence/feature';
import { createTasksFeature } from './modules/tasks';
import { createTasksService } from './modules/tasks/service';
import { createUsersFeature } from './modules/users';
import { createUsersService } from './modules/users/service';
import { createInProcessBus, createRedisBus, type EventBus } from './realtime/bus';
import { createSocketHub } from './realtime/hub';
import type { Feature, Runtime } from './runtime';
import { createWebFeature } from './web/feature';

export interface RunningServer {
  url: string;
  port: number;
  runtime: Runtime;
  /** Graceful stop: stop accepting, close sockets (1001), finish in-flight requests, close connections. */
  stop(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  /** Embedded mode only: keep data in memory instead of HIVE_DATA_DIR (tests). */
  inMemory?: boolean;
}

type Cleanup = () => Promise<unknown>;

/**
 * Redis when configured: a command connection and a subscriber (a subscribed ioredis
 * connection can run no other command), and the bus over them; else the in-process bus.
 */
async function connectBus(config: Config, instanceId: string, log: Logger, cleanup: Cleanup[]) {
  const redisConnections = new Map<ConnectionStatus, RedisRole>();
  if (!config.redisUrl)
    return { redis: undefined, redisConnections, bus: createInProcessBus(instanceId, log) };
  const redis: Redis = createRedis(config.redisUrl, `hive:${instanceId}:cmd`, log, 'command');
  const subscriber = createRedis(config.redisUrl, `hive:${instanceId}:sub`, log, 'subscriber');
  redisConnections.set(redis, 'command').set(subscriber, 'subscriber');
  cleanup.push(() => closeRedis(redis));
  cleanup.push(() => closeRedis(subscriber));
  // A Redis that is down at start-up is not fatal: REST serves, presence catches up when it returns.
  await Promise.all([connectRedis(redis), connectRedis(subscriber)]).catch((err) =>
    log.warn('redis unreachable at start-up; continuing, will reconnect', { err }),
  );
  const bus: EventBus = createRedisBus({
    instanceId,
    prefix: config.redisPrefix,
    publisher: redis,
    subscriber,
    log,
  });
  return { redis, redisConnections, bus };
}

/**
 * Every feature of the service, in mounting order (stopped in reverse). A tuple (`as const`),
 * so `createApp` keeps each feature's route types and `App` types every route.
 */
function createFeatures(rt: Runtime) {
  return [
    createAccountFeedFeature({
      sql: rt.sql,
      accounts: rt.tokens.accounts,
      instanceId: rt.instanceId,
      embedded: rt.embedded,
      log: rt.log.child({ feature: 'account-feed' }),
    }),
    createAuthFeature(rt),
    createUsersFeature(rt),
    createTasksFeature(rt),
    createPresenceFeature(rt),
    createDashboardFeature(rt),
    createWebFeature(rt),
    createSessionsFeature({ hub: rt.hub, accounts: rt.tokens.accounts, log: rt.log }),
    createMetricsFeature(rt, passwordGate),
  ] as const satisfies readonly Feature[];
}

/**
 * How long the features may take to stop: presence waits out its grace (so users go offline
 * through the normal path), then a little for its last writes. While PostgreSQL is
 * unreachable those writes cannot land, so shutdown does not wait for them: an orchestrator
 * replacing instances during a database outage must not find them lingering (other
 * instances and the next start reconcile presence).
 */
function featureStopBudgetMs(rt: Runtime): number {
  return rt.config.presenceGraceMs + (databaseHealth(rt.sql)?.isDown() ? 250 : 3_000);
}

async function stopFeatures(rt: Runtime, features: readonly Feature[]) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const budget = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), featureStopBudgetMs(rt));
  });
  let late = false;
  for (const f of [...features].reverse()) {
    const stopped = Promise.resolve()
      .then(() => f.stop?.())
      .catch((err) => rt.log.error('feature stop failed', { feature: f.name, err }));
    // Past the budget the remaining features are still told to stop (presence closes its
    // sockets with 1001 first thing), just not waited for.
    if (late) continue;
    if ((await Promise.race([stopped, budget])) === 'late') {
      late = true;
      rt.log.warn('shutdown: a feature did not stop in time; not waiting any longer', { feature: f.name });
    }
  }
  clearTimeout(timer);
}

/** The whole HTTP app's type, for `treaty<App>()` from @elysiajs/eden. */
export type App = AppOf<ReturnType<typeof createFeatures>>;

/** How long shutdown waits for open connections (in-flight requests) once nothing new is accepted. */
const DRAIN_MS = 5_000;

/**
 * Stop accepting first, so a client told to reconnect (1001) cannot land on this instance
 * again; then stop features in reverse (presence closes its sockets); then wait, bounded, for
 * in-flight requests; then close connections. Accepting until the end let the page's
 * immediate reconnect open a socket no feature would close, and the drain then waited for
 * the 60 s idle timeout.
 */
async function shutdown(
  rt: Runtime,
  features: readonly Feature[],
  server: { stop(closeActiveConnections?: boolean): Promise<void> },
  cleanup: Cleanup[],
) {
  rt.log.info('shutting down');
  const drained = server.stop(false);
  await stopFeatures(rt, features);
  const late = await Promise.race([drained.then(() => false), Bun.sleep(DRAIN_MS).then(() => true)]);
  if (late) {
    rt.log.warn('shutdown: connections still open after the drain; closing them');
    await server.stop(true);
  }
  for (const fn of cleanup.reverse()) await fn().catch(() => {});
  rt.log.info('stopped');
}

/** Resize the accept queue (LISTEN_BACKLOG); the queue the kernel keeps, or Bun's 512 if it cannot. */
async function listenBacklog(port: number, wanted: number, log: Logger): Promise<number> {
  const outcome = await raiseListenBacklog(port, wanted);
  if (outcome.applied) return outcome.backlog;
  // Expected off Linux (a laptop); only there is a failure worth a warning.
  const level = process.platform === 'linux' ? 'warn' : 'info';
  log[level]("LISTEN_BACKLOG not applied; the accept queue stays at Bun's 512", {
    wanted,
    reason: outcome.reason,
  });
  return 512;
}

/**
 * The composition root: connect, migrate, seed, build the app, listen. Everything with a
 * side effect starts here, so `createApp` stays pure and tests can build instances freely.
 */
export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  installFastFormats();
  const instanceId = `${process.pid.toString(36)}-${crypto.randomUUID().slice(0, 8)}`;
  const log = (options.log ?? createLogger(config.logLevel)).child({ instance: instanceId });
  const cleanup: Cleanup[] = [];
  try {
    const db = await openDatabase(config, log, { inMemory: options.inMemory });
    cleanup.push(() => db.stop());
    const sql = db.connect(`${SERVER_SESSION_PREFIX}${instanceId}`, undefined, { log });
    // In-flight requests are done by then; a connection still busy gets a second at most.
    cleanup.push(() => sql.end({ timeout: 1 }));
    const { redis, redisConnections, bus } = await connectBus(config, instanceId, log, cleanup);
    cleanup.push(() => bus.close());

    if (config.seedDemo && (await seedDemoData(sql, log))) {
      log.info(`demo login: ${DEMO_USERS[0].email} / ${DEMO_PASSWORD}`);
    }
    const rt: Runtime = {
      config,
      log,
      instanceId,
      embedded: db.embedded !== undefined,
      sql,
      redis,
      redisConnections,
      bus,
      hub: createSocketHub({ log: log.child({ component: 'hub' }) }),
      tokens: createTokenService(config, createAccountCache(sql)),
      users: createUsersService(sql),
      tasks: createTasksService({ sql, bus, countTasks: countTasksFromCube }),
    };
    const features = createFeatures(rt);
    const app = createApp(rt, features).listen({ port: config.port, hostname: config.host });
    const port = app.server!.port!;
    const backlog = await listenBacklog(port, config.listenBacklog, log);
    const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
    for (const f of features as readonly Feature[]) await f.start?.();
    log.info('listening', {
      url,
      database: rt.embedded ? 'embedded' : 'postgres',
      redis: redis ? 'on' : 'off',
      listen_backlog: backlog,
    });

    let stopping: Promise<void> | undefined;
    return {
      url,
      port,
      runtime: rt,
      stop: () => {
        stopping ??= shutdown(rt, features, app.server!, cleanup);
        return stopping;
      },
    };
  } catch (err) {
    for (const fn of cleanup.reverse()) await fn().catch(() => {});
    throw err;
  }
}
