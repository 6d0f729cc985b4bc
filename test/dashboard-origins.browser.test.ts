/**
 * Photos load wherever the dashboard is opened (issue 12, item 6): the real service on
 * PGlite without PUBLIC_URL, one WhatsApp photo, and the dashboard opened in Chromium at
 * http://127.0.0.1:PORT and at http://localhost:PORT. Under the dashboard's
 * `Cross-Origin-Resource-Policy: same-origin` and CSP, a photo URL that named the other
 * host would not load; the API answers relative URLs built from the stored keys.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { type FakeTwilio, startFakeTwilio } from './fakes/fake-twilio.js';
import { browserSkip as skip, launchChromium, openPage } from './helpers/browser.js';
import { pglite } from './helpers/databases.js';
import { makePng } from './helpers/png.js';
import { startTestService, type TestService } from './helpers/service.js';
import { signedForm, TEST_API_TOKEN, whatsAppParams } from './helpers/twilio-webhook.js';
import { waitFor } from './helpers/worker.js';

const GROUP_NUMBER = '+14155238886';
const PHONE = '+15550002222';

// The little of the DOM the page code below uses (this project compiles without the DOM
// library). Functions, never strings: the dashboard's CSP forbids eval.
interface PageImage {
  complete?: boolean;
  naturalWidth?: number;
  currentSrc?: string;
}
declare const document: { querySelector(selector: string): PageImage | null };

const imageLoaded = (selector: string) => {
  const image = document.querySelector(selector);
  return image !== null && image.complete === true && (image.naturalWidth ?? 0) > 0;
};

describe('photos load wherever the dashboard is opened [pglite]', { skip }, () => {
  let twilio: FakeTwilio;
  let t: TestService;
  let browser: Browser;
  let port: string;
  const pageErrors: string[] = [];

  before(async () => {
    twilio = await startFakeTwilio();
    // No PUBLIC_URL: nothing tells the service which address the browser will use.
    t = await startTestService(pglite, {
      TWILIO_API_BASE_URL: twilio.apiBaseUrl,
      MEDIA_REDIRECT_ALLOWLIST: twilio.cdnBaseUrl,
      TWILIO_WHATSAPP_NUMBER: GROUP_NUMBER,
    });
    port = new URL(t.baseUrl).port;
    const api = async (path: string, body: unknown) => {
      const response = await fetch(`${t.baseUrl}${path}`, {
        method: 'POST',
        headers: { ...t.auth, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      assert.ok(response.ok, `${path}: ${response.status}`);
      return (await response.json()) as { id: number };
    };
    const user = await api('/users', { username: 'Ada', phone_number: PHONE });
    await api('/tasks', {
      user_id: user.id,
      description: 'Go for a run',
      due_time: new Date(Date.now() + 3_600_000).toISOString(),
    });

    const photo = twilio.addMedia({ bytes: makePng(160, 120), contentType: 'image/png' });
    const params = whatsAppParams({
      from: PHONE,
      to: GROUP_NUMBER,
      body: 'Ran along the river',
      messageSid: photo.messageSid,
      media: [{ url: photo.url, contentType: 'image/png' }],
    });
    // Without PUBLIC_URL the signature is checked against the address the request came to.
    const { payload, headers } = signedForm(`${t.baseUrl}/webhook/twilio`, params);
    const ack = await fetch(`${t.baseUrl}/webhook/twilio`, {
      method: 'POST',
      body: payload,
      headers,
    });
    assert.equal(ack.status, 200);
    await waitFor(async () => {
      const feed = await fetch(`${t.baseUrl}/feed`, { headers: t.auth });
      return ((await feed.json()) as { total: number }).total > 0;
    }, 15_000);

    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await t?.close();
    await twilio?.close();
  });

  for (const host of ['127.0.0.1', 'localhost']) {
    test(`at http://${host}:PORT the feed and the messages show the photo`, async () => {
      const origin = `http://${host}:${port}`;
      const page = await openPage(browser, { viewport: { width: 1280, height: 900 } }, pageErrors);
      try {
        page.on('console', (message) => {
          if (message.type() === 'error') pageErrors.push(`${host}: ${message.text()}`);
        });

        await page.goto(`${origin}/`);
        await page.getByLabel('API token', { exact: true }).fill(TEST_API_TOKEN);
        await page.getByRole('button', { name: 'Open the dashboard' }).click();
        await page.getByRole('heading', { name: 'Feed', level: 1 }).waitFor();
        await page.locator('article.post img').waitFor();
        await page.waitForFunction(imageLoaded, 'article.post img');
        const feedSource = await page
          .locator('article.post img')
          .evaluate((image) => (image as unknown as PageImage).currentSrc ?? '');
        assert.ok(
          feedSource.startsWith(`${origin}/storage/notes/messages/`),
          `the feed photo loads from the address the dashboard is on: ${feedSource}`,
        );

        await page.getByRole('link', { name: 'Messages', exact: true }).click();
        // Messages is an inbox: the photo shows in the sender's conversation.
        await page.locator('.conversation').first().click();
        await page.locator('article.message .thumb img').waitFor();
        await page.waitForFunction(imageLoaded, 'article.message .thumb img');
        const thumbSource = await page
          .locator('article.message .thumb img')
          .evaluate((image) => (image as unknown as PageImage).currentSrc ?? '');
        assert.ok(thumbSource.startsWith(`${origin}/storage/notes/messages/`), thumbSource);
      } finally {
        await page.context().close();
      }
    });
  }

  test('no page raised a script error, broke the CSP or failed to load a resource', () => {
    assert.deepEqual(pageErrors, []);
  });
});
