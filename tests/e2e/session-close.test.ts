import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import type { Page } from 'playwright-core';
import { type CloseCode, CloseCodes } from '../../src/protocol/frames';
import { apiClient } from '../helpers/api';
import { startTestServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';
import { closeBrowser, HAVE_CHROMIUM, isVisible, openPage, textOf } from './browser';

/**
 * The page acts on the close code the server ends its socket with (src/protocol/frames.ts
 * `CloseCodes` and their `advice`): 4003 and 4001 ("sign in") go straight back to the login
 * form with a message, without asking GET /users/me first; 1001 ("reconnect") reconnects.
 * The server closes the sockets in-process, through its hub, as a revocation or expiry would.
 */

afterAll(closeBrowser);
setDefaultTimeout(60_000);

const server = HAVE_CHROMIUM ? await startTestServer() : (undefined as never);
const api = HAVE_CHROMIUM ? apiClient(server.url) : (undefined as never);

/** A fresh page signed in as a new user, live, counting the GET /users/me requests it makes. */
async function signedInPage(name: string) {
  const user = await api.newUser(name);
  const { page, context, problems } = await openPage();
  const meRequests: string[] = [];
  page.on('request', (req) => {
    if (new URL(req.url()).pathname === '/api/v1/users/me') meRequests.push(req.url());
  });
  await page.goto(`${server.url}/`);
  await page.fill('#login-email', user.email);
  await page.fill('#login-password', user.password);
  await page.click('#login-submit');
  await waitFor(async () => (await textOf(page, '#conn-text')) === 'Live', { what: 'the page to be live' });
  return { user, page, context, problems, meRequests };
}

function closeSocketsOf(userId: string, code: CloseCode): number {
  const sockets = [...server.runtime.hub.all()].filter((s) => s.userId === userId);
  for (const socket of sockets) socket.close(code);
  return sockets.length;
}

const loginFormShown = (page: Page) =>
  waitFor(async () => await isVisible(page, '#login-form'), { what: 'the login form' });

describe.skipIf(!HAVE_CHROMIUM)('dashboard page and WebSocket close codes', () => {
  test('4003 session revoked: back to the login form with a message, without a detour through /users/me', async () => {
    const { user, page, context, problems, meRequests } = await signedInPage('Rev Oked');
    const before = meRequests.length;
    expect(closeSocketsOf(user.id, CloseCodes.sessionRevoked)).toBe(1);
    await loginFormShown(page);
    expect(await textOf(page, '#login-note')).toBe(
      'You were signed out because your account changed. Sign in again to see who is online.',
    );
    expect(await isVisible(page, '#team-body')).toBe(false);
    expect(await page.evaluate(() => sessionStorage.getItem('hive.session'))).toBeNull();
    expect(await page.getAttribute('#conn', 'data-state')).toBe('polling');
    expect(meRequests.length).toBe(before);
    expect(await isVisible(page, '#impact-body')).toBe(true); // the public figures stay
    expect(problems.errors).toEqual([]);
    await context.close();
  });

  test('4001 token expired: back to the login form saying the session has expired', async () => {
    const { user, page, context, meRequests } = await signedInPage('Tok Expired');
    const before = meRequests.length;
    expect(closeSocketsOf(user.id, CloseCodes.tokenExpired)).toBe(1);
    await loginFormShown(page);
    expect(await textOf(page, '#login-note')).toBe(
      'Your session has expired. Sign in again to see who is online.',
    );
    expect(meRequests.length).toBe(before);
    await context.close();
  });

  test('1001 going away: the page reconnects and stays signed in', async () => {
    const { user, page, context } = await signedInPage('Re Connect');
    expect(closeSocketsOf(user.id, CloseCodes.goingAway)).toBe(1);
    await waitFor(async () => (await textOf(page, '#conn-text')) !== 'Live', { what: 'the page to notice' });
    await waitFor(async () => (await textOf(page, '#conn-text')) === 'Live', {
      timeoutMs: 10_000,
      what: 'the page to be live again',
    });
    expect(await isVisible(page, '#team-body')).toBe(true);
    expect([...server.runtime.hub.all()].filter((s) => s.userId === user.id)).toHaveLength(1);
    await context.close();
  });
});
