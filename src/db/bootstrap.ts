import type { Config } from '../config';
import type { Logger } from '../lib/logger';
import { createSql, type Sql } from './client';
import { type EmbeddedDatabase, startEmbeddedDatabase } from './embedded';
import { runMigrations } from './migrate';

/**
 * Sessions whose `application_name` starts with this are the server's own. The analytics
 * triggers skip `pg_notify` for them: the server announces its writes on the event bus, and a
 * NOTIFYing transaction serialises at commit (32 writers: 7,600 → 2,200 tx/s). The SQL side
 * of this rule is `hive_is_server_session()` (migrations/0020): change both together, or
 * every write pays that price again (tests/integration/server-session.test.ts fails when
 * they differ).
 */
export const SERVER_SESSION_PREFIX = 'hive ';

/** A migrated database, real or embedded, ready for a pool. */
export interface Database {
  url: string;
  /** Set in embedded mode (one connection at a time). */
  embedded: EmbeddedDatabase | undefined;
  /** A pool on it; the embedded database takes exactly one connection. */
  connect(applicationName: string, max?: number): Sql;
  stop(): Promise<void>;
}

/**
 * The one place that decides "DATABASE_URL or the embedded database", used by the server,
 * `npm run migrate` and the scripts: starts PGlite when no URL is set (on disk under
 * HIVE_DATA_DIR, or in memory), applies pending migrations, and waits for the migration
 * client to leave the single-connection embedded server.
 */
export async function openDatabase(
  config: Pick<Config, 'databaseUrl' | 'dataDir'>,
  log: Logger,
  options: { inMemory?: boolean } = {},
): Promise<Database> {
  let embedded: EmbeddedDatabase | undefined;
  let url = config.databaseUrl;
  if (!url) {
    embedded = await startEmbeddedDatabase(options.inMemory ? undefined : config.dataDir, log);
    url = embedded.url;
  }
  try {
    await runMigrations(url, log);
    await embedded?.waitUntilIdle();
  } catch (err) {
    await embedded?.stop();
    throw err;
  }
  const databaseUrl = url;
  return {
    url: databaseUrl,
    embedded,
    connect: (applicationName, max = 10) =>
      createSql(databaseUrl, { max: embedded ? 1 : max, applicationName }),
    stop: async () => embedded?.stop(),
  };
}
