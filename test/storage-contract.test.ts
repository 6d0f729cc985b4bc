// One contract for every BlobStore driver: local disk, S3 (against s3rver on loopback) and
// Supabase Storage (against the fake in test/fakes/). A driver is done when it passes all.
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { registerErrorHandler } from '../src/http/plugins/error-handler.js';
import { storageFilesRoutes } from '../src/http/routes/storage-files.js';
import type { BlobStore } from '../src/storage/adapter.js';
import {
  LocalBlobStore,
  type LocalBlobStoreOptions,
} from '../src/storage/local/local-blob-store.js';
import { S3BlobStore, type S3BlobStoreOptions } from '../src/storage/s3/s3-blob-store.js';
import {
  SupabaseBlobStore,
  type SupabaseBlobStoreOptions,
} from '../src/storage/supabase/supabase-blob-store.js';
import { type FakeSupabaseStorage, startFakeSupabaseStorage } from './fakes/supabase-storage.js';
import { makeTempDir } from './helpers/databases.js';

const TTL_SECONDS = 300;
/** A clock an hour behind: URLs signed by it expired long ago. */
const anHourAgo = () => Date.now() - 3_600_000;

interface BucketUnderTest {
  store: BlobStore;
  /** A signed URL for `key` whose lifetime is already over. */
  expiredUrl(key: string): Promise<string>;
}

interface Driver {
  name: string;
  /** A store on a new bucket of its own (not yet ensured). */
  bucket(options: { public: boolean }): Promise<BucketUnderTest>;
  /** The signed URL with its signature altered. */
  tamper(url: string): string;
  /** Set when the backend cannot refuse a tampered signature, saying why. */
  cannotRefuseTampering?: string;
  close(): Promise<void>;
}

let bucketCount = 0;
const newBucketName = () => `contract-${++bucketCount}-${randomBytes(3).toString('hex')}`;

/** Swaps one character of a query parameter's value for another of the same alphabet. */
function alterParam(url: string, name: string, at: (value: string) => number): string {
  const parsed = new URL(url);
  const value = parsed.searchParams.get(name);
  assert.ok(value, `expected a "${name}" parameter in ${url}`);
  const index = at(value);
  const swapped = value[index] === 'a' ? 'b' : 'a';
  parsed.searchParams.set(name, value.slice(0, index) + swapped + value.slice(index + 1));
  return parsed.toString();
}

async function localDriver(): Promise<Driver> {
  const temp = makeTempDir('taskwire-storage-local-');
  const apps: FastifyInstance[] = [];
  return {
    name: 'local',
    async bucket(options) {
      const settings: LocalBlobStoreOptions = {
        dataDir: temp.dir,
        bucket: newBucketName(),
        baseUrl: 'http://127.0.0.1',
        public: options.public,
        signedUrlTtlSeconds: TTL_SECONDS,
        signingSecret: 'contract-test-signing-secret-0123456789',
      };
      // Browsers fetch the URLs from the storage-files route, as in the real app.
      const app = Fastify();
      registerErrorHandler(app);
      await app.register(storageFilesRoutes, { store: new LocalBlobStore(settings) });
      const baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
      apps.push(app);
      return {
        store: new LocalBlobStore({ ...settings, baseUrl }),
        expiredUrl: (key) => new LocalBlobStore({ ...settings, baseUrl, now: anHourAgo }).url(key),
      };
    },
    tamper: (url) => alterParam(url, 'signature', () => 0),
    async close() {
      await Promise.all(apps.map((app) => app.close()));
      temp.remove();
    },
  };
}

// s3rver ships no type declarations; this is the part of its API the tests use.
interface S3rverServer {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
}
type S3rverConstructor = new (options: {
  port: number;
  address: string;
  silent: boolean;
  directory: string;
  configureBuckets: unknown[];
}) => S3rverServer;

/** s3rver accepts this key pair (and any SigV4 signature made with any key it knows). */
const S3RVER_KEY = 'S3RVER';

async function s3Driver(): Promise<Driver> {
  const temp = makeTempDir('taskwire-storage-s3rver-');
  const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor;
  const server = new S3rver({
    port: 0,
    address: '127.0.0.1',
    silent: true,
    directory: temp.dir,
    configureBuckets: [],
  });
  const { port } = await server.run();
  return {
    name: 's3',
    async bucket(options) {
      const settings: S3BlobStoreOptions = {
        bucket: newBucketName(),
        region: 'us-east-1',
        endpoint: `http://127.0.0.1:${port}`,
        publicUrl: null,
        accessKeyId: S3RVER_KEY,
        secretAccessKey: S3RVER_KEY,
        public: options.public,
        signedUrlTtlSeconds: TTL_SECONDS,
      };
      return {
        store: new S3BlobStore(settings),
        expiredUrl: (key) => new S3BlobStore({ ...settings, now: anHourAgo }).url(key),
      };
    },
    tamper: (url) => alterParam(url, 'X-Amz-Signature', () => 0),
    cannotRefuseTampering:
      's3rver 3.7 does not check SigV4 signatures (lib/middleware/authentication.js); ' +
      'the "presigned URL signature" test checks them independently instead',
    async close() {
      await server.close();
      temp.remove();
    },
  };
}

