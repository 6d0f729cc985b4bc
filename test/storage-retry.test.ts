// The service on Supabase Storage when Storage is in trouble: a stalled or failing upload
// fails the attempt within STORAGE_TIMEOUT_MS, the message is retried with back-off, and
// once Storage answers again the photo is stored, byte for byte, and the message processed.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type FakeTwilio, startFakeTwilio } from './fakes/fake-twilio.js';
import {
  type FakeRequest,
  type FakeSupabaseStorage,
  startFakeSupabaseStorage,
} from './fakes/supabase-storage.js';
import { engines } from './helpers/databases.js';
import { startTestService, type TestService } from './helpers/service.js';
import { signedForm, whatsAppParams } from './helpers/twilio-webhook.js';
import { waitFor } from './helpers/worker.js';

interface MessageBody {
  processing_status: string;
  stored_media: { index: number; key?: string; error?: string }[];
  error: string | null;
}

for (const engine of engines) {
  describe(`storage outages are retried [${engine.name}]`, { skip: engine.skip }, () => {
    let twilio: FakeTwilio;
    let storage: FakeSupabaseStorage;
    let t: TestService;
    before(async () => {
      twilio = await startFakeTwilio();
      storage = await startFakeSupabaseStorage();
      t = await startTestService(engine, {
        TWILIO_API_BASE_URL: twilio.apiBaseUrl,
        STORAGE_DRIVER: 'supabase',
        SUPABASE_URL: storage.url,
        SUPABASE_KEY: storage.serviceKey,
        // Short, so stalls end quickly; long enough that a loaded machine's real calls
        // (the bucket check at start-up, the uploads that work) finish within it.
        STORAGE_TIMEOUT_MS: '1500',
        WORKER_MAX_ATTEMPTS: '5',
      });
    });
    after(async () => {
      storage?.recover();
      await t?.close();
      await storage?.close();
      await twilio?.close();
    });

    const uploadsOf = (messageSid: string) => (request: FakeRequest) =>
      request.method === 'POST' && request.path.includes(`/object/notes/messages/${messageSid}/`);

    /** Delivers a one-photo message and waits until it is `until` (processed by default). */
    const deliverPhoto = async (
      photo: { messageSid: string; url: string },
      until: 'processed' | 'failed' = 'processed',
    ) => {
      const url = `${t.baseUrl}/webhook/twilio`;
      const params = whatsAppParams({
        messageSid: photo.messageSid,
        media: [{ url: photo.url, contentType: 'image/jpeg' }],
      });
      const { payload, headers } = signedForm(url, params);
      assert.equal((await fetch(url, { method: 'POST', body: payload, headers })).status, 200);
      return waitFor(async () => {
        const response = await fetch(`${t.baseUrl}/messages/${photo.messageSid}`, {
          headers: t.auth,
        });
        const message = (await response.json()) as MessageBody;
        return message.processing_status === until ? message : null;
      }, 60_000);
    };

    test('a stalled upload times out, is retried, and the photo is stored once Storage recovers', async () => {
      const bytes = randomBytes(48 * 1024);
      const photo = twilio.addMedia({ bytes, contentType: 'image/jpeg' });
      // The first two uploads are taken and never answered; the third is served.
      storage.fail('stall', { times: 2, match: uploadsOf(photo.messageSid) });

      const message = await deliverPhoto(photo);
      const key = `messages/${photo.messageSid}/0.jpg`;
      assert.equal(message.error, null);
      assert.deepEqual(
        message.stored_media.map((item) => item.key),
        [key],
      );
      assert.ok(storage.buckets.get('notes')?.objects.get(key)?.bytes.equals(bytes));
      const attempts = storage.requests.filter(uploadsOf(photo.messageSid));
      assert.equal(attempts.length, 3, 'two stalled uploads, then the one that worked');
      assert.equal(storage.stalled.filter(uploadsOf(photo.messageSid)).length, 2);
    });

    test('uploads that stall on every attempt end the message failed, saying why', async () => {
      const photo = twilio.addMedia({ bytes: randomBytes(8 * 1024), contentType: 'image/jpeg' });
      storage.fail('stall', { match: uploadsOf(photo.messageSid) });
      try {
        const message = await deliverPhoto(photo, 'failed');
        assert.match(
          message.error ?? '',
          /Supabase Storage: uploading "messages\/\w+\/0\.jpg" did not finish within STORAGE_TIMEOUT_MS \(1500 ms\)/,
        );
        assert.equal(storage.stalled.filter(uploadsOf(photo.messageSid)).length, 5);
      } finally {
        storage.recover();
      }
    });

    test('a 502 and a 503 from the gateway are retried like a failed download', async () => {
      for (const status of [502, 503] as const) {
        const bytes = randomBytes(16 * 1024);
        const photo = twilio.addMedia({ bytes, contentType: 'image/jpeg' });
        storage.fail(status, { times: 2, match: uploadsOf(photo.messageSid) });

        const message = await deliverPhoto(photo);
        assert.equal(message.error, null, `after ${status}`);
        const key = `messages/${photo.messageSid}/0.jpg`;
        assert.ok(storage.buckets.get('notes')?.objects.get(key)?.bytes.equals(bytes));
        assert.equal(storage.requests.filter(uploadsOf(photo.messageSid)).length, 3);
      }
    });
  });
}
