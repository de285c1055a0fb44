import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { apiClient } from '../helpers/api';
import { startTestServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';
import { closeBrowser, HAVE_CHROMIUM, isVisible, openPage, textOf } from './browser';

/**
 * The page's states, each shown plainly and never as a blank page: loading, an empty
 * database, a server that cannot be reached, and a session that has expired. The server
 * here starts on an empty database and issues 4-second tokens.
 */

afterAll(closeBrowser);
setDefaultTimeout(60_000);

const TOKEN_TTL_S = 4;
const server = HAVE_CHROMIUM
  ? await startTestServer({ env: { ACCESS_TOKEN_TTL_S: String(TOKEN_TTL_S) } })
  : (undefined as never);
const api = HAVE_CHROMIUM ? apiClient(server.url) : (undefined as never);

describe.skipIf(!HAVE_CHROMIUM)('dashboard page states', () => {
  test('loading: before the summary answers, the page says it is loading', async () => {
    const { page, context } = await openPage();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    await page.route('**/api/v1/dashboard/summary*', async (route) => {
      await gate;
      await route.continue();
    });
    await page.goto(`${server.url}/`);
    await page.waitForSelector('#impact-state');
    expect(await isVisible(page, '#impact-state')).toBe(true);
    expect(await textOf(page, '#impact-state-text')).toBe('Loading dashboard…');
    expect(await isVisible(page, '#impact-body')).toBe(false);
    release();
    await page.waitForSelector('#impact-body:not([hidden])');
    expect(await isVisible(page, '#impact-state')).toBe(false);
    await context.close();
  });

  test('empty database: zeros and a plain "no tasks yet" message', async () => {
    const { page, context, problems } = await openPage();
    await page.goto(`${server.url}/`);
    await page.waitForSelector('#impact-body:not([hidden])');
    expect(await textOf(page, '#kpi-total')).toBe('0');
    expect(await textOf(page, '#kpi-rate')).toBe('0%');
    expect(await isVisible(page, '#impact-note')).toBe(true);
    expect(await textOf(page, '#impact-note')).toStartWith('No tasks yet.');
    expect(await page.locator('[data-chart="category"]').count()).toBe(0); // no categories at all
    await waitFor(async () => (await page.locator('.trend-svg').count()) === 1, { what: 'an empty trend' });
    expect(problems.errors).toEqual([]);
    await context.close();
  });

  test('unreachable at first load: the page says so instead of staying blank, and recovers', async () => {
    const { page, context } = await openPage();
    await page.route('**/api/**', (route) => route.abort('connectionrefused'));
    await page.goto(`${server.url}/`);
    await waitFor(async () => (await page.getAttribute('#impact-state', 'data-state')) === 'error', {
      what: 'the unreachable state',
    });
    expect(await textOf(page, '#impact-state-text')).toContain('Cannot reach the server');
    expect(await page.getAttribute('#conn', 'data-state')).toBe('down');
    expect(await isVisible(page, '#banner')).toBe(true);

    await page.unrouteAll();
    await page.waitForSelector('#impact-body:not([hidden])', { timeout: 12_000 });
    await waitFor(async () => !(await isVisible(page, '#banner')), { what: 'the banner to go' });
    expect(await page.getAttribute('#conn', 'data-state')).toBe('polling');
    await context.close();
  });

  test('unreachable later: the last figures stay, marked stale, with a banner', async () => {
    const { page, context } = await openPage();
    await page.goto(`${server.url}/`);
    await page.waitForSelector('#impact-body:not([hidden])');
    await page.route('**/api/**', (route) => route.abort('connectionrefused'));
    await page.waitForSelector('#banner:not([hidden])', { timeout: 12_000 });
    expect(await textOf(page, '#banner')).toContain('Cannot reach the HIVE server');
    expect(await textOf(page, '#banner')).toContain('Showing the figures from');
    expect(await isVisible(page, '#impact-body')).toBe(true);
    expect(await page.getAttribute('#impact-body', 'class')).toContain('stale');
    await page.unrouteAll();
    await page.waitForSelector('#banner', { state: 'hidden', timeout: 12_000 });
    await context.close();
  });

  test('an expired session goes back to the login form and says why', async () => {
    const user = await api.newUser('Tess Timeout');
    const { page, context } = await openPage();
    await page.goto(`${server.url}/`);
    await page.fill('#login-email', user.email);
    await page.fill('#login-password', user.password);
    await page.click('#login-submit');
    await page.waitForSelector('#team-body:not([hidden])');
    await page.waitForSelector('#login-form:not([hidden])', { timeout: (TOKEN_TTL_S + 4) * 1000 });
    expect(await textOf(page, '#login-note')).toBe(
      'Your session has expired. Sign in again to see who is online.',
    );
    expect(await page.evaluate(() => sessionStorage.getItem('hive.session'))).toBeNull();
    expect(await isVisible(page, '#impact-body')).toBe(true); // the public figures stay
    await context.close();
  });

  test('a stored token the server rejects (401) goes back to the login form', async () => {
    const { page, context } = await openPage();
    await context.addInitScript(() => {
      sessionStorage.setItem(
        'hive.session',
        JSON.stringify({ token: 'forged.token.value', expiresAt: Date.now() + 3_600_000 }),
      );
    });
    await page.goto(`${server.url}/`);
    await waitFor(async () => (await textOf(page, '#login-note'))?.includes('expired'), {
      what: 'the expired-session note',
    });
    expect(await isVisible(page, '#login-form')).toBe(true);
    expect(await isVisible(page, '#team-body')).toBe(false);
    await context.close();
  });
});
