import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { loadConfig } from '../../src/config';
import { silentLogger } from '../../src/lib/logger';
import { type RunningServer, startServer } from '../../src/server';
import { apiClient } from '../helpers/api';
import { createTestDatabase } from '../helpers/db';
import { REAL_DB } from '../helpers/env';
import { testEnv, uniquePrefix } from '../helpers/server';
import { waitFor } from '../helpers/wait';
import { closeBrowser, HAVE_CHROMIUM, isVisible, openPage, textOf } from './browser';

/**
 * The server goes away under an open, signed-in page and comes back on the same port: the page
 * says it is reconnecting, keeps its session and figures, and is live again without a reload.
 * Needs a database that outlives the first process, so real PostgreSQL only (an in-memory
 * embedded database would come back empty).
 */

afterAll(closeBrowser);
setDefaultTimeout(90_000);

describe.skipIf(!HAVE_CHROMIUM || !REAL_DB)(
  'dashboard page across a server restart (real PostgreSQL only)',
  () => {
    test('reconnecting while the server is down, then live again with the same session, without a reload', async () => {
      const db = await createTestDatabase();
      const redisPrefix = uniquePrefix();
      const start = (port: number) =>
        startServer(loadConfig(testEnv(db, { PORT: String(port) }, redisPrefix)), {
          log: silentLogger,
          inMemory: true,
        });
      let current: RunningServer | undefined;
      try {
        const first = await start(0);
        current = first;
        const port = first.port;
        const api = apiClient(first.url);
        const user = await api.newUser('Rita Restart');
        await api.post('/api/v1/tasks', { title: 'Before the restart' }, user.token);

        const { page, context } = await openPage();
        await page.goto(`${first.url}/`);
        await page.fill('#login-email', user.email);
        await page.fill('#login-password', user.password);
        await page.click('#login-submit');
        await page.waitForSelector(`#online-list [data-user-id="${user.id}"]`, { timeout: 10_000 });
        await waitFor(async () => (await textOf(page, '#conn-text')) === 'Live', { what: 'live' });
        await page.evaluate(() => {
          (window as unknown as { notReloaded: boolean }).notReloaded = true;
        });

        await first.stop(); // graceful: sockets closed with 1001
        current = undefined;
        await waitFor(
          async () =>
            ['reconnecting', 'down'].includes((await page.getAttribute('#conn', 'data-state')) ?? ''),
          { what: 'the page to notice the server is gone' },
        );
        await page.waitForSelector('#banner:not([hidden])', { timeout: 12_000 });
        expect(await textOf(page, '#kpi-total')).toBe('1'); // the last figures stay on screen

        current = await start(port);
        await waitFor(async () => (await textOf(page, '#conn-text')) === 'Live', {
          timeoutMs: 30_000,
          what: 'live again after the restart',
        });
        await page.waitForSelector('#banner', { state: 'hidden', timeout: 12_000 });
        await page.waitForSelector(`#online-list [data-user-id="${user.id}"]`, { timeout: 10_000 });
        expect(await isVisible(page, '#team-body')).toBe(true);
        await api.post('/api/v1/tasks', { title: 'After the restart' }, user.token);
        await waitFor(async () => (await textOf(page, '#kpi-total')) === '2', { what: 'a pushed update' });
        expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(
          true,
        );
        await context.close();
      } finally {
        await current?.stop();
        await db.drop();
      }
    });
  },
);
