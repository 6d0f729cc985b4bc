/**
 * The dashboard in a real browser (Chromium through playwright-core) against the real
 * service on PGlite, with the fake Twilio for media and replies. The tests run in order
 * and tell one story: sign in, add a person and a task, a WhatsApp photo completes it,
 * a message that cannot be processed is retried. Screenshots go to test-artifacts/dashboard/.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import {
  artifactsDir,
  browserSkip as skip,
  openPage,
  phoneScreen,
  screenshot,
} from './helpers/browser.js';
import { dashboardInBrowser } from './helpers/dashboard-browser.js';
import { makePng } from './helpers/png.js';
import { signedForm, TEST_API_TOKEN, whatsAppParams } from './helpers/twilio-webhook.js';
import { waitFor } from './helpers/worker.js';

const GROUP_NUMBER = '+14155238886';
const PHONE = '+15550001111';
const CAPTION = 'Ran 5 km along the river this morning!';
const TIMEZONE = 'Europe/Paris';

// The little of the DOM that code running in the page uses (this project compiles without
// the DOM library). Page code is passed as functions, never strings: the dashboard's
// Content-Security-Policy forbids eval, and the tests run under it.
interface PageElement {
  complete?: boolean;
  naturalWidth?: number;
  naturalHeight?: number;
  getAttribute(name: string): string | null;
}
declare const document: {
  querySelector(selector: string): PageElement | null;
  documentElement: { scrollWidth: number };
};
declare const sessionStorage: { getItem(key: string): string | null };

/** True once the image matching `selector` has been decoded. */
const imageLoaded = (selector: string) => {
  const image = document.querySelector(selector);
  return image !== null && image.complete === true && (image.naturalWidth ?? 0) > 0;
};

