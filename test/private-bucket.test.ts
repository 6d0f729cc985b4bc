import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type FakeTwilio, startFakeTwilio } from './fakes/fake-twilio.js';
import { pglite } from './helpers/databases.js';
import { startTestService, type TestService } from './helpers/service.js';
import { signedForm, whatsAppParams } from './helpers/twilio-webhook.js';
import { waitFor } from './helpers/worker.js';

describe('a private bucket (STORAGE_PUBLIC=false)', () => {
  let twilio: FakeTwilio;
  let t: TestService;
  before(async () => {
    twilio = await startFakeTwilio();
    t = await startTestService(pglite, {
      TWILIO_API_BASE_URL: twilio.apiBaseUrl,
      STORAGE_PUBLIC: 'false',
      STORAGE_SIGNED_URL_TTL: '60',
    });
  });
  after(async () => {
    await t?.close();
    await twilio?.close();
  });

  test('the API answers signed, expiring URLs that load without the token; a tampered one is refused', async () => {
    const bytes = randomBytes(5000);
    const media = twilio.addMedia({ bytes, contentType: 'image/png' });
    const params = whatsAppParams({
      messageSid: media.messageSid,
      media: [{ url: media.url, contentType: 'image/png' }],
    });
    const url = `${t.baseUrl}/webhook/twilio`;
    const { payload, headers } = signedForm(url, params);
    assert.equal((await fetch(url, { method: 'POST', body: payload, headers })).status, 200);

    const message = await waitFor(async () => {
      const response = await fetch(`${t.baseUrl}/messages/${media.messageSid}`, {
        headers: t.auth,
      });
      const body = (await response.json()) as { processed: boolean; storage_urls: string[] };
      return body.processed ? body : null;
    });
    // Relative (no PUBLIC_URL): it loads on whatever address the dashboard is opened at.
    assert.match(message.storage_urls[0] as string, /^\/storage\/notes\//);
    const signed = new URL(message.storage_urls[0] as string, t.baseUrl).href;
    assert.match(signed, /[?&]expires=\d+/);
    assert.match(signed, /[?&]signature=/);
    const loaded = await fetch(signed);
    assert.equal(loaded.status, 200);
    assert.ok(Buffer.from(await loaded.arrayBuffer()).equals(bytes));

    const tampered = signed.replace(
      /signature=([0-9a-f])/,
      (_m, c: string) => `signature=${c === '0' ? '1' : '0'}`,
    );
    assert.equal((await fetch(tampered)).status, 403);
    const unsigned = signed.split('?')[0] as string;
    assert.equal((await fetch(unsigned)).status, 403);
  });
});
