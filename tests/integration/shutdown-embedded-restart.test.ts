import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_PASSWORD, DEMO_USERS } from '../../src/demo-seed';
import { apiClient } from '../helpers/api';
import { spawnServer } from '../helpers/process';

/**
 * `npm start` with no DATABASE_URL: an embedded PostgreSQL under HIVE_DATA_DIR, demo data
 * on first start, and everything still there after a stop and a start. The same in both
 * test modes (it never uses the real server), so it runs once, in the embedded run.
 */
setDefaultTimeout(120_000);
const dataDir = await mkdtemp(join(tmpdir(), 'hive-embedded-'));
afterAll(() => rm(dataDir, { recursive: true, force: true }));

const env = {
  PORT: '0',
  HIVE_DATA_DIR: dataDir,
  HIVE_SEED_DEMO: 'true',
  LOG_LEVEL: 'info',
  DATABASE_URL: '',
  REDIS_URL: '',
};

describe.skipIf(process.env.TEST_DATABASE_URL !== undefined && process.env.TEST_DATABASE_URL !== '')(
  'embedded database across restarts',
  () => {
    test('first start seeds the demo and prints the login; data written survives a restart', async () => {
      const first = await spawnServer(env, { timeoutMs: 60_000 });
      expect(first.output()).toContain(DEMO_USERS[0].email);
      expect(first.output()).toContain(DEMO_PASSWORD);
      const api = apiClient(first.url);
      const demo = await api.post('/api/v1/auth/login', {
        email: DEMO_USERS[0].email,
        password: DEMO_PASSWORD,
      });
      expect(demo.status).toBe(200);
      const demoTasks = await api.get('/api/v1/tasks?limit=1', demo.body.access_token);
      const seeded = Number(demoTasks.headers.get('x-total-count'));
      expect(seeded).toBeGreaterThanOrEqual(100);
      // Every status and priority is represented in the demo board.
      for (const q of [
        'status=todo',
        'status=in_progress',
        'status=review',
        'status=completed',
        'status=cancelled',
      ]) {
        const r = await api.get(`/api/v1/tasks?limit=1&${q}`, demo.body.access_token);
        expect(Number(r.headers.get('x-total-count'))).toBeGreaterThan(0);
      }
      const user = await api.newUser('Persistent Pat');
      const task = (await api.post('/api/v1/tasks', { title: 'survives restarts' }, user.token)).body;
      expect(await first.stop()).toBe(0);
      expect((await readdir(join(dataDir, 'pgdata'))).length).toBeGreaterThan(0);

      const second = await spawnServer(env, { timeoutMs: 60_000 });
      try {
        const api2 = apiClient(second.url);
        const login = await api2.post('/api/v1/auth/login', { email: user.email, password: user.password });
        expect(login.status).toBe(200);
        const again = await api2.get(`/api/v1/tasks/${task.id}`, login.body.access_token);
        expect(again.status).toBe(200);
        expect(again.body.title).toBe('survives restarts');
        // The demo is loaded into an empty database only: no second copy.
        const all = await api2.get('/api/v1/tasks?limit=1', login.body.access_token);
        expect(Number(all.headers.get('x-total-count'))).toBe(seeded + 1);
        expect(second.output()).not.toContain('demo data loaded');
      } finally {
        expect(await second.stop()).toBe(0);
      }
    });
  },
);