describe('the dashboard in a real browser [pglite]', { skip }, () => {
  const dashboard = dashboardInBrowser({
    whatsappNumber: GROUP_NUMBER,
    env: { WORKER_MAX_ATTEMPTS: '1' },
  });
  const { api, deliver } = dashboard;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    page = await openPage(
      dashboard.browser,
      { viewport: { width: 1280, height: 900 }, timezoneId: TIMEZONE, locale: 'en-GB' },
      pageErrors,
    );
    watchForCspRefusals(page);
  });

  /** Anything the Content-Security-Policy refused (openPage collects uncaught errors). */
  const watchForCspRefusals = (target: Page) => {
    target.on('console', (message) => {
      if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) {
        pageErrors.push(message.text());
      }
    });
  };

  const artifacts = artifactsDir('dashboard');
  const shot = (name: string, target: Page = page) => screenshot(target, artifacts, name);

  /** A WhatsApp message from Ada with one PNG served by the fake Twilio. */
  const deliverPhoto = async (body: string, media: { messageSid: string; url: string }) =>
    deliver(
      whatsAppParams({
        from: PHONE,
        to: GROUP_NUMBER,
        body,
        messageSid: media.messageSid,
        media: [{ url: media.url, contentType: 'image/png' }],
      }),
    );

  /** Clicks the view's Refresh button until `ready` holds (the workers run in the background). */
  async function refreshUntil(target: Page, ready: () => Promise<boolean>, timeoutMs = 15_000) {
    await waitFor(async () => {
      if (await ready()) return true;
      await target.locator('section.view:not([hidden]) [data-refresh]').click();
      await target.waitForTimeout(250);
      return ready();
    }, timeoutMs);
  }

  /** An instant as the dashboard shows it: the browser's locale and time zone. */
  const formatInPage = (iso: string) =>
    page.evaluate(
      (value) =>
        new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' }).format(
          new Date(value),
        ),
      iso,
    );

  const openTab = async (name: string, target: Page = page) => {
    await target.getByRole('link', { name, exact: true }).click();
    await target
      .locator('[aria-busy="true"]')
      .first()
      .waitFor({ state: 'detached' })
      .catch(() => {});
  };

  /** Messages is an inbox: a person's messages show once their conversation is open. */
  const openConversation = async (name: string, target: Page = page) => {
    await target.locator('.conversation', { hasText: name }).first().click();
    await target.locator('[data-thread]').getByRole('heading', { name }).waitFor();
  };

  test('asks for the API token once, and says so when it is refused', async () => {
    await page.goto(`${dashboard.baseUrl}/`);
    const tokenInput = page.getByLabel('API token', { exact: true });
    await tokenInput.waitFor();
    assert.equal(await page.locator('#nav').isVisible(), false, 'no sections before the token');

    await tokenInput.fill('not-the-token');
    await page.getByRole('button', { name: 'Open the dashboard' }).click();
    const reason = page.locator('#token-reason');
    await reason.waitFor();
    assert.match(
      (await reason.textContent()) ?? '',
      /The API token was refused: Invalid API token\. Enter it again\./,
    );
    assert.equal(await tokenInput.getAttribute('aria-invalid'), 'true');
    await shot('01-token-refused');

    await tokenInput.fill(TEST_API_TOKEN);
    await page.getByRole('button', { name: 'Open the dashboard' }).click();
    await page.getByRole('heading', { name: 'Feed', level: 1 }).waitFor();
    assert.match(await page.locator('#feed').innerText(), /No posts yet/);

    await page.reload();
    await page.getByRole('heading', { name: 'Feed', level: 1 }).waitFor();
    assert.equal(await tokenInput.isVisible(), false, 'the token is kept for the session');
    assert.equal(
      await page.evaluate(() => sessionStorage.getItem('taskwire.apiToken')),
      TEST_API_TOKEN,
    );
  });

  test('adds a person and assigns a task with a due time in the browser’s time zone', async () => {
    await openTab('People and tasks');
    await page.getByLabel('Name', { exact: true }).fill('Ada');
    await page.getByLabel('WhatsApp phone number', { exact: true }).fill(PHONE);
    await page.getByRole('button', { name: 'Add person' }).click();
    await page.locator('#notice', { hasText: 'Added Ada.' }).waitFor();
    await page.locator('[data-users] tr', { hasText: 'Ada' }).waitFor();

    // The API's error message is shown as is.
    await page.getByLabel('Name', { exact: true }).fill('Ada again');
    await page.getByLabel('WhatsApp phone number', { exact: true }).fill(PHONE);
    await page.getByRole('button', { name: 'Add person' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match((await alert.textContent()) ?? '', new RegExp(`\\${PHONE}`));

    const year = new Date().getFullYear() + 1;
    await page.getByLabel('Person', { exact: true }).selectOption({ label: 'Ada' });
    await page.getByLabel('Task', { exact: true }).fill('Go for a run');
    await page.getByLabel('Due', { exact: true }).fill(`${year}-01-15T18:30`);
    // Not told: no assignment notice among the stages below (`notify: false`).
    await page.getByLabel(/Tell them about it/).uncheck();
    await page.getByRole('button', { name: 'Assign task' }).click();
    await page.locator('#notice', { hasText: 'Assigned “Go for a run” to Ada.' }).waitFor();
    assert.equal(await alert.isVisible(), false, 'a success clears the previous error');

    const row = page.locator('[data-tasks] tr[data-task-id]', { hasText: 'Go for a run' });
    await row.waitFor();
    assert.equal(await row.getAttribute('data-status'), 'active');
    assert.match(await row.innerText(), /Ada/);
    // The default REMINDER_OFFSETS: two stages waiting, an hour and a quarter before the due time.
    const stages = row.locator('.reminder-stages li');
    assert.deepEqual(await stages.allInnerTexts(), [
      `1 h before pending ${await formatInPage(`${year}-01-15T16:30:00.000Z`)}`,
      `15 min before pending ${await formatInPage(`${year}-01-15T17:15:00.000Z`)}`,
    ]);
    // 18:30 in Paris in January is 17:30 UTC: the input was sent with its offset.
    const tasks = (await api('GET', '/tasks')).items as { due_time: string }[];
    assert.equal(tasks[0]?.due_time, `${year}-01-15T17:30:00.000Z`);
    await shot('02-people-and-tasks');
  });

  test('a WhatsApp photo shows in the feed with its image, completes the task and scores', async () => {
    const photo = dashboard.twilio.addMedia({ bytes: makePng(160, 120), contentType: 'image/png' });
    await deliverPhoto(CAPTION, photo);

    await openTab('Feed');
    const post = page.locator('article.post').first();
    await refreshUntil(page, async () => (await page.locator('article.post').count()) > 0);
    await page.waitForFunction(imageLoaded, 'article.post img');
    const size = await post
      .locator('img')
      .evaluate((image) => [
        (image as unknown as PageElement).naturalWidth,
        (image as unknown as PageElement).naturalHeight,
      ]);
    assert.deepEqual(size, [160, 120], 'the PNG from our storage was decoded');
    const image = post.locator('img');
    assert.match(
      (await image.getAttribute('src')) ?? '',
      /^http:\/\/127\.0\.0\.1:\d+\/storage\/notes\//,
    );
    assert.equal(await image.getAttribute('alt'), 'Photo by Ada for “Go for a run”');
    const text = await post.innerText();
    assert.match(text, new RegExp(CAPTION));
    assert.match(text, /Ada · Go for a run/);
    assert.ok(await post.locator('time').getAttribute('datetime'));
    await shot('03-feed');

    await openTab('People and tasks');
    const row = page.locator('[data-tasks] tr[data-task-id]', { hasText: 'Go for a run' });
    await refreshUntil(page, async () => (await row.getAttribute('data-status')) === 'completed');
    assert.match(await row.innerText(), /completed/);

    await openTab('Leaderboard');
    const ada = page.locator('#leaderboard tbody tr', { hasText: 'Ada' });
    await ada.waitFor();
    assert.equal((await ada.locator('.points').textContent())?.trim(), '10');
    assert.equal((await ada.locator('.rank').textContent())?.trim(), '1');
    await shot('04-leaderboard');
  });

  test('cancels an active task from the task list', async () => {
    await openTab('People and tasks');
    await page.getByLabel('Person', { exact: true }).selectOption({ label: 'Ada' });
    await page.getByLabel('Task', { exact: true }).fill('Stretch for ten minutes');
    await page.getByLabel('Points', { exact: true }).fill('5');
    await page.getByRole('button', { name: 'Assign task' }).click();
    const row = page.locator('[data-tasks] tr[data-task-id]', {
      hasText: 'Stretch for ten minutes',
    });
    await row.waitFor();
    assert.equal(await row.getAttribute('data-status'), 'active');
    const id = await row.getAttribute('data-task-id');

    await row.getByRole('button', { name: 'Cancel task “Stretch for ten minutes”' }).click();
    await page.locator('#notice', { hasText: 'Cancelled “Stretch for ten minutes”.' }).waitFor();
    await page
      .locator('[data-tasks] tr[data-status="cancelled"]', { hasText: 'Stretch for ten minutes' })
      .waitFor();
    assert.equal(
      (await row.locator('td[data-label="Status"] .badge').textContent())?.trim(),
      'cancelled',
    );
    assert.equal(await row.getByRole('button').count(), 0, 'a cancelled task has no Cancel');
    // Ada was told of it (the checkbox's default): one assignment notice.
    assert.equal(await row.locator('.reminder-stages li[data-kind="assignment"]').count(), 1);
    // Its reminders will not be sent, and the list says why, once for both stages.
    const stages = row.locator('.reminder-stages li[data-kind="reminder"]');
    assert.deepEqual(await stages.allInnerTexts(), [
      '1 h, 15 min before cancelled The task was cancelled.',
    ]);
    assert.equal((await api('GET', `/tasks/${id}`)).status, 'cancelled');
    await shot('05-task-cancelled');
  });

  test('messages show their media, the reply and its delivery status', async () => {
    const reply = await waitFor(async () =>
      dashboard.twilio.messageRequests.find((r) => r.params.To === `whatsapp:${PHONE}` && r.sid),
    );
    const { payload, headers } = signedForm(`${dashboard.baseUrl}/webhook/twilio/status`, {
      MessageSid: reply.sid as string,
      MessageStatus: 'delivered',
      AccountSid: dashboard.twilio.accountSid,
    });
    const callback = await fetch(`${dashboard.baseUrl}/webhook/twilio/status`, {
      method: 'POST',
      body: payload,
      headers,
    });
    assert.equal(callback.status, 204);

    await openTab('Messages');
    await openConversation('Ada');
    const card = page.locator('article.message', { hasText: CAPTION });
    await card.waitFor();
    assert.equal(await card.getAttribute('data-status'), 'processed');
    await page.waitForFunction(imageLoaded, 'article.message .thumb img');
    const replyBox = card.locator('.reply');
    assert.match(await replyBox.innerText(), /Go for a run/);
    assert.equal((await replyBox.locator('.badge').textContent())?.trim(), 'delivered');
    await shot('06-messages');
  });

  test('a photo already used as proof completes nothing, and its message says why', async () => {
    const users = (await api('GET', '/users')).items as { id: number; username: string }[];
    const ada = users.find((user) => user.username === 'Ada');
    assert.ok(ada);
    const task = await api('POST', '/tasks', {
      user_id: ada.id,
      description: 'Water the plants',
      due_time: new Date(Date.now() + 3_600_000).toISOString(),
    });
    // The very photo that proved "Go for a run".
    const again = dashboard.twilio.addMedia({ bytes: makePng(160, 120), contentType: 'image/png' });
    await deliverPhoto('Same photo, new task', again);

    await openTab('Messages');
    await openConversation('Ada');
    const card = page.locator('article.message', { hasText: 'Same photo, new task' });
    const rejection = card.locator('.proof-rejection');
    await refreshUntil(page, async () => (await rejection.count()) > 0);
    assert.match(
      await rejection.innerText(),
      /^Rejected as proof: Same photo as the proof of task #\d+ "Go for a run" by Ada/,
    );
    assert.equal((await api('GET', `/tasks/${task.id as number}`)).status, 'active');
    await shot('06b-messages-proof-rejected');
  });

  test('a message that failed is shown as failed and retried from the UI', async () => {
    const broken = dashboard.twilio.addMedia({
      bytes: makePng(),
      contentType: 'image/png',
      failFirst: Number.MAX_SAFE_INTEGER,
      failStatus: 500,
    });
    await deliverPhoto('Second photo, Twilio is having a bad day', broken);

    await openTab('Messages');
    await openConversation('Ada');
    const failed = page.locator('article.message[data-status="failed"]');
    await refreshUntil(page, async () => (await failed.count()) > 0);
    const id = await failed.first().getAttribute('data-message-id');
    const card = page.locator(`article.message[data-message-id="${id}"]`);
    assert.match(await card.locator('.error-text').innerText(), /Error: .*500/);
    await shot('07-messages-failed');

    const downloadsBefore = broken.apiRequests;
    await card.getByRole('button', { name: `Retry message ${id}` }).click();
    // The answer of POST /messages/{id}/reprocess: queued again.
    const requeued = await page.waitForFunction(
      (messageId) => {
        const status = document
          .querySelector(`article.message[data-message-id="${messageId}"]`)
          ?.getAttribute('data-status');
        return status === 'pending' || status === 'processing' ? status : null;
      },
      id,
      { polling: 'raf' },
    );
    assert.match(String(await requeued.jsonValue()), /^(pending|processing)$/);
    await page
      .locator('#notice', { hasText: `Message #${id} queued for processing again.` })
      .waitFor();
    await shot('08-messages-retry-queued');

    // The worker really tried again, and the card follows it to its new outcome.
    await waitFor(async () => broken.apiRequests > downloadsBefore);
    await page.locator(`article.message[data-message-id="${id}"][data-status="failed"]`).waitFor();
    const message = await api('GET', `/messages/${id}`);
    assert.equal(message.processing_status, 'failed');
    assert.equal(message.attempts, 1, 'the attempts started again from zero');
    await shot('09-messages-retried-failed-again');
  });

  test('works on a 390px wide phone screen without sideways scrolling', async () => {
    const mobile = await openPage(
      dashboard.browser,
      { ...phoneScreen, timezoneId: TIMEZONE, locale: 'en-GB' },
      pageErrors,
    );
    watchForCspRefusals(mobile);
    try {
      await dashboard.signIn(mobile);
      for (const [tab, name] of [
        ['Feed', '10-mobile-feed'],
        // Short tab names on a phone ("People and tasks" is "People", "Messages" "Inbox",
        // "Leaderboard" "Ranks"): the header is one row.
        ['People', '11-mobile-people'],
        ['Inbox', '12-mobile-messages'],
        ['Ranks', '13-mobile-leaderboard'],
      ] as const) {
        await openTab(tab, mobile);
        await mobile.locator('section.view:not([hidden])').waitFor();
        await mobile.waitForTimeout(300);
        const width = await mobile.evaluate(() => document.documentElement.scrollWidth);
        assert.ok(width <= 390, `${tab} fits in 390px (scrollWidth ${width})`);
        await shot(name, mobile);
      }
    } finally {
      await mobile.context().close();
    }
  });

  test('/docs shows the interactive API documentation, without the token', async () => {
    const docs = await page.context().newPage();
    docs.setDefaultTimeout(15_000);
    docs.on('pageerror', (error) => pageErrors.push(error.message));
    watchForCspRefusals(docs);
    await docs.goto(`${dashboard.baseUrl}/docs`);
    await docs.locator('.opblock').first().waitFor();
    const openapi = (await (await fetch(`${dashboard.baseUrl}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const operations = Object.values(openapi.paths).flatMap((ops) => Object.keys(ops));
    assert.equal(await docs.locator('.opblock').count(), operations.length);
    const text = await docs.locator('body').innerText();
    for (const route of ['/webhook/twilio', '/tasks/{id}', '/messages/{message_id}/reprocess']) {
      assert.ok(text.includes(route), `/docs lists ${route}`);
    }
    assert.ok(await docs.getByRole('button', { name: /Authorize/ }).isVisible());
    await shot('14-docs', docs);
    await docs.close();
  });

  test('no page raised a script error or broke the Content-Security-Policy', () => {
    assert.deepEqual(pageErrors, []);
  });
});
