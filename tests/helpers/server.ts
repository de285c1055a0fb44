import { afterAll } from 'bun:test';
import { type Config, loadConfig } from '../../src/config';
import type { Sql } from '../../src/db/client';
import { createLogger, silentLogger } from '../../src/lib/logger';
import { type RunningServer, startServer } from '../../src/server';
import { createTestDatabase, type TestDatabase } from './db';
import { TEST_REDIS_URL } from './env';
import { startTcpProxy, type TcpProxy } from './tcp-proxy';

export interface TestServer extends RunningServer {
  sql: Sql;
  wsUrl: string;
}

const LOG = process.env.TEST_LOG_LEVEL ? createLogger(process.env.TEST_LOG_LEVEL as 'debug') : silentLogger;

/**
 * The environment a test server starts from: a fresh database (real PostgreSQL when
 * TEST_DATABASE_URL is set, else in-memory PGlite), Redis with a key prefix of its own when
 * TEST_REDIS_URL is set, port 0, no demo data, short presence timings.
 */
export function testEnv(db: TestDatabase, extra: Record<string, string> = {}, redisPrefix?: string) {
  return {
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'error',
    HIVE_SEED_DEMO: 'false',
    PRESENCE_GRACE_MS: '300',
    PRESENCE_TTL_MS: '1500',
    LOGIN_RATE_LIMIT_PER_MINUTE: '1000',
    ...(db.url ? { DATABASE_URL: db.url } : {}),
    ...(TEST_REDIS_URL && db.url
      ? { REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: redisPrefix ?? uniquePrefix() }
      : {}),
    ...extra,
  } satisfies Record<string, string>;
}

export function uniquePrefix(): string {
  return `hive-test:${Date.now().toString(36)}${Math.random().toString(36).slice(2, 7)}:`;
}

/**
 * Start an in-process server for this test file, stopped (and its database dropped) after
 * the file's tests. Pass `db` to start a second instance on the same database, and
 * `redisPrefix` to share one Redis namespace between instances.
 */
export async function startTestServer(
  opts: { env?: Record<string, string>; db?: TestDatabase; redisPrefix?: string } = {},
): Promise<TestServer & { db: TestDatabase; config: Config }> {
  const ownDb = opts.db === undefined;
  const db = opts.db ?? (await createTestDatabase());
  const config = loadConfig(testEnv(db, opts.env, opts.redisPrefix));
  const server = await startServer(config, { log: LOG, inMemory: true });
  const stop = async () => {
    await server.stop();
    if (ownDb) await db.drop();
  };
  afterAll(stop);
  return {
    ...server,
    stop,
    db,
    config,
    sql: server.runtime.sql,
    wsUrl: server.url.replace(/^http/, 'ws'),
  };
}

/**
 * Two instances on one database and one Redis namespace (real stack only): A reaches Redis
 * directly, B through a TCP proxy the test controls, to cut B off from the cluster.
 */
export async function startPairWithProxiedRedis(): Promise<{
  proxy: TcpProxy;
  a: TestServer;
  b: TestServer;
}> {
  const redisUrl = new URL(TEST_REDIS_URL!);
  const proxy = startTcpProxy({ host: redisUrl.hostname, port: Number(redisUrl.port || 6379) });
  const db = await createTestDatabase();
  afterAll(() => db.drop());
  const redisPrefix = uniquePrefix();
  const a = await startTestServer({ db, redisPrefix });
  const b = await startTestServer({ db, env: { REDIS_URL: proxy.url(TEST_REDIS_URL!) }, redisPrefix });
  return { proxy, a, b };
}
