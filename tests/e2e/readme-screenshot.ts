/**
 * Regenerates docs/dashboard.png, the README's picture of the page: the demo data, signed in
 * as the demo admin, three colleagues online and a little live activity.
 *
 *   ./node_modules/.bin/bun tests/e2e/readme-screenshot.ts
 */
import { join } from 'node:path';
import { loadConfig } from '../../src/config';
import { DEMO_PASSWORD, DEMO_USERS } from '../../src/demo-seed';
import { silentLogger } from '../../src/lib/logger';
import { startServer } from '../../src/server';
import { waitFor } from '../helpers/wait';
import { closeBrowser, openPage } from './browser';

const OUT = join(import.meta.dir, '..', '..', 'docs', 'dashboard.png');

const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'error', HIVE_SEED_DEMO: 'true' });
const server = await startServer(config, { log: silentLogger, inMemory: true });
const sockets: WebSocket[] = [];
try {
  const login = async (email: string) => {
    const res = await fetch(`${server.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: DEMO_PASSWORD }),
    });
    return ((await res.json()) as { access_token: string }).access_token;
  };
  const { page } = await openPage({ width: 1280, height: 860 });
  await page.goto(`${server.url}/`);
  await page.waitForSelector('#impact-body:not([hidden])');
  await page.fill('#login-email', DEMO_USERS[0].email);
  await page.fill('#login-password', DEMO_PASSWORD);
  await page.click('#login-submit');
  await page.waitForSelector('#team-body:not([hidden])');

  for (const user of DEMO_USERS.slice(1, 4)) {
    const socket = new WebSocket(`${server.url.replace('http', 'ws')}/ws?token=${await login(user.email)}`);
    sockets.push(socket);
    await new Promise((resolve) => {
      socket.onopen = resolve;
    });
  }
  const token = await login(DEMO_USERS[1].email);
  for (const [title, category] of [
    ['Review the onboarding checklist', 'docs'],
    ['Profile the summary endpoint', 'backend'],
  ]) {
    await fetch(`${server.url}/api/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ title, category, priority: 'high' }),
    });
  }
  await waitFor(async () => (await page.locator('#online-list .person').count()) >= 4, {
    what: 'four people online',
  });
  await waitFor(async () => (await page.locator('#activity li').count()) >= 5, { what: 'live activity' });
  await waitFor(async () => (await page.locator('.trend-svg').count()) === 1, { what: 'the trend' });
  await waitFor(async () => (await page.textContent('#kpi-online')) === '4', { what: 'four online' });
  await waitFor(async () => (await page.textContent('#kpi-total')) === '302', { what: 'the two new tasks' });
  const trend = (await (await fetch(`${server.url}/api/v1/dashboard/trends?days=30`)).json()) as {
    created: number;
  }[];
  const created = String(trend.reduce((n, d) => n + d.created, 0));
  await waitFor(async () => (await page.textContent('.key-created strong')) === created, {
    what: 'the trend to include the new tasks',
  });
  await page.mouse.move(0, 0);
  await page.screenshot({ path: OUT, fullPage: true });
  console.log(`wrote ${OUT} (${Bun.file(OUT).size} bytes)`);
} finally {
  for (const s of sockets) s.close();
  await closeBrowser();
  await server.stop();
}
