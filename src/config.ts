/**
 * Configuration from the environment, validated once at start-up. A bad value stops the
 * process with a message naming the variable, rather than failing later in a request.
 */

export const DEV_JWT_SECRET = 'hive-development-secret-change-me-0123456789';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export interface Config {
  /** HTTP and WebSocket port; 0 picks a free one (tests). Default 8000. */
  port: number;
  /**
   * The listening socket's accept queue: connections the kernel holds while the loop is busy.
   * Bun listens with 512; at a connect storm's rate that queue fills and every client whose SYN
   * finds it full waits 1 s (then 3 s, 7 s) to retry. Default 4096; the kernel caps it at
   * net.core.somaxconn (src/lib/listen-backlog.ts).
   */
  listenBacklog: number;
  /** Bind address. Default 127.0.0.1 so a laptop does not expose the dev server; 0.0.0.0 in containers. */
  host: string;
  /** A real PostgreSQL. Unset: embedded PGlite under dataDir. */
  databaseUrl: string | undefined;
  /** Where embedded data lives. Default ./.hive */
  dataDir: string;
  /** Redis for presence, events and caches shared between instances. Unset: single-instance mode. */
  redisUrl: string | undefined;
  /** Prefix for every Redis key and channel, so several deployments (or tests) can share one Redis. */
  redisPrefix: string;
  jwtSecret: string;
  /** Access-token lifetime. Default one hour. */
  accessTokenTtlS: number;
  /** Delay between a user's last connection closing and going offline; absorbs page reloads. */
  presenceGraceMs: number;
  /** A connection whose instance stops renewing it is dropped after this long (crash, kill -9). */
  presenceTtlMs: number;
  /**
   * Above this many users online, a socket gets presence changes only for the users it
   * subscribed to (`presence_subscribe`) plus a coalesced online count; at or below it, every
   * change reaches every socket. Default 200: up to there a burst is at most 200² small
   * frames, beyond it the fan-out grows as N² (see README "Presence at scale"). 0 = always.
   */
  presenceSubscribeThreshold: number;
  /**
   * On real PostgreSQL and Redis, run the presence store and its database writes on a thread
   * of their own (src/modules/presence/engine-thread.ts), so a socket's open is committed
   * without waiting behind the main loop. Default on; off runs them in the main thread.
   */
  presenceThread: boolean;
  logLevel: LogLevel;
  nodeEnv: string;
  /** Load demo users and tasks into an empty database. Default on outside production. */
  seedDemo: boolean;
  /** Largest accepted request body. 1 MiB: tasks are small; anything bigger is a mistake or abuse. */
  maxBodyBytes: number;
  /** Login attempts allowed per IP and email per minute before 429. */
  loginRateLimitPerMinute: number;
  /**
   * Origins (scheme://host[:port]) whose browser apps may call the API; `*` allows any.
   * Default none: same-origin only, since tokens are bearer tokens a foreign page should
   * not be able to use without the operator saying so.
   */
  corsOrigins: string[];
  /**
   * Bearer token that `GET /metrics` requires. Unset (default): only loopback clients may
   * read it, so a fresh install does not publish its internals to the network.
   */
  metricsToken: string | undefined;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function readInt(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(name, `expected an integer, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max)
    throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function readBool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(name, `expected true or false, got "${env[name]}"`);
}

/** A comma-separated list of origins: each `*` or a bare scheme://host[:port] (no path). */
function readOrigins(env: Env, name: string): string[] {
  const items = (env[name] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return items.map((item) => {
    if (item === '*') return item;
    let url: URL;
    try {
      url = new URL(item);
    } catch {
      throw new ConfigError(name, `"${item}" is not an origin such as https://app.example.com`);
    }
    if (!['http:', 'https:'].includes(url.protocol) || url.origin !== item.replace(/\/$/, ''))
      throw new ConfigError(name, `"${item}" is not an origin such as https://app.example.com (no path)`);
    return url.origin;
  });
}

function readSecret(env: Env, name: string, minLength: number): string | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  if (raw.length < minLength) throw new ConfigError(name, `must be at least ${minLength} characters`);
  return raw;
}

function readUrl(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, 'is not a valid URL');
  }
  if (!protocols.includes(url.protocol)) {
    throw new ConfigError(name, `must start with ${protocols.map((p) => `${p}//`).join(' or ')}`);
  }
  return raw;
}

export function loadConfig(env: Env = process.env): Config {
  const nodeEnv = env.NODE_ENV?.trim() || 'development';
  const production = nodeEnv === 'production';

  const jwtSecret = env.JWT_SECRET?.trim() || DEV_JWT_SECRET;
  if (production && jwtSecret === DEV_JWT_SECRET) {
    throw new ConfigError('JWT_SECRET', 'must be set to your own secret when NODE_ENV=production');
  }
  if (jwtSecret.length < 32) {
    throw new ConfigError('JWT_SECRET', 'must be at least 32 characters (HS256 needs a long random key)');
  }

  const logLevel = (env.LOG_LEVEL?.trim().toLowerCase() || 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`);
  }

  const presenceTtlMs = readInt(env, 'PRESENCE_TTL_MS', 15_000, 300, 30_000);

  return {
    port: readInt(env, 'PORT', 8000, 0, 65_535),
    host: env.HOST?.trim() || '127.0.0.1',
    listenBacklog: readInt(env, 'LISTEN_BACKLOG', 4096, 1, 65_535),
    databaseUrl: readUrl(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    dataDir: env.HIVE_DATA_DIR?.trim() || './.hive',
    redisUrl: readUrl(env, 'REDIS_URL', ['redis:', 'rediss:']),
    redisPrefix: env.REDIS_PREFIX?.trim() || 'hive:',
    jwtSecret,
    accessTokenTtlS: readInt(env, 'ACCESS_TOKEN_TTL_S', 3600, 1, 30 * 24 * 3600),
    presenceGraceMs: readInt(env, 'PRESENCE_GRACE_MS', 2_000, 0, 5_000),
    presenceTtlMs,
    presenceSubscribeThreshold: readInt(env, 'PRESENCE_SUBSCRIBE_THRESHOLD', 200, 0, 1_000_000),
    presenceThread: readBool(env, 'PRESENCE_THREAD', true),
    logLevel,
    nodeEnv,
    seedDemo: readBool(env, 'HIVE_SEED_DEMO', !production),
    maxBodyBytes: readInt(env, 'MAX_BODY_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    loginRateLimitPerMinute: readInt(env, 'LOGIN_RATE_LIMIT_PER_MINUTE', 10, 1, 1_000_000),
    corsOrigins: readOrigins(env, 'CORS_ORIGINS'),
    metricsToken: readSecret(env, 'METRICS_TOKEN', 16),
  };
}
