import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { apiClient } from '../helpers/api';
import { REAL_STACK } from '../helpers/env';
import { startPairWithProxiedRedis } from '../helpers/server';
import { waitFor } from '../helpers/wait';
import { closeBrowser, HAVE_CHROMIUM, openPage, textOf } from './browser';

/**
 * The page's answer to `resync`, in Debian's Chromium against two instances sharing Redis. The
 * page is on B, which reaches Redis through a TCP proxy. Task events published while B cannot
 * hear Redis never reach the page (pub/sub keeps nothing). A change to the totals brings the
 * trend chart up to date anyway (the summary push, from PostgreSQL, says so); one that leaves
 * them as they were (a task created today, an older one deleted) does not: only the re-read that
 * `resync` asks for does.
 */

afterAll(closeBrowser);
setDefaultTimeout(60_000);

const RUN = HAVE_CHROMIUM && REAL_STACK;

const ctx = RUN ? await startPairWithProxiedRedis() : undefined;

describe.skipIf(!ctx)('the dashboard page after its instance could not hear the cluster', () => {
  test('resync: the trend chart re-reads and shows the task whose event was lost', async () => {
    const { proxy, a, b } = ctx!;
    const api = apiClient(a.url);
    const user = await api.newUser('Rita Resync');
    // One task from three days ago, one from today.
    const older = (await api.post('/api/v1/tasks', { title: 'From three days ago' }, user.token)).body
      .id as string;
    await a.sql`update tasks set created_at = now() - interval '3 days' where id = ${older}`;
    expect((await api.post('/api/v1/tasks', { title: 'From today' }, user.token)).status).toBe(201);
    const { context, page, problems } = await openPage();

    try {
      await page.goto(`${b.url}/`);
      await page.fill('#login-email', user.email);
      await page.fill('#login-password', user.password);
      await page.click('#login-submit');
      await page.waitForSelector('#team-body:not([hidden])');
      // Today's column of the trend chart carries its numbers in a tooltip.
      const today = async () =>
        (await textOf(page, '#trend .hover-slot:last-of-type title'))?.replace(/^.*: /, '');
      const waitForToday = (expected: string, what: string) =>
        waitFor(async () => (await today())?.startsWith(expected), { timeoutMs: 10_000, what }).catch(
          async (err) => {
            throw new Error(`${(err as Error).message}; today reads ${JSON.stringify(await today())}`);
          },
        );
      await waitFor(async () => (await textOf(page, '#conn-text')) === 'Live', { what: 'a live page' });
      await waitForToday('1 created', 'the trend to load');
      // Heard as usual: the event (and the summary push) make the chart re-read.
      expect((await api.post('/api/v1/tasks', { title: 'Heard as usual' }, user.token)).status).toBe(201);
      await waitForToday('2 created', 'the trend to count the task created before the cut');

      proxy.cut('refuse');
      expect((await api.post('/api/v1/tasks', { title: 'While B was deaf' }, user.token)).status).toBe(201);
      expect((await api.delete(`/api/v1/tasks/${older}`, user.token)).status).toBe(204);
      proxy.restore();
      await waitForToday('3 created', 'the trend to re-read after resync');
      expect(problems.errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
