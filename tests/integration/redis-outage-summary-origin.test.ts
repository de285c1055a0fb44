import { afterAll, describe, expect, test } from 'bun:test';
import postgres from 'postgres';
import { apiClient } from '../helpers/api';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { REAL_STACK } from '../helpers/env';
import { startTestServer, uniquePrefix } from '../helpers/server';

/**
 * The unfiltered summary is shared between instances through Redis. Its version counter
 * starts at zero in every new database and goes back after a restore, so two deployments on
 * one Redis prefix (or a deployment restored from a backup) reach the same version with
 * different figures. A summary must never show another database's figures.
 */
const hasPgDump = Bun.which('pg_dump') !== null && Bun.which('psql') !== null;

describe.skipIf(!REAL_STACK)('the shared summary cache names the database it came from', () => {
  const versionOf = async (db: TestDatabase) => {
    const sql = postgres(db.url!, { max: 1, onnotice: () => {} });
    try {
      const [row] = await sql<{ v: string }[]>`select coalesce(sum(v), 0)::text as v from analytics_version`;
      return row!.v;
    } finally {
      await sql.end();
    }
  };

  /** One user who files `n` tasks in `category`: the same number of changes whatever the category. */
  async function fileTasks(url: string, category: string, n: number) {
    const api = apiClient(url);
    const user = await api.newUser(`Files ${category}`);
    for (let i = 0; i < n; i++) {
      const res = await api.post('/api/v1/tasks', { title: `${category} ${i}`, category }, user.token);
      expect(res.status).toBe(201);
    }
  }

  const categoriesOf = async (url: string) =>
    Object.keys((await apiClient(url).get('/api/v1/dashboard/summary')).body.tasks_by_category);

  test('two new databases on one Redis prefix, at the same version, each see their own', async () => {
    const redisPrefix = uniquePrefix();
    const one = await startTestServer({ redisPrefix });
    const two = await startTestServer({ redisPrefix });
    await fileTasks(one.url, 'alpha', 2);
    await fileTasks(two.url, 'beta', 2);
    // Same version in both: otherwise the keys would differ anyway and this proves nothing.
    expect(await versionOf(one.db)).toBe(await versionOf(two.db));
    expect(await categoriesOf(one.url)).toEqual(['alpha']); // computed, and shared through Redis
    expect(await categoriesOf(two.url)).toEqual(['beta']);
  }, 30_000);

  test.skipIf(!hasPgDump)(
    'a database restored from a backup does not get the figures the original had at the same version',
    async () => {
      const redisPrefix = uniquePrefix();
      const original = await startTestServer({ redisPrefix });
      await fileTasks(original.url, 'before-backup', 1);
      const dump = Bun.spawnSync(['pg_dump', '--no-owner', original.db.url!]);
      expect(dump.exitCode).toBe(0);
      const versionAtBackup = await versionOf(original.db);

      await fileTasks(original.url, 'after-backup', 1);
      expect(await categoriesOf(original.url)).toEqual(['after-backup', 'before-backup']);
      const versionLater = await versionOf(original.db);

      // Restore the backup into a new database and serve it on the same Redis prefix.
      const restoredDb = await createTestDatabase();
      afterAll(() => restoredDb.drop());
      const load = Bun.spawnSync(['psql', '-q', '-v', 'ON_ERROR_STOP=1', restoredDb.url!], {
        stdin: dump.stdout,
      });
      expect(load.exitCode).toBe(0);
      expect(await versionOf(restoredDb)).toBe(versionAtBackup);
      const restored = await startTestServer({ db: restoredDb, redisPrefix });
      await fileTasks(restored.url, 'after-restore', 1);
      expect(await versionOf(restoredDb)).toBe(versionLater);
      expect(await categoriesOf(restored.url)).toEqual(['after-restore', 'before-backup']);
    },
    30_000,
  );
});
