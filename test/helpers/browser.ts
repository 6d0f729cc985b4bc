import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContextOptions, chromium, type Page } from 'playwright-core';

// The browser tests' Chromium (through playwright-core, which brings no browser of its own).
export const CHROMIUM = '/usr/bin/chromium';

/** The `skip` of a browser test's describe: a reason when Chromium is not installed. */
export const browserSkip: string | false = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is missing: install Chromium (apt-get install chromium) to run the browser tests`;

/** Headless, and without the background traffic (updates, sync, QUIC) a test has no use for. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** test-artifacts/<name>/, created: where a browser test's screenshots go. */
export function artifactsDir(name: string): string {
  const dir = fileURLToPath(new URL(`../../test-artifacts/${name}/`, import.meta.url));
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * A page in a new context: 15 s for each action, and every uncaught script error pushed to
 * `pageErrors` (the tests assert it stays empty).
 */
export async function openPage(
  browser: Browser,
  options: BrowserContextOptions,
  pageErrors: string[],
): Promise<Page> {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (error) => pageErrors.push(error.message));
  return page;
}

/** A full-page screenshot, `<dir>/<name>.png`. */
export function screenshot(page: Page, dir: string, name: string): Promise<Buffer> {
  return page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}
