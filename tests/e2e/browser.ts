import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

/**
 * One shared Chromium for the browser tests: Debian's package at /usr/bin/chromium, never a
 * browser downloaded by a tool. Without it the tests are skipped with a message, except in CI
 * (CI=true), where a missing browser is a failure.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const HAVE_CHROMIUM = existsSync(CHROMIUM_PATH);
export const ARTIFACTS = join(import.meta.dir, '..', 'artifacts');

if (!HAVE_CHROMIUM) {
  const message = `${CHROMIUM_PATH} not found: browser tests need Debian's Chromium (apt-get install -y chromium)`;
  if (process.env.CI === 'true') throw new Error(message);
  console.warn(`SKIPPING browser tests: ${message}`);
}

let browser: Promise<Browser> | undefined;

export function launchBrowser(): Promise<Browser> {
  browser ??= chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-sync',
      '--disable-quic',
      '--disable-dev-shm-usage',
    ],
  });
  return browser;
}

/** For `afterAll(closeBrowser)` in each test file. */
export async function closeBrowser(): Promise<void> {
  const b = browser;
  browser = undefined;
  if (b) await (await b).close();
}

export interface PageProblems {
  /** console.error messages and uncaught exceptions, in order. */
  errors: string[];
  /** alert/confirm/prompt dialogs: a hostile string that ran as code would open one. */
  dialogs: string[];
}

/** A fresh browser context (own sessionStorage) and page that records console errors and dialogs. */
export async function openPage(
  options: { width?: number; height?: number } = {},
): Promise<{ context: BrowserContext; page: Page; problems: PageProblems }> {
  const b = await launchBrowser();
  const context = await b.newContext({
    viewport: { width: options.width ?? 1280, height: options.height ?? 900 },
    deviceScaleFactor: 1,
  });
  const page = await context.newPage();
  const problems: PageProblems = { errors: [], dialogs: [] };
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.errors.push(msg.text());
  });
  page.on('pageerror', (err) => problems.errors.push(`uncaught: ${err.message}`));
  page.on('dialog', (dialog) => {
    problems.dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  return { context, page, problems };
}

export function artifactPath(name: string): string {
  mkdirSync(ARTIFACTS, { recursive: true });
  return join(ARTIFACTS, name);
}

/** The trimmed text of the first element matching `selector`, or undefined if there is none. */
export async function textOf(page: Page, selector: string): Promise<string | undefined> {
  const locator = page.locator(selector).first();
  if ((await locator.count()) === 0) return undefined;
  return ((await locator.textContent()) ?? '').trim();
}

/** Whether the element exists and is visible (not `hidden`). */
export async function isVisible(page: Page, selector: string): Promise<boolean> {
  return page.locator(selector).first().isVisible();
}
