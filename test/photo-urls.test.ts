/**
 * Photo URLs are built from the stored object keys when the API answers (issue 12, items 6
 * and 8): a URL that cannot be made (the object is gone from a private Supabase bucket,
 * storage is down) answers null with the reason, and the rest of the page still answers;
 * the worker never asks storage for a URL it would not use.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../src/config/config.js';
import { findMessageById } from '../src/db/messages.js';
import { copyFromTwilio, processInboundJob } from '../src/jobs/process-inbound.js';
import { twilioMedia } from '../src/start/processing.js';
import { SupabaseBlobStore } from '../src/storage/supabase/supabase-blob-store.js';
import { type FakeTwilio, startFakeTwilio } from './fakes/fake-twilio.js';
import { MemoryBlobStore } from './fakes/memory-blob-store.js';
import { type FakeSupabaseStorage, startFakeSupabaseStorage } from './fakes/supabase-storage.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { engines, type TestDatabase } from './helpers/databases.js';
import { expectError } from './helpers/errors.js';
import { freePort } from './helpers/service.js';
import { TEST_API_TOKEN, TEST_AUTH_TOKEN } from './helpers/twilio-webhook.js';
import { newWorker, storeMessages } from './helpers/worker.js';

interface MessageBody {
  id: number;
  storage_urls: (string | null)[];
  storage_url_errors: (string | null)[];
}
interface FeedBody {
  items: { post_content: string; image_url: string | null; image_url_error: string | null }[];
}

const KEPT = 'messages/MMkept0000000000000000000000000001/0.png';
const GONE = 'messages/MMgone0000000000000000000000000001/0.png';

/** A message whose two photos are stored under `keys`, and a feed post for each key. */
async function seedRows(t: TestApp, keys: string[]): Promise<number> {
  const db = t.database.db;
  const [user] = await db.query<{ id: number }>(
    `INSERT INTO users (username, phone_number) VALUES ('Ada', '+15550900001') RETURNING id`,
  );
  const stored = keys.map((key, index) => ({ index, key, content_type: 'image/png', size: 3 }));
  const [message] = await db.query<{ id: number }>(
    `INSERT INTO messages (message_sid, from_number, to_number, body, num_media, media_items,
                           sender, raw, processed, processing_status, storage_urls, stored_media)
     VALUES ('MMseed00000000000000000000000000001', 'whatsapp:+15550900001',
             'whatsapp:+14155238886', 'two photos', $1, $2::jsonb, '+15550900001', '{}',
             true, 'processed', $3::jsonb, $4::jsonb)
     RETURNING id`,
    [
      keys.length,
      JSON.stringify(
        keys.map(() => ({ url: 'https://api.twilio.com/x', content_type: 'image/png' })),
      ),
      // What the rows used to keep: an absolute URL of the host they were written on.
      JSON.stringify(keys.map((key) => `http://localhost:8000/storage/notes/${key}`)),
      JSON.stringify(stored),
    ],
  );
  for (const key of keys) {
    await db.query(
      `INSERT INTO feed (user_id, image_url, image_key, post_content) VALUES ($1, $2, $3, $4)`,
      [user?.id, `http://localhost:8000/storage/notes/${key}`, key, `post of ${key}`],
    );
  }
  return message?.id as number;
}

