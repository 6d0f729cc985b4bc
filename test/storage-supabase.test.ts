// What the contract suite cannot show for the Supabase driver: the requests it sends, how
// it reads Supabase's error shapes, and that the fake refuses what Supabase refuses (a fake
// that accepted anything would let the contract pass for the wrong reasons).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { isPermanent } from '../src/domain/processing-errors.js';
import { StorageTimeoutError, StorageUnavailableError } from '../src/storage/storage-errors.js';
import { SupabaseBlobStore } from '../src/storage/supabase/supabase-blob-store.js';
import { type FakeSupabaseStorage, startFakeSupabaseStorage } from './fakes/supabase-storage.js';
import { waitFor } from './helpers/worker.js';

describe('Supabase Storage driver against the fake', () => {
  let fake: FakeSupabaseStorage;
  const storeFor = (bucket: string, options: { public?: boolean; key?: string } = {}) =>
    new SupabaseBlobStore({
      url: fake.url,
      key: options.key ?? fake.serviceKey,
      bucket,
      public: options.public ?? false,
      signedUrlTtlSeconds: 60,
    });

  before(async () => {
    fake = await startFakeSupabaseStorage();
  });

  after(async () => {
    await fake?.close();
  });

  test('the fake refuses a request without the API key or the bearer token', async () => {
    const bucketUrl = `${fake.url}/storage/v1/bucket`;
    const noKey = await fetch(bucketUrl);
    assert.equal(noKey.status, 401);

    const noToken = await fetch(bucketUrl, { headers: { apikey: fake.serviceKey } });
    assert.equal(noToken.status, 400);

    const badToken = await fetch(bucketUrl, {
      headers: { apikey: fake.serviceKey, authorization: 'Bearer not-the-key' },
    });
    assert.equal(badToken.status, 400);
    assert.equal(((await badToken.json()) as { error: string }).error, 'Unauthorized');
  });

  test('a wrong service key makes every call fail with Supabase’s message', async () => {
    const store = storeFor('notes', { key: 'not-the-service-key' });
    await assert.rejects(store.ensureBucket(), /Invalid API key/);
    await assert.rejects(
      store.put('messages/MM1/0.jpg', Readable.from([Buffer.from('x')]), {
        contentType: 'image/jpeg',
      }),
      /Invalid API key/,
    );
    await assert.rejects(store.get('messages/MM1/0.jpg'), /Invalid API key/);
  });

  test('ensureBucket creates the bucket with the configured visibility', async () => {
    await storeFor('shared-notes', { public: true }).ensureBucket();
    assert.equal(fake.buckets.get('shared-notes')?.public, true);
    await storeFor('own-notes', { public: false }).ensureBucket();
    assert.equal(fake.buckets.get('own-notes')?.public, false);
  });

  test('ensureBucket refuses a private bucket when public URLs are configured', async () => {
    await storeFor('private-only', { public: false }).ensureBucket();
    await assert.rejects(
      storeFor('private-only', { public: true }).ensureBucket(),
      /is private but STORAGE_PUBLIC=true/,
    );
  });

  test('put streams the body as an upsert with its content type', async () => {
    const store = storeFor('uploads');
    await store.ensureBucket();
    fake.requests.length = 0;
    await store.put('messages/MM9/0.jpg', Readable.from([Buffer.from('abc'), Buffer.from('def')]), {
      contentType: 'image/jpeg',
    });
    const upload = fake.requests.find((request) => request.method === 'POST');
    assert.ok(upload, 'expected an upload request');
    assert.equal(upload.path, '/storage/v1/object/uploads/messages/MM9/0.jpg');
    assert.equal(upload.headers['x-upsert'], 'true');
    assert.equal(upload.headers['content-type'], 'image/jpeg');
    assert.equal(upload.headers.apikey, fake.serviceKey);
    assert.equal(upload.headers.authorization, `Bearer ${fake.serviceKey}`);
    // Chunked: the body went out as it was read, not gathered first to learn its length.
    assert.equal(upload.headers['transfer-encoding'], 'chunked');
    assert.equal(
      fake.buckets.get('uploads')?.objects.get('messages/MM9/0.jpg')?.bytes.toString(),
      'abcdef',
    );
  });

  test('a public bucket’s URL is Supabase’s public object URL, readable without keys', async () => {
    const store = storeFor('open-notes', { public: true });
    await store.ensureBucket();
    await store.put('messages/MM2/0.png', Readable.from([Buffer.from('png')]), {
      contentType: 'image/png',
    });
    const url = await store.url('messages/MM2/0.png');
    assert.equal(url, `${fake.url}/storage/v1/object/public/open-notes/messages/MM2/0.png`);
    const response = await fetch(url);
    assert.equal(response.status, 200);
    assert.equal(await response.text(), 'png');
  });

  test('a private object is not readable through the public URL', async () => {
    const store = storeFor('closed-notes', { public: false });
    await store.ensureBucket();
    await store.put('messages/MM3/0.png', Readable.from([Buffer.from('png')]), {
      contentType: 'image/png',
    });
    const response = await fetch(
      `${fake.url}/storage/v1/object/public/closed-notes/messages/MM3/0.png`,
    );
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { statusCode: string }).statusCode, '404');
  });
});

