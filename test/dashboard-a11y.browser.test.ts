/**
 * The admin dashboard's accessibility, in a real browser (Chromium through playwright-core)
 * against the real service on PGlite with the fake Twilio: with a person, a task, a habit
 * and a WhatsApp photo proof in it, every section in the header (Feed, Leaderboard, People
 * and tasks with the habits, Messages, and Groups and Reviews where the page has them)
 * passes axe-core with no serious or critical violation and breaks no word in two, at
 * 390×844 and at 1280×800; the token page too. Screenshots: test-artifacts/dashboard-a11y/.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import {
  artifactsDir,
  browserSkip,
  expectNoBrokenWords,
  expectNoSeriousAxeViolations,
  openPage,
  screenshot,
} from './helpers/browser.js';
import { dashboardInBrowser } from './helpers/dashboard-browser.js';
import { makePng } from './helpers/png.js';
import { TEST_API_TOKEN, whatsAppParams } from './helpers/twilio-webhook.js';
import { waitFor } from './helpers/worker.js';

const GROUP_NUMBER = '+14155238886';
const PHONE = '+15550003333';

declare const document: {
  querySelectorAll(selector: string): Iterable<{ getAttribute(name: string): string | null }>;
};

describe('the dashboard’s accessibility [pglite]', { skip: browserSkip }, () => {
  const dashboard = dashboardInBrowser({ whatsappNumber: GROUP_NUMBER });
  const { api } = dashboard;
  const artifacts = artifactsDir('dashboard-a11y');

  before(async () => {
    // Something on every page: a person with a task and a habit, and a photo proof.
    const user = await api('POST', '/users', {
      username: 'Grace Hopper',
      phone_number: PHONE,
      timezone: 'Europe/Paris',
    });
    const task = await api('POST', '/tasks', {
      user_id: user.id,
      description: 'Write the compiler notes',
      due_time: new Date(Date.now() + 3 * 3_600_000).toISOString(),
    });
    const photo = dashboard.twilio.addMedia({ bytes: makePng(160, 120), contentType: 'image/png' });
    await dashboard.deliver(
      whatsAppParams({
        from: PHONE,
        to: GROUP_NUMBER,
        body: 'Notes written',
        messageSid: photo.messageSid,
        media: [{ url: photo.url, contentType: 'image/png' }],
      }),
    );
    await waitFor(
      async () => (await api('GET', `/tasks/${task.id as number}`)).status !== 'active',
      20_000,
    );
    // After the proof: created before it, the habit's next occurrence (9pm in Paris) would
    // be the task the photo proves whenever it is due within the task's 3 hours.
    await api('POST', '/habits', {
      user_id: user.id,
      description: 'Read a chapter',
      schedule: 'every day at 9pm',
    });
  });

  for (const size of [
    { width: 390, height: 844, phone: true },
    { width: 1280, height: 800, phone: false },
  ]) {
    test(`${size.width}×${size.height}: the token page and every section`, async () => {
      const pageErrors: string[] = [];
      const page: Page = await openPage(
        dashboard.browser,
        {
          viewport: { width: size.width, height: size.height },
          isMobile: size.phone,
          hasTouch: size.phone,
          locale: 'en-GB',
          timezoneId: 'Europe/Paris',
        },
        pageErrors,
      );
      const checked = async (name: string) => {
        const label = `the dashboard's ${name} at ${size.width}px`;
        await expectNoBrokenWords(page, label);
        await expectNoSeriousAxeViolations(page, label);
        await screenshot(page, artifacts, `${size.width}-${name}`);
      };

      await page.goto(`${dashboard.baseUrl}/`);
      const token = page.getByLabel('API token', { exact: true });
      await token.waitFor();
      await checked('token');
      await token.fill(TEST_API_TOKEN);
      await page.getByRole('button', { name: 'Open the dashboard' }).click();
      await page.locator('#nav').waitFor();

      const tabs = await page.evaluate(() =>
        [...document.querySelectorAll('#nav a[href^="#"]')].map(
          (link) => link.getAttribute('href')?.slice(1) ?? '',
        ),
      );
      for (const expected of ['feed', 'leaderboard', 'people', 'messages']) {
        assert.ok(tabs.includes(expected), `the header links to ${expected}: ${tabs.join(', ')}`);
      }
      // What each section shows once it has loaded (sections added later: their heading).
      const loaded: Record<string, string> = {
        feed: 'Notes written',
        leaderboard: 'Grace Hopper',
        people: 'Read a chapter',
        messages: 'Grace Hopper',
      };
      for (const tab of tabs) {
        await page.locator(`#nav a[href="#${tab}"]`).click();
        const section = page.locator(`section#${tab}`);
        await section.waitFor();
        await section.locator('h1').first().waitFor();
        const marker = loaded[tab];
        if (marker) await section.getByText(marker).first().waitFor();
        await waitFor(async () => (await section.locator('[aria-busy="true"]').count()) === 0);
        await checked(tab);
      }
      assert.deepEqual(pageErrors, []);
      await page.context().close();
    });
  }
});