async function supabaseDriver(): Promise<Driver> {
  const fake: FakeSupabaseStorage = await startFakeSupabaseStorage();
  return {
    name: 'supabase',
    async bucket(options) {
      const settings: SupabaseBlobStoreOptions = {
        url: fake.url,
        key: fake.serviceKey,
        bucket: newBucketName(),
        public: options.public,
        signedUrlTtlSeconds: TTL_SECONDS,
      };
      const store = new SupabaseBlobStore(settings);
      return {
        store,
        // Supabase's server signs the token with its own clock, so the fake's is turned back.
        async expiredUrl(key) {
          fake.clockOffsetSeconds = -3600;
          try {
            return await store.url(key);
          } finally {
            fake.clockOffsetSeconds = 0;
          }
        },
      };
    },
    // Alter the JWT's signature part, not its payload or header.
    tamper: (url) => alterParam(url, 'token', (token) => token.lastIndexOf('.') + 1),
    close: () => fake.close(),
  };
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** `data` as a stream of 64 KiB chunks, like a download in progress. */
function streamOf(data: Buffer): Readable {
  return Readable.from(
    (function* () {
      for (let at = 0; at < data.length; at += 65_536) yield data.subarray(at, at + 65_536);
    })(),
  );
}

/** A stream that delivers `bytesBeforeError` bytes, then fails like a dropped connection. */
function brokenStream(bytesBeforeError: number): Readable {
  return Readable.from(
    (async function* () {
      for (let sent = 0; sent < bytesBeforeError; sent += 65_536) {
        yield randomBytes(Math.min(65_536, bytesBeforeError - sent));
      }
      throw new Error('connection reset by peer (simulated)');
    })(),
  );
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

const drivers: (() => Promise<Driver>)[] = [localDriver, s3Driver, supabaseDriver];

for (const makeDriver of drivers) {
  describe(`BlobStore contract: ${makeDriver.name.replace(/Driver$/, '')}`, () => {
    let driver: Driver;
    let open: BucketUnderTest;
    let closed: BucketUnderTest;

    before(async () => {
      driver = await makeDriver();
      open = await driver.bucket({ public: true });
      closed = await driver.bucket({ public: false });
      await open.store.ensureBucket();
      await closed.store.ensureBucket();
    });

    after(async () => {
      await driver?.close();
    });

    test('ensureBucket creates a missing bucket and may be called again', async () => {
      const { store } = await driver.bucket({ public: false });
      await store.ensureBucket();
      await store.ensureBucket();
      const stored = await store.put('messages/MM1/0.txt', streamOf(Buffer.from('hello')), {
        contentType: 'text/plain',
      });
      assert.equal(stored.size, 5);
    });

    test('put then get returns the exact bytes, content type and size', async () => {
      const bytes = Buffer.from(`a photo, or near enough ${randomBytes(8).toString('hex')}`);
      const stored = await open.store.put('messages/MMsmall/0.jpg', streamOf(bytes), {
        contentType: 'image/jpeg',
        contentLength: bytes.length,
      });
      assert.deepEqual(stored, {
        key: 'messages/MMsmall/0.jpg',
        size: bytes.length,
        contentType: 'image/jpeg',
      });

      const object = await open.store.get('messages/MMsmall/0.jpg');
      assert.ok(object, 'expected the object back');
      assert.equal(object.contentType, 'image/jpeg');
      assert.equal(object.size, bytes.length);
      assert.deepEqual(await collect(object.body), bytes);
    });

    test('a 5 MiB body of unknown length streams in and out unchanged', async () => {
      const bytes = randomBytes(5 * 1024 * 1024 + 4321);
      const stored = await open.store.put('messages/MMlarge/0.png', streamOf(bytes), {
        contentType: 'image/png',
      });
      assert.equal(stored.size, bytes.length);

      const object = await open.store.get('messages/MMlarge/0.png');
      assert.ok(object);
      assert.equal(object.size, bytes.length);
      assert.equal(object.contentType, 'image/png');
      const back = await collect(object.body);
      assert.equal(back.length, bytes.length);
      assert.equal(sha256(back), sha256(bytes));
    });

    test('put replaces the object under an existing key', async () => {
      const key = 'messages/MMover/0.jpg';
      await open.store.put(key, streamOf(Buffer.from('first version')), {
        contentType: 'image/jpeg',
      });
      await open.store.put(key, streamOf(Buffer.from('second')), { contentType: 'image/webp' });

      const object = await open.store.get(key);
      assert.ok(object);
      assert.equal(object.contentType, 'image/webp');
      assert.equal(object.size, 6);
      assert.equal((await collect(object.body)).toString(), 'second');
    });

    test('get of a key that was never stored is null', async () => {
      assert.equal(await open.store.get('messages/MMnothing/0.jpg'), null);
      assert.equal(await closed.store.get('messages/MMnothing/0.jpg'), null);
    });

    test('a body that fails midway rejects the put and leaves no object', async () => {
      const key = 'messages/MMbroken/0.jpg';
      // Larger than one 5 MiB part, so S3 has begun a multipart upload when the error comes.
      await assert.rejects(
        open.store.put(key, brokenStream(6 * 1024 * 1024), { contentType: 'image/jpeg' }),
      );
      assert.equal(await open.store.get(key), null);
    });

    test('a failed overwrite keeps the previous object', async () => {
      const key = 'messages/MMkeep/0.jpg';
      await open.store.put(key, streamOf(Buffer.from('the good one')), {
        contentType: 'image/jpeg',
      });
      await assert.rejects(
        open.store.put(key, brokenStream(200_000), { contentType: 'image/png' }),
      );
      const object = await open.store.get(key);
      assert.ok(object);
      assert.equal(object.contentType, 'image/jpeg');
      assert.equal((await collect(object.body)).toString(), 'the good one');
    });

    test('a body shorter than its announced length is refused, not stored truncated', async () => {
      const key = 'messages/MMshort/0.jpg';
      await assert.rejects(
        open.store.put(key, streamOf(randomBytes(1000)), {
          contentType: 'image/jpeg',
          contentLength: 2000,
        }),
      );
      assert.equal(await open.store.get(key), null);
    });

    test('url() of a public bucket loads the exact bytes over HTTP', async () => {
      const bytes = randomBytes(70_000);
      const key = 'messages/MMpublic/1.jpg';
      await open.store.put(key, streamOf(bytes), { contentType: 'image/jpeg' });

      const response = await fetch(await open.store.url(key));
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-type'), 'image/jpeg');
      assert.deepEqual(Buffer.from(await response.arrayBuffer()), bytes);
    });

    test('url() of a private bucket is a signed URL that loads the exact bytes', async () => {
      const bytes = randomBytes(70_000);
      const key = 'messages/MMprivate/0.jpg';
      await closed.store.put(key, streamOf(bytes), { contentType: 'image/jpeg' });

      const url = await closed.store.url(key);
      const response = await fetch(url);
      assert.equal(response.status, 200);
      assert.deepEqual(Buffer.from(await response.arrayBuffer()), bytes);
    });

    test('an expired signed URL is refused', async () => {
      const key = 'messages/MMexpired/0.jpg';
      await closed.store.put(key, streamOf(Buffer.from('secret')), { contentType: 'image/jpeg' });

      const response = await fetch(await closed.expiredUrl(key));
      assert.ok(response.status >= 400 && response.status < 500, `got ${response.status}`);
      assert.notEqual(Buffer.from(await response.arrayBuffer()).toString(), 'secret');
    });

    test('a signed URL with an altered signature is refused', async (t) => {
      if (driver.cannotRefuseTampering) {
        t.skip(driver.cannotRefuseTampering);
        return;
      }
      const key = 'messages/MMtampered/0.jpg';
      await closed.store.put(key, streamOf(Buffer.from('secret')), { contentType: 'image/jpeg' });

      const response = await fetch(driver.tamper(await closed.store.url(key)));
      assert.ok(response.status >= 400 && response.status < 500, `got ${response.status}`);
      assert.notEqual(Buffer.from(await response.arrayBuffer()).toString(), 'secret');
    });

    test('delete removes the object, and deleting again is harmless', async () => {
      const key = 'messages/MMdelete/0.jpg';
      await open.store.put(key, streamOf(Buffer.from('bye')), { contentType: 'image/jpeg' });
      await open.store.delete(key);
      assert.equal(await open.store.get(key), null);
      await open.store.delete(key);
    });

    test('keys outside the key grammar are refused before anything is stored', async () => {
      const invalid = [
        '',
        '../escape.jpg',
        'messages/../../escape.jpg',
        '/etc/passwd',
        'a//b.jpg',
        'a/b/',
        'a\\b.jpg',
        '.hidden',
        'messages/./0.jpg',
        'with space.jpg',
        'caf\u00e9.jpg',
        'photo.jpg.meta.json',
      ];
      for (const key of invalid) {
        await assert.rejects(
          open.store.put(key, streamOf(Buffer.from('x')), { contentType: 'image/jpeg' }),
          { code: 'validation_failed' },
          `put("${key}") should be refused`,
        );
        await assert.rejects(open.store.get(key), { code: 'validation_failed' });
        await assert.rejects(open.store.url(key), { code: 'validation_failed' });
      }
    });
  });
}

/**
 * The SigV4 query signature of a presigned S3 URL, computed from AWS's specification
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html) with
 * node:crypto alone, so it checks the signer instead of repeating it.
 */
function expectedSigV4QuerySignature(url: URL, secretAccessKey: string): string {
  const rfc3986 = (value: string) =>
    encodeURIComponent(value).replace(
      /[!'()*]/g,
      (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
    );
  const params = [...url.searchParams]
    .filter(([name]) => name !== 'X-Amz-Signature')
    .map(([name, value]) => `${rfc3986(name)}=${rfc3986(value)}`)
    .sort();
  const signedHeaders = url.searchParams.get('X-Amz-SignedHeaders');
  assert.equal(signedHeaders, 'host', 'a presigned GET signs the Host header only');
  const canonicalRequest = [
    'GET',
    url.pathname,
    params.join('&'),
    `host:${url.host}`,
    '',
    'host',
    'UNSIGNED-PAYLOAD',
  ].join('\n');
  const [, date, region, service, terminator] = (
    url.searchParams.get('X-Amz-Credential') ?? ''
  ).split('/');
  const scope = `${date}/${region}/${service}/${terminator}`;
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    url.searchParams.get('X-Amz-Date'),
    scope,
    createHash('sha256').update(canonicalRequest).digest('hex'),
  ].join('\n');
  const hmac = (key: string | Buffer, data: string) =>
    createHmac('sha256', key).update(data).digest();
  let key = hmac(`AWS4${secretAccessKey}`, date ?? '');
  for (const part of [region ?? '', service ?? '', 'aws4_request']) key = hmac(key, part);
  return createHmac('sha256', key).update(stringToSign).digest('hex');
}

describe('S3 presigned URL signature (s3rver does not check it)', () => {
  test('the independent check agrees with the example in AWS documentation', () => {
    const example = new URL(
      'https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256' +
        '&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request' +
        '&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host' +
        '&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404',
    );
    assert.equal(
      expectedSigV4QuerySignature(example, 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'),
      example.searchParams.get('X-Amz-Signature'),
    );
  });

  test('url() of a private bucket carries a valid signature over bucket, key and expiry', async () => {
    const secretAccessKey = 'an-example-secret-access-key';
    const store = new S3BlobStore({
      bucket: 'notes',
      region: 'eu-west-3',
      endpoint: 'https://objects.example.test',
      publicUrl: null,
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey,
      public: false,
      signedUrlTtlSeconds: 900,
    });
    const url = new URL(await store.url('messages/MM1/0.jpg'));
    assert.equal(
      url.origin + url.pathname,
      'https://objects.example.test/notes/messages/MM1/0.jpg',
    );
    assert.equal(url.searchParams.get('X-Amz-Expires'), '900');
    assert.match(
      url.searchParams.get('X-Amz-Credential') ?? '',
      /^AKIDEXAMPLE\/\d{8}\/eu-west-3\/s3\/aws4_request$/,
    );
    assert.equal(
      url.searchParams.get('X-Amz-Signature'),
      expectedSigV4QuerySignature(url, secretAccessKey),
    );

    const tampered = new URL(url);
    tampered.pathname = '/notes/messages/MM2/0.jpg';
    assert.notEqual(
      tampered.searchParams.get('X-Amz-Signature'),
      expectedSigV4QuerySignature(tampered, secretAccessKey),
      'a signature for one key must not fit another',
    );
  });

  test('url() without an endpoint addresses the AWS bucket by its virtual host', async () => {
    const store = new S3BlobStore({
      bucket: 'notes',
      region: 'us-west-2',
      endpoint: null,
      publicUrl: null,
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey: 'secret',
      public: true,
      signedUrlTtlSeconds: 900,
    });
    assert.equal(
      await store.url('messages/MM1/0.jpg'),
      'https://notes.s3.us-west-2.amazonaws.com/messages/MM1/0.jpg',
    );
    const cdn = new S3BlobStore({
      bucket: 'notes',
      region: 'auto',
      endpoint: 'https://account.r2.cloudflarestorage.com',
      publicUrl: 'https://media.example.com/',
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey: 'secret',
      public: true,
      signedUrlTtlSeconds: 900,
    });
    assert.equal(
      await cdn.url('messages/MM1/0.jpg'),
      'https://media.example.com/messages/MM1/0.jpg',
    );
  });
});