// Where the fake follows the open-source server (v1.11.2 behind a /storage/v1 gateway)
// rather than what a client might guess.
describe('the Supabase Storage fake answers as the real server does', () => {
  let fake: FakeSupabaseStorage;
  let bare: FakeSupabaseStorage;
  before(async () => {
    fake = await startFakeSupabaseStorage();
    bare = await startFakeSupabaseStorage({ gateway: false });
  });
  after(async () => {
    await fake?.close();
    await bare?.close();
  });

  const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
  const json = async (response: Response) => (await response.json()) as Record<string, unknown>;

  test('a bad or expired JWT is HTTP 400 with statusCode "403", AccessDenied', async () => {
    const expired = bare.signKey({ role: 'service_role', exp: Math.floor(Date.now() / 1000) - 60 });
    for (const key of ['not.a.jwt', expired]) {
      const response = await fetch(`${bare.url}/storage/v1/bucket`, { headers: bearer(key) });
      assert.equal(response.status, 400);
      const body = await json(response);
      assert.equal(body.statusCode, '403');
      assert.equal(body.error, 'Unauthorized');
      assert.equal(body.code, 'AccessDenied');
    }
  });

  test('the server ignores apikey; only the gateway checks it, with 401', async () => {
    const response = await fetch(`${bare.url}/storage/v1/bucket`, {
      headers: { ...bearer(bare.serviceKey), apikey: 'anything at all' },
    });
    assert.equal(response.status, 200);
    const gateway = await fetch(`${fake.url}/storage/v1/bucket`, {
      headers: { ...bearer(fake.serviceKey), apikey: 'anything at all' },
    });
    assert.equal(gateway.status, 401);
  });

  test('a validation error carries error "Error" and code InvalidRequest', async () => {
    const response = await fetch(`${bare.url}/storage/v1/bucket`);
    assert.equal(response.status, 400);
    const body = await json(response);
    assert.equal(body.statusCode, '400');
    assert.equal(body.error, 'Error');
    assert.equal(body.code, 'InvalidRequest');
  });

  test('an unknown route is HTTP 404 with a numeric statusCode', async () => {
    const response = await fetch(`${bare.url}/storage/v1/no-such-route`, {
      headers: bearer(bare.serviceKey),
    });
    assert.equal(response.status, 404);
    assert.equal((await json(response)).statusCode, 404);
  });

  test('an expired signed URL says "exp" claim timestamp check failed, InvalidJWT', async () => {
    const store = new SupabaseBlobStore({
      url: fake.url,
      key: fake.serviceKey,
      bucket: 'signed-fidelity',
      public: false,
      signedUrlTtlSeconds: 60,
    });
    await store.ensureBucket();
    await store.put('messages/MM5/0.jpg', Readable.from([Buffer.from('jpeg')]), {
      contentType: 'image/jpeg',
    });
    const fresh = await fetch(await store.url('messages/MM5/0.jpg'));
    assert.equal(fresh.status, 200);
    assert.ok(fresh.headers.get('expires'), 'a signed download sends Expires');
    assert.equal(fresh.headers.get('cache-control'), null, 'and no Cache-Control');
    assert.equal(await fresh.text(), 'jpeg');

    fake.clockOffsetSeconds = -3600;
    const old = await store.url('messages/MM5/0.jpg').finally(() => (fake.clockOffsetSeconds = 0));
    const refused = await fetch(old);
    assert.equal(refused.status, 400);
    const body = await json(refused);
    assert.equal(body.code, 'InvalidJWT');
    assert.equal(body.message, '"exp" claim timestamp check failed');
  });

  test('the anon key cannot see a private bucket, nor create one', async () => {
    await new SupabaseBlobStore({
      url: fake.url,
      key: fake.serviceKey,
      bucket: 'hidden-from-anon',
      public: false,
      signedUrlTtlSeconds: 60,
    }).ensureBucket();
    const headers = { apikey: fake.anonKey, ...bearer(fake.anonKey) };
    const seen = await fetch(`${fake.url}/storage/v1/bucket/hidden-from-anon`, { headers });
    assert.equal(seen.status, 400);
    assert.equal((await json(seen)).statusCode, '404');
    const created = await fetch(`${fake.url}/storage/v1/bucket`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'anon-bucket', name: 'anon-bucket' }),
    });
    const body = await json(created);
    assert.equal(body.statusCode, '403');
    assert.match(String(body.message), /row-level security/);
  });
});

