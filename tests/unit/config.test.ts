import { describe, expect, test } from 'bun:test';
import { ConfigError, DEV_JWT_SECRET, loadConfig } from '../../src/config';

describe('loadConfig', () => {
  test('defaults follow the contract', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 8000,
      host: '127.0.0.1',
      databaseUrl: undefined,
      dataDir: './.hive',
      redisUrl: undefined,
      jwtSecret: DEV_JWT_SECRET,
      accessTokenTtlS: 3600,
      logLevel: 'info',
      seedDemo: true,
      maxBodyBytes: 1024 * 1024,
      presenceThread: true,
      listenBacklog: 4096,
    });
    expect(c.presenceGraceMs).toBeLessThanOrEqual(5000);
    expect(c.presenceTtlMs).toBeLessThanOrEqual(30_000);
  });

  test('reads every variable', () => {
    const c = loadConfig({
      PORT: '9001',
      HOST: '0.0.0.0',
      DATABASE_URL: 'postgres://u:p@db:5432/hive',
      HIVE_DATA_DIR: '/tmp/hive-data',
      REDIS_URL: 'redis://cache:6379',
      JWT_SECRET: 's'.repeat(40),
      ACCESS_TOKEN_TTL_S: '60',
      PRESENCE_GRACE_MS: '0',
      PRESENCE_TTL_MS: '10000',
      PRESENCE_THREAD: 'off',
      LOG_LEVEL: 'debug',
      LISTEN_BACKLOG: '1024',
    });
    expect(c).toMatchObject({
      listenBacklog: 1024,
      port: 9001,
      host: '0.0.0.0',
      databaseUrl: 'postgres://u:p@db:5432/hive',
      dataDir: '/tmp/hive-data',
      redisUrl: 'redis://cache:6379',
      jwtSecret: 's'.repeat(40),
      accessTokenTtlS: 60,
      presenceGraceMs: 0,
      presenceTtlMs: 10_000,
      presenceThread: false,
      logLevel: 'debug',
    });
  });

  const bad: [string, Record<string, string>][] = [
    ['PORT', { PORT: 'eighty' }],
    ['PORT', { PORT: '70000' }],
    ['PORT', { PORT: '-1' }],
    ['PORT', { PORT: '80.5' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://localhost/db' }],
    ['DATABASE_URL', { DATABASE_URL: 'not a url' }],
    ['REDIS_URL', { REDIS_URL: 'http://localhost:6379' }],
    ['ACCESS_TOKEN_TTL_S', { ACCESS_TOKEN_TTL_S: '0' }],
    ['PRESENCE_GRACE_MS', { PRESENCE_GRACE_MS: '60000' }],
    ['PRESENCE_TTL_MS', { PRESENCE_TTL_MS: '600000' }],
    ['LOG_LEVEL', { LOG_LEVEL: 'verbose' }],
    ['JWT_SECRET', { JWT_SECRET: 'short' }],
    ['HIVE_SEED_DEMO', { HIVE_SEED_DEMO: 'maybe' }],
    ['PRESENCE_THREAD', { PRESENCE_THREAD: 'sometimes' }],
    ['CORS_ORIGINS', { CORS_ORIGINS: 'app.example.com' }],
    ['CORS_ORIGINS', { CORS_ORIGINS: 'https://app.example.com/path' }],
    ['CORS_ORIGINS', { CORS_ORIGINS: 'ftp://files.example.com' }],
    ['METRICS_TOKEN', { METRICS_TOKEN: 'short' }],
    ['LISTEN_BACKLOG', { LISTEN_BACKLOG: '0' }],
    ['LISTEN_BACKLOG', { LISTEN_BACKLOG: 'lots' }],
  ];
  test.each(bad)('a bad %s is refused with a message naming it', (variable, env) => {
    let caught: unknown;
    try {
      loadConfig(env);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).variable).toBe(variable);
    expect((caught as Error).message).toStartWith(`${variable}:`);
  });

  test('production refuses the development JWT secret, explicit or defaulted', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/JWT_SECRET/);
    expect(() => loadConfig({ NODE_ENV: 'production', JWT_SECRET: DEV_JWT_SECRET })).toThrow(/JWT_SECRET/);
    const c = loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'p'.repeat(48) });
    expect(c.jwtSecret).toBe('p'.repeat(48));
    // Demo data is never loaded in production unless asked for.
    expect(c.seedDemo).toBe(false);
  });

  test('CORS_ORIGINS (default none) and METRICS_TOKEN (default unset: loopback only)', () => {
    expect(loadConfig({})).toMatchObject({ corsOrigins: [], metricsToken: undefined });
    const c = loadConfig({
      CORS_ORIGINS: 'https://app.example.com, http://localhost:5173/',
      METRICS_TOKEN: 'm'.repeat(32),
    });
    expect(c.corsOrigins).toEqual(['https://app.example.com', 'http://localhost:5173']);
    expect(c.metricsToken).toBe('m'.repeat(32));
    expect(loadConfig({ CORS_ORIGINS: '*' }).corsOrigins).toEqual(['*']);
  });

  test('blank values fall back to defaults', () => {
    const c = loadConfig({ PORT: '', HOST: ' ', LOG_LEVEL: '' });
    expect(c.port).toBe(8000);
    expect(c.host).toBe('127.0.0.1');
    expect(c.logLevel).toBe('info');
  });
});
