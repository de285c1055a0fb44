import type Redis from 'ioredis';
import { createApp } from './app';
import type { Config } from './config';
import { createSql } from './db/client';
import { type EmbeddedDatabase, startEmbeddedDatabase } from './db/embedded';
import { runMigrations } from './db/migrate';
import { DEMO_PASSWORD, DEMO_USERS, seedDemoData } from './db/seed';
import { createLogger, type Logger } from './lib/logger';
import { createMemoryRateLimiter, createRedisRateLimiter } from './lib/rate-limit';
import { connectRedis, createRedis } from './lib/redis';
import { createDashboardFeature } from './modules/dashboard/feature';
import { countTasksFromCube } from './modules/dashboard/service';
import { createPresenceFeature } from './modules/presence/feature';
import { createTasksService } from './modules/tasks/service';
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

/**
 * The composition root: connect, migrate, seed, build the app, listen. Everything with a
 * side effect starts here, so `createApp` stays pure and tests can build instances freely.
 */
export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const instanceId = `${process.pid.toString(36)}-${crypto.randomUUID().slice(0, 8)}`;
  const log = (options.log ?? createLogger(config.logLevel)).child({ instance: instanceId });
  const cleanup: (() => Promise<unknown>)[] = [];
  try {
    let embedded: EmbeddedDatabase | undefined;
    let databaseUrl = config.databaseUrl;
    if (!databaseUrl) {
      embedded = await startEmbeddedDatabase(options.inMemory ? undefined : config.dataDir, log);
      cleanup.push(() => embedded!.stop());
      databaseUrl = embedded.url;
    }
    await runMigrations(databaseUrl, log);
    await embedded?.waitUntilIdle();

    const sql = createSql(databaseUrl, { max: embedded ? 1 : 10, applicationName: `hive ${instanceId}` });
    cleanup.push(() => sql.end({ timeout: 5 }));

    let redis: Redis | undefined;
    let bus: EventBus;
    if (config.redisUrl) {
      redis = createRedis(config.redisUrl, `hive:${instanceId}:cmd`, log);
      const subscriber = createRedis(config.redisUrl, `hive:${instanceId}:sub`, log, {
        queueWhileOffline: true,
      });
      cleanup.push(() => redis!.quit().catch(() => redis!.disconnect()));
      cleanup.push(() => subscriber.quit().catch(() => subscriber.disconnect()));
      // A Redis that is down at start-up is not fatal: REST serves, presence catches up when it returns.
      await Promise.all([connectRedis(redis), connectRedis(subscriber)]).catch((err) =>
        log.warn('redis unreachable at start-up; continuing, will reconnect', { err }),
      );
      bus = createRedisBus({ instanceId, prefix: config.redisPrefix, publisher: redis, subscriber, log });
    } else {
      bus = createInProcessBus(instanceId, log);
    }
    cleanup.push(() => bus.close());

    if (config.seedDemo) {
      const seeded = await seedDemoData(sql, log);
      if (seeded) {
        log.info(`demo login: ${DEMO_USERS[0].email} / ${DEMO_PASSWORD}`);
      }
    }

    const users = createUsersService(sql);
    const tasks = createTasksService({ sql, bus, countTasks: countTasksFromCube });
    const runtime: Runtime = {
      config,
      log,
      instanceId,
      embedded: embedded !== undefined,
      sql,
      redis,
      bus,
      hub: createSocketHub(),
      users,
      tasks,
    };

    const features: Feature[] = [
      createPresenceFeature(runtime),
      createDashboardFeature(runtime),
      createWebFeature(runtime),
    ];
    const loginLimiter = redis
      ? createRedisRateLimiter(redis, config.redisPrefix, config.loginRateLimitPerMinute, 60_000, log)
      : createMemoryRateLimiter(config.loginRateLimitPerMinute, 60_000);
    const app = createApp({
      config,
      log,
      sql,
      redis,
      bus,
      users,
      tasks,
      loginLimiter,
      modules: features.flatMap((f) => (f.routes ? [f.routes] : [])),
    });

    app.listen({ port: config.port, hostname: config.host });
    const server = app.server!;
    const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${server.port}`;
    for (const f of features) await f.start?.();
    log.info('listening', { url, database: embedded ? 'embedded' : 'postgres', redis: redis ? 'on' : 'off' });

    let stopping: Promise<void> | undefined;
    return {
      url,
      port: server.port!,
      runtime,
      stop() {
        stopping ??= (async () => {
          log.info('shutting down');
          for (const f of [...features].reverse()) {
            try {
              await f.stop?.();
            } catch (err) {
              log.error('feature stop failed', { feature: f.name, err });
            }
          }
          await app.stop(false); // stop accepting; in-flight requests finish
          for (const fn of cleanup.reverse()) await fn().catch(() => {});
          log.info('stopped');
        })();
        return stopping;
      },
    };
  } catch (err) {
    for (const fn of cleanup.reverse()) await fn().catch(() => {});
    throw err;
  }
}
