import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  MediaDownloadError,
  MediaHttpError,
  MediaRefusedError,
  MediaTimeoutError,
  MediaTooLargeError,
  createTwilioMedia,
  deleteTwilioMedia,
  downloadMediaToStore,
  extensionForContentType,
  isPermanentMediaError,
  mediaObjectKey,
  type MediaDownloadOptions,
} from '../src/twilio/media.js';
import type { MediaItem } from '../src/domain/message.js';
import { copyFromTwilio } from '../src/jobs/process-inbound.js';
import type { BlobStore } from '../src/storage/adapter.js';
import { startFakeTwilio, newSid, type FakeTwilio } from './fakes/fake-twilio.js';
import { MemoryBlobStore } from './fakes/memory-blob-store.js';

const KiB = 1024;

/**
 * Copies a message's items one after another with the copy the inbound job runs
 * (copyFromTwilio), each item's outcome on its own, as the job records them.
 */
async function copyEach(
  messageSid: string,
  items: MediaItem[],
  store: BlobStore,
  options: MediaDownloadOptions,
): Promise<Array<{ ok: true } | { ok: false; error: unknown }>> {
  const copy = copyFromTwilio(createTwilioMedia(options), store);
  const results: Array<{ ok: true } | { ok: false; error: unknown }> = [];
  for (const [index, item] of items.entries()) {
    results.push(
      await copy(item, { messageId: 1, messageSid, index }).then(
        () => ({ ok: true as const }),
        (error: unknown) => ({ ok: false as const, error }),
      ),
    );
  }
  return results;
}