describe('Supabase start-up errors say what to fix', () => {
  let fake: FakeSupabaseStorage;
  before(async () => {
    fake = await startFakeSupabaseStorage();
  });
  after(async () => {
    await fake?.close();
  });
  const storeAt = (url: string, key = fake.serviceKey, bucket = 'startup-notes') =>
    new SupabaseBlobStore({ url, key, bucket, public: false, signedUrlTtlSeconds: 60 });

  test('no Storage API at the URL is not "creating the bucket failed"', async () => {
    // A gateway with no route for it, and Storage's own unknown route (numeric statusCode).
    for (const url of [`${fake.url}/project`, `${fake.url}/storage/v1/extra`]) {
      const error = await storeAt(url)
        .ensureBucket()
        .then(
          () => assert.fail(`expected ${url} to be refused`),
          (failure: unknown) => failure as Error,
        );
      assert.match(
        error.message,
        /^No Supabase Storage API at http:\/\/127\.0\.0\.1:\d+\/.*storage\/v1/,
      );
      assert.doesNotMatch(error.message, /creating bucket/);
    }
    assert.equal(fake.buckets.size, 0);
  });

  test('SUPABASE_URL may already end in /storage/v1; it is not appended twice', async () => {
    const store = storeAt(`${fake.url}/storage/v1/`, fake.serviceKey, 'suffixed-notes');
    await store.ensureBucket();
    assert.ok(fake.buckets.has('suffixed-notes'));
    await store.put('messages/MM7/0.jpg', Readable.from([Buffer.from('x')]), {
      contentType: 'image/jpeg',
    });
    const url = await store.url('messages/MM7/0.jpg');
    assert.equal(url.match(/storage\/v1/g)?.length, 1, url);
    assert.equal(await (await fetch(url)).text(), 'x');
  });

  test('the anon key is told to be the service-role key', async () => {
    await assert.rejects(storeAt(fake.url, fake.anonKey).ensureBucket(), (error: Error) => {
      assert.match(error.message, /^SUPABASE_KEY must be the service-role key/);
      assert.match(error.message, /row-level security/);
      return true;
    });
  });

  test('an expired or foreign key is refused as a key, not as a missing bucket', async () => {
    const bare = await startFakeSupabaseStorage({ gateway: false });
    try {
      const expired = bare.signKey({
        role: 'service_role',
        exp: Math.floor(Date.now() / 1000) - 1,
      });
      await assert.rejects(
        storeAt(bare.url, expired).ensureBucket(),
        /SUPABASE_KEY was refused by Supabase Storage while reading bucket "startup-notes": jwt expired/,
      );
      await assert.rejects(
        storeAt(fake.url, 'not-the-service-key').ensureBucket(),
        /Invalid API key/,
      );
    } finally {
      await bare.close();
    }
  });
});

