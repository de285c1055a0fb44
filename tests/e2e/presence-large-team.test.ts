import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { apiClient } from '../helpers/api';
import { startTestServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';
import { openSocket } from '../helpers/ws';
import { closeBrowser, HAVE_CHROMIUM, openPage, textOf } from './browser';

/**
 * The dashboard page in a team above PRESENCE_SUBSCRIBE_THRESHOLD (3 here): the server sends
 * the page's socket presence changes only for the people it subscribed to, plus the online
 * count. The page must subscribe to the people it lists and keep its count live.
 */

afterAll(closeBrowser);
setDefaultTimeout(60_000);

const server = HAVE_CHROMIUM
  ? await startTestServer({ env: { PRESENCE_SUBSCRIBE_THRESHOLD: '3' } })
  : (undefined as never);
const api = HAVE_CHROMIUM ? apiClient(server.url) : (undefined as never);

describe.skipIf(!HAVE_CHROMIUM)('dashboard page, team above the presence threshold', () => {
  test('follows the people it lists and keeps the online count live', async () => {
    const colleagues = await Promise.all(['Ada', 'Ben', 'Cy', 'Dot'].map((n) => api.newUser(`${n} Large`)));
    const sockets = await Promise.all(colleagues.map((u) => openSocket(server.wsUrl, u.token)));
    const owner = await api.newUser('Olga Large');
    const { page, context, problems } = await openPage();
    const subscriptions: string[][] = [];
    page.on('websocket', (ws) =>
      ws.on('framesent', ({ payload }) => {
        const frame = JSON.parse(String(payload));
        if (frame.type === 'presence_subscribe') subscriptions.push(frame.data.user_ids);
      }),
    );
    await page.goto(`${server.url}/`);
    await page.fill('#login-email', owner.email);
    await page.fill('#login-password', owner.password);
    await page.click('#login-submit');
    const countReads = (expected: string) =>
      waitFor(async () => (await textOf(page, '#online-count')) === expected, {
        timeoutMs: 8_000,
        what: `#online-count to read "${expected}"`,
      });
    await countReads('5 online');
    for (const u of colleagues) await page.waitForSelector(`#online-list [data-user-id="${u.id}"]`);

    // It subscribed to exactly the people it lists (itself included).
    const listed = [...colleagues, owner].map((u) => u.id).sort();
    await waitFor(() => subscriptions.some((ids) => [...ids].sort().join() === listed.join()), {
      what: 'a presence_subscribe naming everyone listed',
    });

    // A listed colleague leaves: the change reaches the page because it follows them.
    await sockets[1]!.close();
    // (Well before the page's 10 s re-read of the list, which would also drop them.)
    await page.waitForSelector(`#online-list [data-user-id="${colleagues[1]!.id}"]`, {
      state: 'detached',
      timeout: 5_000,
    });
    await countReads('4 online');

    // Someone the page does not follow arrives: only the count says so, live.
    const newcomer = await api.newUser('Eve Large');
    await openSocket(server.wsUrl, newcomer.token);
    await countReads('5 online');
    expect(problems.errors).toEqual([]);
    await context.close();
  });
});
