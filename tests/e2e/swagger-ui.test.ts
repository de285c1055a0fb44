import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import type { Page } from 'playwright-core';
import { apiClient } from '../helpers/api';
import { startTestServer } from '../helpers/server';
import { artifactPath, closeBrowser, HAVE_CHROMIUM, openPage, type PageProblems } from './browser';

/**
 * Swagger UI as a person uses it, in Debian's Chromium with every request that does not go to
 * this machine's loopback blocked (so a CDN could not help): it loads from this server at
 * /swagger and /swagger/, logs in through Authorize with the OAuth2 password form, and "Try it
 * out" gets 200 from GET /api/v1/users/me and 201 from POST /api/v1/tasks with a body.
 */

afterAll(closeBrowser);
setDefaultTimeout(60_000);

const server = HAVE_CHROMIUM ? await startTestServer() : (undefined as never);
const api = HAVE_CHROMIUM ? apiClient(server.url) : (undefined as never);

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/;

async function openSwagger(path: string): Promise<{ page: Page; problems: PageProblems; blocked: string[] }> {
  const { context, page, problems } = await openPage();
  const blocked: string[] = [];
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (LOOPBACK.test(url.hostname) || url.protocol === 'data:') return route.continue();
    blocked.push(url.href);
    return route.abort();
  });
  await page.goto(`${server.url}${path}`);
  await page.locator('.swagger-ui .info .title').first().waitFor({ timeout: 15_000 });
  return { page, problems, blocked };
}

/** Expand an operation, press "Try it out", optionally edit the body, execute; the status shown. */
async function tryItOut(page: Page, operation: string, body?: unknown): Promise<string> {
  const block = page.locator(`#operations-${operation}`);
  await block.locator('.opblock-summary').first().click();
  await block.locator('button.try-out__btn').click();
  if (body !== undefined)
    await block.locator('textarea.body-param__text').fill(JSON.stringify(body, null, 2));
  await block.locator('button.execute').click();
  const status = block.locator('.live-responses-table .response .response-col_status').first();
  await status.waitFor({ timeout: 15_000 });
  return ((await status.textContent()) ?? '').trim();
}

describe.skipIf(!HAVE_CHROMIUM)('Swagger UI', () => {
  test('loads at /swagger and /swagger/ with nothing from outside and no stray markup', async () => {
    for (const path of ['/swagger', '/swagger/']) {
      const { page, problems, blocked } = await openSwagger(path);
      expect(await page.locator('.swagger-ui .info .title').first().textContent()).toContain('HIVE API');
      expect(await page.locator('#operations-tasks-createTask').count()).toBe(1);
      // Nothing before Swagger UI's root: the old page leaked an unescaped <meta> description.
      expect((await page.locator('body').evaluate((b) => b.firstElementChild?.id)) ?? '').toBe('swagger-ui');
      expect(blocked).toEqual([]);
      expect(problems.errors).toEqual([]);
      await page.context().close();
    }
  });

  test('Authorize (password flow), then Try it out: GET /users/me 200, POST /tasks 201', async () => {
    const user = await api.newUser('Swagger Person');
    const { page, problems, blocked } = await openSwagger('/swagger');

    await page.locator('.auth-wrapper button.authorize').click();
    const oauth = page.locator('.auth-container', { hasText: 'oauth2' });
    await oauth.locator('#oauth_username').fill(user.email);
    await oauth.locator('#oauth_password').fill(user.password);
    await oauth.locator('button.authorize').click();
    // The token request went to our login route; "Logout" replaces "Authorize" once it answered.
    await oauth.locator('button', { hasText: 'Logout' }).waitFor({ timeout: 15_000 });
    await page.locator('.dialog-ux button.close-modal').click();

    expect(await tryItOut(page, 'users-getMe')).toBe('200');
    const title = `Made in Swagger UI ${Date.now()}`;
    expect(await tryItOut(page, 'tasks-createTask', { title, priority: 'high' })).toBe('201');
    await page.screenshot({ path: artifactPath('swagger-ui.png'), fullPage: false });

    const tasks = await api.get(`/api/v1/tasks?limit=50`, user.token);
    expect(tasks.body.map((t: { title: string }) => t.title)).toContain(title);
    expect(tasks.body.find((t: { title: string }) => t.title === title).created_by).toBe(user.id);
    expect(blocked).toEqual([]);
    expect(problems.errors).toEqual([]);
    await page.context().close();
  });
});