describe('Supabase Storage in trouble: bounded, and reported as transient', () => {
  let fake: FakeSupabaseStorage;
  let store: SupabaseBlobStore;
  before(async () => {
    fake = await startFakeSupabaseStorage();
    store = new SupabaseBlobStore({
      url: fake.url,
      key: fake.serviceKey,
      bucket: 'troubled',
      public: false,
      signedUrlTtlSeconds: 60,
      timeoutMs: 300,
    });
    await store.ensureBucket();
  });
  after(async () => {
    fake.recover();
    await fake?.close();
  });

  const photo = () => Readable.from([randomBytes(64 * 1024)]);

  test('a stalled server fails every call within STORAGE_TIMEOUT_MS, as transient', async () => {
    fake.fail('stall');
    try {
      const calls: [string, Promise<unknown>][] = [
        ['put', store.put('messages/MM8/0.jpg', photo(), { contentType: 'image/jpeg' })],
        ['get', store.get('messages/MM8/0.jpg')],
        ['url', store.url('messages/MM8/0.jpg')],
        ['delete', store.delete('messages/MM8/0.jpg')],
        ['ensureBucket', store.ensureBucket()],
      ];
      for (const [name, call] of calls) {
        await assert.rejects(call, (error: Error) => {
          assert.ok(error instanceof StorageTimeoutError, `${name}: ${String(error)}`);
          assert.equal(isPermanent(error), false);
          assert.match(error.message, /did not finish within STORAGE_TIMEOUT_MS \(300 ms\)/);
          return true;
        });
      }
      // Each call was held by the fake, and the client hung up on those without a body in
      // flight. (Node 20's fetch keeps the socket of an upload aborted while blocked on a full
      // send buffer until the server drops it; the call itself is over all the same.)
      assert.equal(fake.stalled.length, calls.length);
      await waitFor(async () =>
        fake.stalled.every(
          (request) => request.abandoned || request.path.endsWith('/troubled/messages/MM8/0.jpg'),
        ),
      );
    } finally {
      fake.recover();
    }
    await store.put('messages/MM8/0.jpg', photo(), { contentType: 'image/jpeg' });
    assert.ok(fake.buckets.get('troubled')?.objects.has('messages/MM8/0.jpg'));
  });

  test('a 502 or 503 from the gateway is a transient failure, and the next call works', async () => {
    for (const status of [502, 503] as const) {
      fake.fail(status, { times: 1 });
      await assert.rejects(
        store.put('messages/MM9/0.jpg', photo(), { contentType: 'image/jpeg' }),
        (error: Error) => {
          assert.ok(error instanceof StorageUnavailableError, String(error));
          assert.equal(isPermanent(error), false);
          assert.match(error.message, new RegExp(`HTTP ${status}`));
          return true;
        },
      );
      await store.put('messages/MM9/0.jpg', photo(), { contentType: 'image/jpeg' });
    }
  });

  test('a server that is not there at all is transient too', async () => {
    const gone = await startFakeSupabaseStorage();
    const url = gone.url;
    await gone.close();
    const orphan = new SupabaseBlobStore({
      url,
      key: gone.serviceKey,
      bucket: 'gone',
      public: false,
      signedUrlTtlSeconds: 60,
    });
    await assert.rejects(orphan.get('messages/MM1/0.jpg'), (error: Error) => {
      assert.ok(error instanceof StorageUnavailableError, String(error));
      assert.match(error.message, /could not reach/);
      return true;
    });
  });
});
