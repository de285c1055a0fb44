import { createScratchDatabase } from '../../src/db/scratch';
import { TEST_DATABASE_URL } from './env';

/**
 * A fresh, empty database for one test file on the real server, dropped afterwards; or
 * `undefined` in embedded mode, where every test server gets its own in-memory PGlite.
 */
export interface TestDatabase {
  url: string | undefined;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  if (!TEST_DATABASE_URL) return { url: undefined, drop: async () => {} };
  const db = await createScratchDatabase(TEST_DATABASE_URL, 'hive_test');
  return { url: db.url, drop: () => db.drop().catch(() => {}) };
}
