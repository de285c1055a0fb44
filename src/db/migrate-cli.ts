/** `npm run migrate`: apply pending migrations to DATABASE_URL (or the embedded database). */
import { loadConfig } from '../config';
import { createLogger } from '../lib/logger';
import { startEmbeddedDatabase } from './embedded';
import { runMigrations } from './migrate';

const config = loadConfig();
const log = createLogger(config.logLevel, { component: 'migrate' });
const embedded = config.databaseUrl ? undefined : await startEmbeddedDatabase(config.dataDir, log);
try {
  const applied = await runMigrations(config.databaseUrl ?? embedded!.url, log);
  log.info(applied.length ? 'done' : 'database is up to date', { applied: applied.length });
} finally {
  await embedded?.stop();
}
