import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import type { Page } from 'playwright-core';
import { apiClient } from '../helpers/api';
import { startTestServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';
import { closeBrowser, HAVE_CHROMIUM, openPage, type PageProblems, textOf } from './browser';

/**
 * Team insights on the page (issue 12), in Debian's Chromium against a real server: the
 * overdue, due-soon and cycle-time figures and the workload table follow reassignments and
 * completions made through the API, live, with no reload.
 */

afterAll(closeBrowser);
setDefaultTimeout(60_000);

const server = HAVE_CHROMIUM ? await startTestServer() : (undefined as never);
const api = HAVE_CHROMIUM ? apiClient(server.url) : (undefined as never);
const HOUR = 3_600_000;

describe.skipIf(!HAVE_CHROMIUM)('team insights on the dashboard page', () => {
  let page: Page;
  let problems: PageProblems;
  let lead: Awaited<ReturnType<ReturnType<typeof apiClient>['newUser']>>;
  let dev: Awaited<ReturnType<ReturnType<typeof apiClient>['newUser']>>;
  let late: string;

  const waitForText = (selector: string, expected: string) =>
    waitFor(async () => (await textOf(page, selector)) === expected, {
      timeoutMs: 8_000,
      what: `${selector} to read "${expected}"`,
    }).catch(async (err) => {
      throw new Error(`${(err as Error).message}; it reads ${JSON.stringify(await textOf(page, selector))}`);
    });
  const cell = (user: string, col: string) => `#workload-rows tr[data-user="${user}"] td[data-col="${col}"]`;

  beforeAll(async () => {
    lead = await api.newUser('Lena Lead');
    dev = await api.newUser('Dev Eloper');
    const overdue = await api.post(
      '/api/v1/tasks',
      { title: 'Late one', assignee_id: lead.id, due_date: new Date(Date.now() - 2 * HOUR).toISOString() },
      lead.token,
    );
    late = overdue.body.id;
    await api.post(
      '/api/v1/tasks',
      { title: 'Soon one', assignee_id: lead.id, due_date: new Date(Date.now() + 24 * HOUR).toISOString() },
      lead.token,
    );
    ({ page, problems } = await openPage());
    await page.goto(`${server.url}/`);
    await page.fill('#login-email', lead.email);
    await page.fill('#login-password', lead.password);
    await page.click('#login-submit');
    await page.waitForSelector('#team-body:not([hidden])');
  });

  test('the figures and the workload table show the current state, overdue highlighted', async () => {
    await waitForText('[data-testid="kpi-overdue"]', '1');
    await waitForText('[data-testid="kpi-due-soon"]', '1');
    await page.waitForSelector('#workload-table:not([hidden])');
    await waitForText(cell(lead.id, 'open'), '2');
    await waitForText(cell(lead.id, 'overdue'), '1');
    expect(await page.locator(`#workload-rows tr[data-user="${lead.id}"]`).getAttribute('class')).toContain(
      'has-overdue',
    );
    expect(await page.locator(`#workload-rows tr[data-user="${lead.id}"] th`).textContent()).toBe(
      'Lena Lead',
    );
  });

  test('a reassignment through the API moves the row and the overdue task, live', async () => {
    const res = await api.patch(`/api/v1/tasks/${late}`, { assignee_id: dev.id }, lead.token);
    expect(res.status).toBe(200);
    await waitForText(cell(dev.id, 'overdue'), '1');
    await waitForText(cell(lead.id, 'open'), '1');
    await waitForText(cell(lead.id, 'overdue'), '0');
    expect(
      (await page.locator(`#workload-rows tr[data-user="${lead.id}"]`).getAttribute('class')) ?? '',
    ).not.toContain('has-overdue');
  });

  test('a completion through the API updates overdue, the table and the cycle time, live', async () => {
    expect(await textOf(page, '#kpi-cycle-foot')).toBe('nothing completed in 30 days');
    const res = await api.patch(`/api/v1/tasks/${late}`, { status: 'completed' }, lead.token);
    expect(res.status).toBe(200);
    await waitForText('[data-testid="kpi-overdue"]', '0');
    await waitForText(cell(dev.id, 'done7'), '1');
    await waitForText(cell(dev.id, 'open'), '0');
    await waitFor(async () => (await textOf(page, '#kpi-cycle-foot'))?.includes('1 done in 30 days'), {
      timeoutMs: 8_000,
      what: 'the cycle time to count the completion',
    });
    expect(await textOf(page, '[data-testid="kpi-cycle"]')).not.toBe('–');
    expect(problems.errors).toEqual([]);
  });
});
