// What the contract suite cannot show for the Supabase driver: the requests it sends, how
// it reads Supabase's error shapes, and that the fake refuses what Supabase refuses (a fake
// that accepted anything would let the contract pass for the wrong reasons).
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { SupabaseBlobStore } from '../src/storage/supabase/supabase-blob-store.js';
import { type FakeSupabaseStorage, startFakeSupabaseStorage } from './fakes/supabase-storage.js';

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
    assert.equal(((await badToken.json()) as { error: string }).error, 'InvalidJWT');
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
