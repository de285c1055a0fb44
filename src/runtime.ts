import type { AnyElysia } from 'elysia';
import type Redis from 'ioredis';
import type { Config } from './config';
import type { Sql } from './db/client';
import type { Logger } from './lib/logger';
import type { ConnectionStatus, RedisRole } from './lib/redis';
import type { TokenService } from './modules/auth/tokens';
import type { TasksService } from './modules/tasks/service';
import type { UsersService } from './modules/users/service';
import type { EventBus } from './realtime/bus';
import type { SocketHub } from './realtime/hub';

/**
 * The shared parts of one running instance, built once by `src/server.ts`. A feature takes
 * the `Pick<Runtime, …>` it uses, so its signature says what it depends on.
 */
export interface Runtime {
  config: Config;
  log: Logger;
  /** Unique per process start: a restarted instance is a new instance (its old presence entries expire). */
  instanceId: string;
  /** True when running on the embedded single-connection database. */
  embedded: boolean;
  sql: Sql;
  /** Command connection (undefined in single-instance mode). */
  redis: Redis | undefined;
  /** Every Redis connection of this instance while open, by role (`hive_redis_up` reads them). */
  redisConnections: Map<ConnectionStatus, RedisRole>;
  bus: EventBus;
  hub: SocketHub;
  tokens: TokenService;
  users: UsersService;
  tasks: TasksService;
}

/**
 * The one way a feature is mounted: its routes (an Elysia instance, used by `createApp`),
 * and optional background work started after the server listens and stopped, in reverse
 * order, on shutdown.
 */
export interface Feature<Routes extends AnyElysia = AnyElysia> {
  name: string;
  routes?: Routes;
  start?(): Promise<void> | void;
  /** Graceful: e.g. close sockets with 1001 and release presence. */
  stop?(): Promise<void> | void;
}
