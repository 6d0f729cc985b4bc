import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type FakeTwilio, startFakeTwilio } from './fakes/fake-twilio.js';
import { engines } from './helpers/databases.js';
import { startTestService, type TestService } from './helpers/service.js';
import { signedForm, whatsAppParams } from './helpers/twilio-webhook.js';
import { waitFor } from './helpers/worker.js';

interface MessageBody {
  id: number;
  processed: boolean;
  processing_status: string;
  storage_urls: string[];
  stored_media: { index: number; key?: string; error?: string }[];
  error: string | null;
}

for (const engine of engines) {
  describe(`media pipeline, end to end [${engine.name}]`, { skip: engine.skip }, () => {
    let twilio: FakeTwilio;
    let t: TestService;
    before(async () => {
      twilio = await startFakeTwilio();
      // Two attempts keep the failure test short; the back-off is 50 ms in tests.
      t = await startTestService(engine, {
        TWILIO_API_BASE_URL: twilio.apiBaseUrl,
        WORKER_MAX_ATTEMPTS: '2',
      });
    });
    after(async () => {
      await t?.close();
      await twilio?.close();
    });

    const deliver = async (params: Record<string, string>) => {
      const url = `${t.baseUrl}/webhook/twilio`;
      const { payload, headers } = signedForm(url, params);
      return fetch(url, { method: 'POST', body: payload, headers });
    };
    const getMessage = async (sid: string): Promise<MessageBody> =>
      (await (
        await fetch(`${t.baseUrl}/messages/${sid}`, { headers: t.auth })
      ).json()) as MessageBody;

    test('a webhook with two photos ends with both on local disk, served byte-for-byte', async () => {
      const jpeg = randomBytes(300 * 1024);
      const png = randomBytes(20 * 1024);
      const first = twilio.addMedia({ bytes: jpeg, contentType: 'image/jpeg' });
      const second = twilio.addMedia({
        bytes: png,
        contentType: 'image/png',
        messageSid: first.messageSid,
      });
      const params = whatsAppParams({
        messageSid: first.messageSid,
        media: [
          { url: first.url, contentType: 'image/jpeg' },
          { url: second.url, contentType: 'image/png' },
        ],
      });
      const ack = await deliver(params);
      assert.equal(ack.status, 200);

      const done = await waitFor(async () => {
        const message = await getMessage(first.messageSid);
        return message.processed ? message : null;
      });
      assert.equal(done.processing_status, 'processed');
      assert.equal(done.storage_urls.length, 2);
      assert.equal(done.error, null);
      // Local driver: files under DATA_DIR/storage/notes/messages/<MessageSid>/<index>.<ext>.
      const onDisk = readFileSync(
        path.join(t.dataDir, 'storage', 'notes', 'messages', first.messageSid, '0.jpg'),
      );
      assert.ok(onDisk.equals(jpeg));
      assert.ok(
        first.cdnRequests > 0 && !first.cdnAuthorizationSeen,
        'CDN never sees the credentials',
      );

      // Public URLs load directly in a browser, without the API token. Relative: they
      // load on whatever address the dashboard is opened at.
      assert.match(done.storage_urls[1] as string, /^\/storage\/notes\/messages\//);
      const publicCopy = Buffer.from(
        await (await fetch(new URL(done.storage_urls[1] as string, t.baseUrl))).arrayBuffer(),
      );
      assert.ok(publicCopy.equals(png));

      // The guide's media route serves our copy with its type and length.
      const media = await fetch(`${t.baseUrl}/messages/${done.id}/media/0`, { headers: t.auth });
      assert.equal(media.status, 200);
      assert.equal(media.headers.get('content-type'), 'image/jpeg');
      assert.equal(media.headers.get('content-length'), String(jpeg.length));
      assert.ok(Buffer.from(await media.arrayBuffer()).equals(jpeg));
      const apiRequestsBefore = first.apiRequests;
      const base64 = (await (
        await fetch(`${t.baseUrl}/messages/${done.id}/media/1?as_base64=true`, { headers: t.auth })
      ).json()) as { content_type: string; size: number; data: string };
      assert.deepEqual(base64, {
        content_type: 'image/png',
        size: png.length,
        data: png.toString('base64'),
      });
      assert.equal(first.apiRequests, apiRequestsBefore, 'served from our storage, not Twilio');

      // The API's error paths.
      const notInteger = await fetch(`${t.baseUrl}/messages/${done.id}/media/x`, {
        headers: t.auth,
      });
      assert.equal(notInteger.status, 400);
      const outOfRange = await fetch(`${t.baseUrl}/messages/${done.id}/media/2`, {
        headers: t.auth,
      });
      assert.equal(outOfRange.status, 404);
      assert.equal(
        ((await outOfRange.json()) as { error: { code: string } }).error.code,
        'not_found',
      );
      const noToken = await fetch(`${t.baseUrl}/messages/${done.id}/media/0`);
      assert.equal(noToken.status, 401);
    });

    test('a media URL off Twilio is refused alone; the other item is stored and the message is processed', async () => {
      const small = twilio.addMedia({ bytes: randomBytes(1024), contentType: 'image/jpeg' });
      const big = small;
      const foreign = 'https://evil.example.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1';
      const params = whatsAppParams({
        messageSid: big.messageSid,
        media: [
          { url: foreign, contentType: 'image/jpeg' },
          { url: small.url, contentType: 'image/jpeg' },
        ],
      });
      await deliver(params);
      const done = await waitFor(async () => {
        const message = await getMessage(big.messageSid);
        return message.processed ? message : null;
      });
      assert.equal(done.storage_urls.length, 1);
      assert.match(done.stored_media[0]?.error ?? '', /not|refused|Twilio/i);
      assert.ok(done.stored_media[1]?.key);
      const refused = await fetch(`${t.baseUrl}/messages/${done.id}/media/0`, { headers: t.auth });
      assert.equal(refused.status, 404);
    });

    test('a message whose media keeps failing is marked failed, then reprocessed on request', async () => {
      const flaky = twilio.addMedia({
        bytes: randomBytes(2048),
        contentType: 'image/jpeg',
        failFirst: 1000,
        failStatus: 500,
      });
      const params = whatsAppParams({
        messageSid: flaky.messageSid,
        media: [{ url: flaky.url, contentType: 'image/jpeg' }],
      });
      await deliver(params);
      const failed = await waitFor(async () => {
        const message = await getMessage(flaky.messageSid);
        return message.processing_status === 'failed' ? message : null;
      }, 60_000);
      assert.equal(failed.processed, false);
      assert.match(failed.error ?? '', /500/);

      const pending = await fetch(`${t.baseUrl}/messages/${failed.id}/media/0`, {
        headers: t.auth,
      });
      assert.equal(pending.status, 409);

      const reprocess = await fetch(`${t.baseUrl}/messages/${failed.id}/reprocess`, {
        method: 'POST',
        headers: t.auth,
      });
      assert.equal(reprocess.status, 202);
    });
  });
}
