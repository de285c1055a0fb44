import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import type { Logger } from '../lib/logger';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));
export const MIGRATIONS_TABLE = 'pgmigrations';
/** Fixed advisory-lock key, so instances starting at once apply migrations one at a time. */
const MIGRATION_LOCK_KEY = 0x48495645; // "HIVE"

/**
 * Apply every pending SQL migration in `migrations/`, each in its own transaction, under a
 * session advisory lock: when several instances start together, one migrates and the others
 * wait, then find nothing left to do. Forward-only: there are no down migrations.
 */
export async function runMigrations(databaseUrl: string, log: Logger): Promise<string[]> {
  const applied = await runner({
    databaseUrl,
    dir: MIGRATIONS_DIR,
    migrationsTable: MIGRATIONS_TABLE,
    direction: 'up',
    count: Number.POSITIVE_INFINITY,
    checkOrder: true,
    lockValue: MIGRATION_LOCK_KEY,
    // node-pg-migrate's default ('fail') makes every instance but the first crash at start-up
    // with "Another migration is already running"; 'wait' queues them behind the lock.
    advisoryLockMode: 'wait',
    singleTransaction: false,
    verbose: false,
    log: () => {},
    logger: {
      debug: () => {},
      info: (msg: string) => log.debug('migrate', { detail: msg }),
      warn: (msg: string) => log.warn('migrate', { detail: msg }),
      error: (msg: string) => log.error('migrate', { detail: msg }),
    },
  });
  const names = applied.map((m) => m.name);
  if (names.length > 0) log.info('migrations applied', { migrations: names });
  return names;
}