for (const engine of engines) {
  describe(`photo URLs in API answers [${engine.name}]`, { skip: engine.skip }, () => {
    describe('a private Supabase bucket missing one object', () => {
      let supabase: FakeSupabaseStorage;
      let t: TestApp;
      let messageId: number;
      before(async () => {
        supabase = await startFakeSupabaseStorage();
        const store = new SupabaseBlobStore({
          url: supabase.url,
          key: supabase.serviceKey,
          bucket: 'notes',
          public: false,
          signedUrlTtlSeconds: 60,
        });
        await store.ensureBucket();
        await store.put(KEPT, Readable.from([Buffer.from('png')]), { contentType: 'image/png' });
        // GONE is never uploaded (or was deleted): Supabase refuses to sign it.
        t = await createTestApp(engine, { store });
        messageId = await seedRows(t, [KEPT, GONE]);
      });
      after(async () => {
        await t?.close();
        await supabase?.close();
      });
      const get = (url: string) => t.app.inject({ method: 'GET', url, headers: t.auth });

      const assertOneMissing = async (message: MessageBody | undefined) => {
        assert.equal(message?.storage_urls.length, 2);
        const [kept, gone] = message?.storage_urls ?? [];
        assert.match(kept ?? '', /\/storage\/v1\/object\/sign\/notes\/messages\/MMkept.*token=/);
        const loaded = await fetch(kept as string);
        assert.equal(loaded.status, 200, 'the signed URL of the kept photo loads');
        assert.equal(gone, null);
        assert.equal(message?.storage_url_errors[0], null);
        assert.match(message?.storage_url_errors[1] ?? '', /^Storage could not give a URL/);
      };

      test('GET /messages/{id} answers 200: a URL for the kept photo, null and why for the gone one', async () => {
        const response = await get(`/messages/${messageId}`);
        assert.equal(response.statusCode, 200, response.body);
        await assertOneMissing(response.json() as MessageBody);
      });

      test('GET /messages answers 200 with the same', async () => {
        const response = await get('/messages');
        assert.equal(response.statusCode, 200, response.body);
        const page = response.json() as { items: MessageBody[] };
        await assertOneMissing(page.items.find((item) => item.id === messageId));
      });

      test('GET /feed answers 200: the post whose photo is gone has image_url null and says why', async () => {
        const response = await get('/feed');
        assert.equal(response.statusCode, 200, response.body);
        const { items } = response.json() as FeedBody;
        const kept = items.find((item) => item.post_content === `post of ${KEPT}`);
        const gone = items.find((item) => item.post_content === `post of ${GONE}`);
        assert.match(kept?.image_url ?? '', /\/object\/sign\/notes\/messages\/MMkept/);
        assert.equal(kept?.image_url_error, null);
        assert.equal(gone?.image_url, null);
        assert.match(gone?.image_url_error ?? '', /^Storage could not give a URL/);
      });
    });

    describe('storage down', () => {
      let t: TestApp;
      let messageId: number;
      before(async () => {
        // Nothing listens on this port: every call to storage fails to connect.
        const store = new SupabaseBlobStore({
          url: `http://127.0.0.1:${await freePort()}`,
          key: 'service-key',
          bucket: 'notes',
          public: false,
          signedUrlTtlSeconds: 60,
        });
        t = await createTestApp(engine, { store });
        messageId = await seedRows(t, [KEPT, GONE]);
      });
      after(async () => t?.close());
      const get = (url: string) => t.app.inject({ method: 'GET', url, headers: t.auth });

      test('the listings answer 200 with null URLs and the reason, never 500', async () => {
        for (const url of [`/messages/${messageId}`, '/messages']) {
          const response = await get(url);
          assert.equal(response.statusCode, 200, `${url}: ${response.body}`);
          const body = response.json() as MessageBody & { items?: MessageBody[] };
          const message = body.items ? body.items[0] : body;
          assert.deepEqual(message?.storage_urls, [null, null]);
          assert.ok(message?.storage_url_errors.every((error) => error?.startsWith('Storage')));
        }
        const feed = await get('/feed');
        assert.equal(feed.statusCode, 200, feed.body);
        const { items } = feed.json() as FeedBody;
        assert.equal(items.length, 2);
        assert.ok(items.every((item) => item.image_url === null && item.image_url_error));
      });

      test('GET /messages/{id}/media/{i} answers 503 service_unavailable, not 500', async () => {
        const response = await get(`/messages/${messageId}/media/0`);
        expectError(response, 503, 'service_unavailable', /Storage did not answer/);
      });
    });

    describe('posts and messages without a key', () => {
      let t: TestApp;
      before(async () => {
        t = await createTestApp(engine);
      });
      after(async () => t?.close());

      test('a post whose photo is not in our bucket answers its image_url as stored', async () => {
        const db = t.database.db;
        const [user] = await db.query<{ id: number }>(
          `INSERT INTO users (username, phone_number) VALUES ('Bob', '+15550900002') RETURNING id`,
        );
        await db.query(
          `INSERT INTO feed (user_id, image_url, post_content) VALUES ($1, 'https://cdn.example/x.jpg', 'elsewhere')`,
          [user?.id],
        );
        const response = await t.app.inject({ method: 'GET', url: '/feed', headers: t.auth });
        const { items } = response.json() as FeedBody;
        assert.equal(items[0]?.image_url, 'https://cdn.example/x.jpg');
        assert.equal(items[0]?.image_url_error, null);
      });

      test('a message item without a key, or a row without items, answers its URLs as stored', async () => {
        const db = t.database.db;
        const insert = async (sid: string, urls: string[], stored: unknown[]) => {
          const [row] = await db.query<{ id: number }>(
            `INSERT INTO messages (message_sid, from_number, to_number, body, num_media,
                                   media_items, sender, raw, storage_urls, stored_media)
             VALUES ($1, 'whatsapp:+15550900003', 'whatsapp:+14155238886', '', 1, '[]',
                     '+15550900003', '{}', $2::jsonb, $3::jsonb)
             RETURNING id`,
            [sid, JSON.stringify(urls), JSON.stringify(stored)],
          );
          const response = await t.app.inject({
            method: 'GET',
            url: `/messages/${row?.id}`,
            headers: t.auth,
          });
          assert.equal(response.statusCode, 200, response.body);
          return response.json() as MessageBody;
        };
        const noItems = await insert(
          'MMlegacy0000000000000000000000000001',
          ['https://cdn.example/a.jpg'],
          [],
        );
        assert.deepEqual(noItems.storage_urls, ['https://cdn.example/a.jpg']);
        assert.deepEqual(noItems.storage_url_errors, [null]);
        const noKey = await insert(
          'MMlegacy0000000000000000000000000002',
          ['https://cdn.example/b.jpg', 'x'],
          [
            { index: 0, url: 'https://cdn.example/b.jpg' },
            { index: 1, key: 'messages/MMlegacy0000000000000000000000000002/1.jpg' },
          ],
        );
        assert.deepEqual(noKey.storage_urls, [
          'https://cdn.example/b.jpg',
          'memory://memory/messages/MMlegacy0000000000000000000000000002/1.jpg',
        ]);
      });
    });

    describe('the worker after an upload', () => {
      let twilio: FakeTwilio;
      let db: TestDatabase;
      before(async () => {
        twilio = await startFakeTwilio();
        db = await engine.create();
      });
      after(async () => {
        await db?.destroy();
        await twilio?.close();
      });

      test('asks storage for no URL: a store whose url() throws still processes the photo once', async () => {
        let urlCalls = 0;
        const store = new MemoryBlobStore();
        store.url = async () => {
          urlCalls += 1;
          throw new Error('storage refused to sign');
        };
        const config = loadConfig({
          API_TOKEN: TEST_API_TOKEN,
          TWILIO_ACCOUNT_SID: twilio.accountSid,
          TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN,
          TWILIO_API_BASE_URL: twilio.apiBaseUrl,
          // The fake's CDN, where its media URLs redirect to.
          MEDIA_REDIRECT_ALLOWLIST: twilio.cdnBaseUrl,
          LOG_LEVEL: 'silent',
        });
        const media = twilio.addMedia({ bytes: Buffer.from('a photo'), contentType: 'image/png' });
        const [id] = await storeMessages(db.db, [
          { messageSid: media.messageSid, media: [{ url: media.url, contentType: 'image/png' }] },
        ]);
        const worker = newWorker(db.db, (message) =>
          processInboundJob({ db: db.db, copyMedia: copyFromTwilio(twilioMedia(config), store) })(
            message,
          ),
        );
        await worker.runUntilIdle();

        const row = await findMessageById(db.db, id as number);
        assert.equal(row?.processing_status, 'processed', row?.error ?? '');
        assert.equal(row?.error, null);
        assert.equal(row?.attempts, 1);
        assert.equal(urlCalls, 0, 'no url() after the upload');
        assert.equal(store.puts.length, 1, 'uploaded once');
        assert.equal(media.apiRequests, 1, 'downloaded once');
        assert.equal(row?.stored_media[0]?.key, `messages/${media.messageSid}/0.png`);
        // The row keeps a stable, host-free reference; the API builds URLs from the key.
        assert.deepEqual(row?.storage_urls, [`/messages/${id}/media/0`]);
      });
    });
  });
}
