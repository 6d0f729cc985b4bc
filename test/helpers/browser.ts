import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
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

/** A 390×844 phone's screen (a 2× display, touch), for a page's context options. */
export const phoneScreen: BrowserContextOptions = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
};

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

/** What the check reads of one of axe-core's violations. */
interface AxeViolation {
  id: string;
  impact: 'minor' | 'moderate' | 'serious' | 'critical' | null;
  help: string;
  nodes: { target: unknown[] }[];
}

let axeSource: string | null = null;

/**
 * Runs axe-core (its default rules: WCAG 2.x A/AA and best practices) on the page as it is
 * now and fails, naming `label`, with the rule id, impact and target of every serious or
 * critical violation; minor and moderate ones are not the bar.
 *
 * axe.min.js comes from node_modules (no network). It is evaluated through the DevTools
 * protocol rather than `page.addScriptTag({ content })`: that adds an inline <script>,
 * which our Content-Security-Policy (script-src 'self') refuses, and turning the policy off
 * with `bypassCSP` would also hide an inline script of the app's own.
 */
export async function expectNoSeriousAxeViolations(page: Page, label: string): Promise<void> {
  axeSource ??= readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  if (!(await page.evaluate('typeof window.axe === "object"'))) await page.evaluate(axeSource);
  const violations = (await page.evaluate(
    `window.axe.run(document, { resultTypes: ['violations'] }).then((result) =>
       result.violations.map(({ id, impact, help, nodes }) =>
         ({ id, impact, help, nodes: nodes.map(({ target }) => ({ target })) })))`,
  )) as AxeViolation[];
  const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const lines = serious.flatMap((v) =>
    v.nodes.map((node) => `${v.id} (${v.impact}) ${JSON.stringify(node.target)}: ${v.help}`),
  );
  if (lines.length > 0) assert.fail(`axe-core on ${label}:\n${lines.join('\n')}`);
}

/**
 * Fails, naming `label`, when a word on the page is laid out over two lines: a word (the
 * letters between spaces, hyphens, dashes and slashes, where a line may break) whose parts
 * sit on different lines was broken mid-way by the width it was given.
 */
export async function expectNoBrokenWords(page: Page, label: string): Promise<void> {
  const broken = (await page.evaluate(`(() => {
    const broken = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const range = document.createRange();
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const match of node.data.matchAll(/[^\\s\\-\\u2013\\u2014/]{2,}/g)) {
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const rects = [...range.getClientRects()].filter((rect) => rect.width > 0);
        if (rects.length < 2) continue;
        const tops = rects.map((rect) => rect.top);
        const height = Math.min(...rects.map((rect) => rect.height));
        if (Math.max(...tops) - Math.min(...tops) > height / 2) broken.push(match[0]);
      }
    }
    return broken;
  })()`)) as string[];
  if (broken.length > 0) {
    assert.fail(`words broken over two lines on ${label}: ${broken.join(', ')}`);
  }
}