/** A server that is not Twilio: it counts what reaches it, so a test can prove nothing did. */
async function startOtherServer(): Promise<{
  origin: string;
  requests: { authorization: string | undefined }[];
  close(): Promise<void>;
}> {
  const requests: { authorization: string | undefined }[] = [];
  const server: Server = createServer((req, res) => {
    requests.push({ authorization: req.headers.authorization });
    res.writeHead(200, { 'Content-Type': 'image/jpeg' }).end('not a photo');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const rejection = async (promise: Promise<unknown>): Promise<Error> => {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof Error);
    return error;
  }
  assert.fail('expected the promise to reject');
};

describe('downloading Twilio media into storage', () => {
  let fake: FakeTwilio;
  before(async () => {
    fake = await startFakeTwilio();
  });
  after(async () => fake?.close());

  const options = (overrides: Partial<MediaDownloadOptions> = {}): MediaDownloadOptions => ({
    accountSid: fake.accountSid,
    authToken: fake.authToken,
    apiBaseUrl: fake.apiBaseUrl,
    // The fake's CDN stands for Twilio's: redirects may go there (MEDIA_REDIRECT_ALLOWLIST).
    redirectAllowlist: [fake.cdnBaseUrl],
    maxBytes: 1024 * KiB,
    timeoutMs: 5000,
    retryDelaysMs: [10, 10, 10],
    ...overrides,
  });

  const assertNoSecrets = (error: Error) => {
    assert.ok(!error.message.includes(fake.authToken), 'auth token in message');
    assert.ok(!error.message.includes(fake.accountSid), 'account SID in message');
    assert.ok(!/X-Amz-Signature|\+\d{7,}/.test(error.message), 'signed URL or phone number');
  };

  describe('copying bytes', () => {
    test('one photo arrives byte for byte under messages/<MessageSid>/0.jpg', async () => {
      const bytes = randomBytes(200 * KiB);
      const media = fake.addMedia({ bytes, contentType: 'image/jpeg' });
      const store = new MemoryBlobStore();

      const stored = await downloadMediaToStore(
        { url: media.url, contentType: 'image/jpeg' },
        { store, key: (type) => mediaObjectKey(media.messageSid, 0, type) },
        options(),
      );

      const key = `messages/${media.messageSid}/0.jpg`;
      assert.deepEqual(stored, {
        key,
        size: bytes.length,
        content_type: 'image/jpeg',
        // Hashed on the way through; random bytes are no decodable image, so no dhash.
        sha256: createHash('sha256').update(bytes).digest('hex'),
        dhash: null,
      });
      assert.ok(store.bytes(key)?.equals(bytes));
      assert.equal(store.puts[0]?.options.contentLength, bytes.length);
      assert.equal(media.apiRequests, 1);
      assert.equal(media.cdnRequests, 1);
    });

    test('three items of one message are stored in webhook order with their own extensions', async () => {
      const messageSid = newSid('MM');
      const items = [
        { bytes: randomBytes(10 * KiB), contentType: 'image/jpeg' },
        { bytes: randomBytes(300 * KiB), contentType: 'image/png' },
        { bytes: randomBytes(1), contentType: 'application/pdf' },
      ];
      const media = items.map((item) => fake.addMedia({ ...item, messageSid }));
      const store = new MemoryBlobStore();

      const results = await copyEach(
        messageSid,
        media.map((m, i) => ({ url: m.url, content_type: items[i]!.contentType })),
        store,
        options(),
      );

      assert.deepEqual(
        results.map((r) => r.ok),
        [true, true, true],
      );
      const keys = ['0.jpg', '1.png', '2.pdf'].map((name) => `messages/${messageSid}/${name}`);
      assert.deepEqual(store.keys(), keys);
      items.forEach((item, i) => assert.ok(store.bytes(keys[i]!)?.equals(item.bytes)));
    });

    test('the body is streamed: storage gets the first bytes before the CDN has sent the last', async () => {
      const media = fake.addMedia({
        bytes: randomBytes(512 * KiB),
        contentType: 'image/jpeg',
        stallMs: 200,
      });
      let completeAtFirstChunk: boolean | null = null;
      const store = new MemoryBlobStore({
        onChunk: () => (completeAtFirstChunk ??= media.bodyComplete),
      });

      await downloadMediaToStore({ url: media.url }, { store, key: 'k.jpg' }, options());

      assert.equal(completeAtFirstChunk, false);
      assert.ok((store.puts[0]?.chunks ?? 0) > 1);
      assert.equal(media.bodyComplete, true);
    });
  });

  describe('retries', () => {
    test('a 500 from Twilio is retried, then the item is stored', async () => {
      const bytes = randomBytes(5 * KiB);
      const media = fake.addMedia({
        bytes,
        contentType: 'image/png',
        failFirst: 2,
        failStatus: 500,
      });
      const store = new MemoryBlobStore();

      await downloadMediaToStore({ url: media.url }, { store, key: 'k.png' }, options());

      assert.equal(media.apiRequests, 3);
      assert.ok(store.bytes('k.png')?.equals(bytes));
    });

    test('the 404 Twilio answers while fresh media is not ready yet is retried', async () => {
      const bytes = randomBytes(5 * KiB);
      const media = fake.addMedia({ bytes, contentType: 'image/jpeg', failFirst: 1 });
      const store = new MemoryBlobStore();

      await downloadMediaToStore({ url: media.url }, { store, key: 'k.jpg' }, options());

      assert.equal(media.apiRequests, 2);
      assert.ok(store.bytes('k.jpg')?.equals(bytes));
    });

    test('after the configured retries a 5xx fails as transient, naming the status', async () => {
      const media = fake.addMedia({
        bytes: randomBytes(10),
        contentType: 'image/jpeg',
        failFirst: 100,
        failStatus: 503,
      });

      const error = await rejection(
        downloadMediaToStore(
          { url: media.url },
          { store: new MemoryBlobStore(), key: 'k' },
          options({ retryDelaysMs: [5, 5] }),
        ),
      );

      assert.ok(error instanceof MediaHttpError);
      assert.equal(error.status, 503);
      assert.equal(error.permanent, false);
      assert.match(error.message, /Transient/);
      assert.equal(media.apiRequests, 3);
    });

    for (const status of [403, 400]) {
      test(`a ${status} is permanent and is not retried`, async () => {
        const media = fake.addMedia({
          bytes: randomBytes(10),
          contentType: 'image/jpeg',
          failFirst: 100,
          failStatus: status,
        });
        const store = new MemoryBlobStore();

        const error = await rejection(
          downloadMediaToStore({ url: media.url }, { store, key: 'k' }, options()),
        );

        assert.ok(error instanceof MediaHttpError);
        assert.equal(error.status, status);
        assert.equal(isPermanentMediaError(error), true);
        assert.match(error.message, /Permanent/);
        assert.equal(media.apiRequests, 1);
        assert.equal(store.puts.length, 0);
      });
    }

    test('wrong credentials get a permanent 401 that names the variables, not their values', async () => {
      const media = fake.addMedia({ bytes: randomBytes(10), contentType: 'image/jpeg' });

      const error = await rejection(
        downloadMediaToStore(
          { url: media.url },
          { store: new MemoryBlobStore(), key: 'k' },
          options({ authToken: 'wrong-token-0123456789' }),
        ),
      );

      assert.ok(error instanceof MediaHttpError);
      assert.equal(error.status, 401);
      assert.equal(error.twilioCode, 20003);
      assert.equal(error.permanent, true);
      assert.match(error.message, /TWILIO_AUTH_TOKEN/);
      assert.ok(!error.message.includes('wrong-token-0123456789'));
      assertNoSecrets(error);
      assert.equal(media.apiRequests, 1);
      assert.equal(media.cdnRequests, 0);
    });
  });

  describe('size limit', () => {
    test('a Content-Length over MEDIA_MAX_BYTES fails before the body is read; nothing stored', async () => {
      // The stalled body would turn any attempt to read it into a timeout.
      const media = fake.addMedia({
        bytes: randomBytes(64 * KiB),
        contentType: 'image/jpeg',
        stallMs: 10_000,
      });
      const store = new MemoryBlobStore();

      const error = await rejection(
        downloadMediaToStore(
          { url: media.url },
          { store, key: 'k' },
          options({ maxBytes: 10 * KiB, timeoutMs: 3000 }),
        ),
      );

      assert.ok(error instanceof MediaTooLargeError);
      assert.equal(error.announcedBytes, 64 * KiB);
      assert.equal(error.permanent, true);
      assert.equal(store.puts.length, 0);
      assert.deepEqual(store.keys(), []);
    });

    test('a body that streams past the limit without Content-Length is cut off; the other items are still stored', async () => {
      const messageSid = newSid('MM');
      const maxBytes = 256 * KiB;
      const small = [randomBytes(20 * KiB), randomBytes(30 * KiB)];
      const first = fake.addMedia({ bytes: small[0]!, contentType: 'image/jpeg', messageSid });
      const liar = fake.addMedia({
        bytes: randomBytes(4 * 1024 * KiB),
        contentType: 'image/jpeg',
        lieAboutLength: true,
        messageSid,
      });
      const last = fake.addMedia({ bytes: small[1]!, contentType: 'image/png', messageSid });
      const received = new Map<string, number>();
      const store = new MemoryBlobStore({
        onChunk: (key, chunk) => received.set(key, (received.get(key) ?? 0) + chunk.length),
      });

      const results = await copyEach(
        messageSid,
        [first, liar, last].map((m) => ({ url: m.url, content_type: 'image/jpeg' })),
        store,
        options({ maxBytes }),
      );

      assert.deepEqual(
        results.map((r) => r.ok),
        [true, false, true],
      );
      const failure = results[1];
      assert.ok(failure && !failure.ok && failure.error instanceof MediaTooLargeError);
      assert.equal(failure.error.announcedBytes, null);
      const liarKey = `messages/${messageSid}/1.jpg`;
      assert.ok((received.get(liarKey) ?? 0) <= maxBytes, 'no byte past the limit reached storage');
      assert.deepEqual(store.keys(), [
        `messages/${messageSid}/0.jpg`,
        `messages/${messageSid}/2.png`,
      ]);
      assert.ok(store.bytes(`messages/${messageSid}/0.jpg`)?.equals(small[0]!));
      assert.ok(store.bytes(`messages/${messageSid}/2.png`)?.equals(small[1]!));
    });
  });

  describe('credentials stay with Twilio', () => {
    test('the CDN that serves the bytes never receives the Authorization header, over every redirect', async () => {
      const media = fake.addMedia({
        bytes: randomBytes(KiB),
        contentType: 'image/jpeg',
        redirectStatus: 302,
        cdnHops: 2,
      });

      await downloadMediaToStore(
        { url: media.url },
        { store: new MemoryBlobStore(), key: 'k' },
        options(),
      );

      assert.equal(media.cdnRequests, 3);
      assert.equal(media.cdnAuthorizationSeen, false);
      const mine = fake.requests.filter((r) => r.path.includes(media.sid));
      assert.ok(mine.filter((r) => r.server === 'api').every((r) => r.hasAuthorization));
      assert.ok(mine.filter((r) => r.server === 'cdn').every((r) => !r.hasAuthorization));
    });

    test('media served by the API origin itself, without a redirect, is stored too', async () => {
      const bytes = randomBytes(3 * KiB);
      const media = fake.addMedia({ bytes, contentType: 'image/gif', noRedirect: true });
      const store = new MemoryBlobStore();

      await downloadMediaToStore({ url: media.url }, { store, key: 'k.gif' }, options());

      assert.ok(store.bytes('k.gif')?.equals(bytes));
      assert.equal(media.cdnRequests, 0);
    });

    test('more than 5 redirects is given up on', async () => {
      const media = fake.addMedia({
        bytes: randomBytes(10),
        contentType: 'image/jpeg',
        cdnHops: 9,
      });

      const error = await rejection(
        downloadMediaToStore(
          { url: media.url },
          { store: new MemoryBlobStore(), key: 'k' },
          options({ retryDelaysMs: [] }),
        ),
      );

      assert.ok(error instanceof MediaDownloadError);
      assert.equal(error.reason, 'redirect');
      assert.equal(media.cdnRequests, 5);
    });

    test('a media URL on any other origin is refused without sending it a single request', async () => {
      const other = await startOtherServer();
      try {
        const twilioPath = new URL(fake.addMedia({ bytes: randomBytes(10), contentType: null }).url)
          .pathname;
        const apiPort = new URL(fake.apiBaseUrl).port;
        const foreign = [
          `${other.origin}${twilioPath}`,
          `http://localhost:${apiPort}${twilioPath}`,
          `https://127.0.0.1:${apiPort}${twilioPath}`,
          `http://${fake.accountSid}:${fake.authToken}@127.0.0.1:${apiPort}${twilioPath}`,
          'not a url',
        ];
        const before = fake.requests.length;

        for (const url of foreign) {
          const store = new MemoryBlobStore();
          const error = await rejection(
            downloadMediaToStore(
              { url, contentType: 'image/jpeg' },
              { store, key: 'k' },
              options(),
            ),
          );
          assert.ok(error instanceof MediaRefusedError, url);
          assert.equal(error.permanent, true);
          assertNoSecrets(error);
          assert.equal(store.puts.length, 0);
        }

        assert.deepEqual(other.requests, []);
        assert.equal(fake.requests.length, before);
      } finally {
        await other.close();
      }
    });

    test('the refusal names the foreign origin and where credentials may go', async () => {
      const error = await rejection(
        downloadMediaToStore(
          { url: 'http://127.0.0.1:9/x.jpg' },
          { store: new MemoryBlobStore(), key: 'k' },
          options(),
        ),
      );

      assert.match(error.message, /http:\/\/127\.0\.0\.1:9 is not Twilio's/);
      assert.ok(error.message.includes(fake.apiBaseUrl));
      assert.match(error.message, /TWILIO_API_BASE_URL/);
    });

    test('a URL on the Twilio origin that is not a media resource is refused unrequested', async () => {
      const before = fake.requests.length;
      const media = fake.addMedia({ bytes: randomBytes(10), contentType: 'image/jpeg' });
      const notMedia = [
        `${fake.apiBaseUrl}/2010-04-01/Accounts/${fake.accountSid}/Messages.json`,
        `${media.url}.json`,
        `${fake.apiBaseUrl}/2010-04-01/Accounts/${fake.accountSid}/Messages/${media.messageSid}/Media/${media.sid}/../../../../Messages.json`,
      ];

      for (const url of notMedia) {
        const error = await rejection(
          downloadMediaToStore({ url }, { store: new MemoryBlobStore(), key: 'k' }, options()),
        );
        assert.ok(error instanceof MediaRefusedError, url);
      }
      assert.equal(fake.requests.length, before);
    });
  });

  describe('time limit', () => {
    test('a body that stalls past MEDIA_TIMEOUT_MS fails as a transient timeout; nothing stored', async () => {
      const media = fake.addMedia({
        bytes: randomBytes(256 * KiB),
        contentType: 'image/jpeg',
        stallMs: 10_000,
      });
      const store = new MemoryBlobStore();

      // A timeout error, not the end of the body 10 s later: the limit cut it off.
      const error = await rejection(
        downloadMediaToStore({ url: media.url }, { store, key: 'k' }, options({ timeoutMs: 300 })),
      );

      assert.ok(error instanceof MediaTimeoutError, String(error));
      assert.equal(error.permanent, false);
      assert.equal(store.puts[0]?.outcome, 'failed');
      assert.deepEqual(store.keys(), []);
    });

    test('retries never outlast the time limit', async () => {
      const media = fake.addMedia({
        bytes: randomBytes(10),
        contentType: 'image/jpeg',
        failFirst: 100,
        failStatus: 500,
      });

      const error = await rejection(
        downloadMediaToStore(
          { url: media.url },
          { store: new MemoryBlobStore(), key: 'k' },
          options({ timeoutMs: 400, retryDelaysMs: [150, 150, 150, 150, 150] }),
        ),
      );

      assert.ok(error instanceof MediaHttpError);
      assert.equal(error.status, 500);
      // The delays would allow six attempts (750 ms of waiting); the 400 ms limit stops
      // them sooner, however slow the machine (a slower one only makes fewer).
      assert.ok(media.apiRequests < 6, `${media.apiRequests} attempts`);
    });
  });

  describe('content types', () => {
    const download = async (contentType: string | null, announced: string | null) => {
      const media = fake.addMedia({ bytes: randomBytes(10), contentType });
      const store = new MemoryBlobStore();
      const stored = await downloadMediaToStore(
        { url: media.url, contentType: announced },
        { store, key: (type) => mediaObjectKey(media.messageSid, 0, type) },
        options(),
      );
      return { stored, key: stored.key.split('/').pop() };
    };

    test("the response's Content-Type wins over the webhook's", async () => {
      const { stored, key } = await download('image/webp', 'image/jpeg');
      assert.equal(stored.content_type, 'image/webp');
      assert.equal(key, '0.webp');
    });

    test('without a Content-Type the webhook’s MediaContentTypeN is used', async () => {
      const { stored, key } = await download(null, 'image/png');
      assert.equal(stored.content_type, 'image/png');
      assert.equal(key, '0.png');
    });

    test('a generic application/octet-stream answer falls back to the webhook’s type', async () => {
      const { stored, key } = await download('application/octet-stream', 'audio/ogg');
      assert.equal(stored.content_type, 'audio/ogg');
      assert.equal(key, '0.ogg');
    });

    test('an unknown type is stored as .bin; a page type is never stored as renderable', async () => {
      assert.equal((await download('application/zip', null)).key, '0.bin');
      const html = await download('text/html; charset=utf-8', 'text/html');
      assert.equal(html.stored.content_type, 'application/octet-stream');
      assert.equal(html.key, '0.bin');
    });

    test('every WhatsApp type maps to its extension', () => {
      const expected: Record<string, string> = {
        'image/jpeg': 'jpg',
        'image/png': 'png',
        'image/webp': 'webp',
        'image/gif': 'gif',
        'image/heic': 'heic',
        'video/mp4': 'mp4',
        'audio/ogg': 'ogg',
        'audio/mpeg': 'mp3',
        'application/pdf': 'pdf',
        'text/vcard': 'vcf',
        'application/x-unknown': 'bin',
        '': 'bin',
      };
      for (const [type, extension] of Object.entries(expected)) {
        assert.equal(extensionForContentType(type), extension, type);
      }
      assert.equal(extensionForContentType('Image/JPEG; charset=binary'), 'jpg');
      assert.equal(extensionForContentType('audio/ogg; codecs=opus'), 'ogg');
    });

    test('mediaObjectKey builds messages/<MessageSid>/<index>.<ext> and rejects path tricks', () => {
      const sid = newSid('MM');
      assert.equal(mediaObjectKey(sid, 2, 'video/mp4'), `messages/${sid}/2.mp4`);
      assert.throws(() => mediaObjectKey('../etc', 0, 'image/jpeg'), TypeError);
      assert.throws(() => mediaObjectKey(sid, -1, 'image/jpeg'), TypeError);
    });
  });

  describe('deleting media at Twilio', () => {
    test('DELETE on the media resource with credentials; a second delete counts as done', async () => {
      const media = fake.addMedia({ bytes: randomBytes(10), contentType: 'image/jpeg' });

      assert.equal(await deleteTwilioMedia(media.url, options()), 'deleted');
      assert.equal(await deleteTwilioMedia(media.url, options()), 'already_deleted');

      assert.equal(media.deleted, true);
      assert.deepEqual(
        fake.mediaDeletes.filter((sid) => sid === media.sid),
        [media.sid],
      );
      const deletes = fake.requests.filter(
        (r) => r.method === 'DELETE' && r.path.includes(media.sid),
      );
      assert.deepEqual(
        deletes.map((r) => [r.path.endsWith(`${media.sid}.json`), r.hasAuthorization, r.status]),
        [
          [true, true, 204],
          [true, true, 404],
        ],
      );
    });

    test('deleting media on another origin is refused without a request', async () => {
      const other = await startOtherServer();
      try {
        const path = new URL(fake.addMedia({ bytes: randomBytes(1), contentType: null }).url)
          .pathname;
        const error = await rejection(deleteTwilioMedia(`${other.origin}${path}`, options()));
        assert.ok(error instanceof MediaRefusedError);
        assert.deepEqual(other.requests, []);
      } finally {
        await other.close();
      }
    });
  });

  test('missing credentials fail permanently before any request', async () => {
    const media = fake.addMedia({ bytes: randomBytes(10), contentType: 'image/jpeg' });
    const error = await rejection(
      downloadMediaToStore(
        { url: media.url },
        { store: new MemoryBlobStore(), key: 'k' },
        options({ accountSid: '' }),
      ),
    );
    assert.ok(error instanceof MediaDownloadError);
    assert.equal(error.reason, 'not_configured');
    assert.equal(media.apiRequests, 0);
  });
});
