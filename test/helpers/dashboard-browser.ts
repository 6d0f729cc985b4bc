import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { type FakeTwilio, startFakeTwilio } from '../fakes/fake-twilio.js';
import { launchChromium } from './browser.js';
import { pglite } from './databases.js';
import { freePort, startTestService, type TestService } from './service.js';
import { signedForm, TEST_API_TOKEN } from './twilio-webhook.js';

/** What a dashboard browser test works with (see dashboardInBrowser). */
export interface DashboardInBrowser {
  readonly twilio: FakeTwilio;
  readonly service: TestService;
  /** The service's address, which is also its PUBLIC_URL. */
  readonly baseUrl: string;
  readonly browser: Browser;
  /** Calls the admin API with the token; a status of 300 or more fails the test. */
  api(method: string, url: string, body?: unknown): Promise<Record<string, unknown>>;
  /** Posts a webhook signed as Twilio signs it; anything but 200 fails the test. */
  deliver(params: Record<string, string>): Promise<void>;
  /** Opens the dashboard at `hash` (e.g. '#messages') on `page` and signs in with the token. */
  signIn(page: Page, hash?: string): Promise<void>;
}

/**
 * Registers the `before` and `after` hooks of the enclosing describe block that start (and
 * stop) the fake Twilio, the real service on PGlite and Chromium. The service listens on a
 * port chosen first so that PUBLIC_URL — what Twilio signs and what photo URLs start with —
 * is the address the browser uses. `env` adds to (or overrides) the service's environment.
 */
export function dashboardInBrowser(options: {
  whatsappNumber: string;
  env?: Record<string, string>;
}): DashboardInBrowser {
  let twilio: FakeTwilio;
  let service: TestService;
  let baseUrl: string;
  let browser: Browser;

  before(async () => {
    twilio = await startFakeTwilio();
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    service = await startTestService(pglite, {
      PORT: String(port),
      PUBLIC_URL: baseUrl,
      TWILIO_API_BASE_URL: twilio.apiBaseUrl,
      TWILIO_WHATSAPP_NUMBER: options.whatsappNumber,
      ...options.env,
    });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await service?.close();
    await twilio?.close();
  });

  return {
    get twilio() {
      return twilio;
    },
    get service() {
      return service;
    },
    get baseUrl() {
      return baseUrl;
    },
    get browser() {
      return browser;
    },
    async api(method, url, body) {
      const response = await fetch(`${baseUrl}${url}`, {
        method,
        headers:
          body === undefined
            ? service.auth
            : { ...service.auth, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      assert.ok(response.status < 300, `${method} ${url}: ${response.status}`);
      return (await response.json()) as Record<string, unknown>;
    },
    async deliver(params) {
      const url = `${baseUrl}/webhook/twilio`;
      const { payload, headers } = signedForm(url, params);
      const response = await fetch(url, { method: 'POST', body: payload, headers });
      assert.equal(response.status, 200, 'the signed webhook is accepted');
      await response.arrayBuffer();
    },
    async signIn(page, hash = '') {
      await page.goto(`${baseUrl}/${hash}`);
      await page.getByLabel('API token', { exact: true }).fill(TEST_API_TOKEN);
      await page.getByRole('button', { name: 'Open the dashboard' }).click();
    },
  };
}
