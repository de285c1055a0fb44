/**
 * Which backing services this test run uses. `npm test` runs the suite twice: on the
 * embedded database (no variables set) and on real PostgreSQL + Redis
 * (TEST_DATABASE_URL / TEST_REDIS_URL set by scripts/test.ts).
 */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || undefined;
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL || undefined;
/** Real PostgreSQL (several processes can share a database; LISTEN/NOTIFY works). */
export const REAL_DB = TEST_DATABASE_URL !== undefined;
/** Real PostgreSQL and Redis: multi-instance tests run only then. */
export const REAL_STACK = REAL_DB && TEST_REDIS_URL !== undefined;
