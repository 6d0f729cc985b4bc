// The local driver on disk: what a failed upload leaves in DATA_DIR (nothing at all).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { LocalBlobStore } from '../src/storage/local/local-blob-store.js';
import { copyFromTwilio } from '../src/jobs/process-inbound.js';
import { MediaTooLargeError, createTwilioMedia } from '../src/twilio/media.js';
import { type FakeTwilio, newSid, startFakeTwilio } from './fakes/fake-twilio.js';
import { makeTempDir } from './helpers/databases.js';

const KiB = 1024;

describe('local storage on disk', () => {
  let twilio: FakeTwilio;
  let temp: { dir: string; remove(): void };
  let store: LocalBlobStore;

  before(async () => {
    twilio = await startFakeTwilio();
    temp = makeTempDir('taskwire-storage-local-disk-');
    store = new LocalBlobStore({
      dataDir: temp.dir,
      bucket: 'notes',
      baseUrl: 'http://127.0.0.1',
      public: true,
      signedUrlTtlSeconds: 60,
      signingSecret: '',
    });
    await store.ensureBucket();
  });
  after(async () => {
    await twilio?.close();
    temp?.remove();
  });

  /** Every entry under the bucket, folders included, as paths relative to it. */
  const tree = () => readdirSync(store.root, { recursive: true, encoding: 'utf8' }).sort();

  test('an oversize media item leaves no empty folder for its message', async () => {
    const messageSid = newSid('MM');
    // No usable Content-Length: the limit is only found while the body streams to disk.
    const big = twilio.addMedia({
      bytes: randomBytes(512 * KiB),
      contentType: 'image/jpeg',
      lieAboutLength: true,
      // Served by the API origin itself: this test is about the disk, not redirects.
      noRedirect: true,
      messageSid,
    });
    const copy = copyFromTwilio(
      createTwilioMedia({
        accountSid: twilio.accountSid,
        authToken: twilio.authToken,
        apiBaseUrl: twilio.apiBaseUrl,
        redirectAllowlist: [twilio.cdnBaseUrl],
        maxBytes: 64 * KiB,
        timeoutMs: 5000,
        retryDelaysMs: [10],
      }),
      store,
    );
    const error = await copy(
      { url: big.url, content_type: 'image/jpeg' },
      { messageId: 1, messageSid, index: 0 },
    ).then(
      () => null,
      (failure: unknown) => failure,
    );
    assert.ok(error instanceof MediaTooLargeError, `the item fails: ${String(error)}`);
    assert.equal(existsSync(path.join(store.root, 'messages', messageSid)), false);
    assert.ok(
      tree().every((entry) => !entry.includes(messageSid)),
      `nothing of ${messageSid} is left: ${tree().join(', ')}`,
    );
  });

  test('a body that breaks off leaves neither a folder nor a temporary file', async () => {
    const broken = Readable.from(
      (async function* () {
        yield randomBytes(10 * KiB);
        throw new Error('connection reset by peer (simulated)');
      })(),
    );
    await assert.rejects(
      store.put('messages/MMbrokenfolder/0.jpg', broken, { contentType: 'image/jpeg' }),
    );
    assert.ok(
      tree().every((entry) => !entry.includes('MMbrokenfolder') && !entry.endsWith('.tmp')),
      tree().join(', '),
    );
  });

  test('a stored object is in its folder, with nothing else left beside it', async () => {
    const bytes = randomBytes(3 * KiB);
    await store.put('messages/MMkept/0.png', Readable.from([bytes]), { contentType: 'image/png' });
    assert.deepEqual(readdirSync(path.join(store.root, 'messages', 'MMkept')).sort(), [
      '0.png',
      '0.png.meta.json',
    ]);
    const object = await store.get('messages/MMkept/0.png');
    assert.equal(object?.size, bytes.length);
    object?.body.destroy();
    assert.ok(
      tree().every((entry) => !entry.endsWith('.tmp')),
      tree().join(', '),
    );
  });
});
