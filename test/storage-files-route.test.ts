import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { registerErrorHandler } from '../src/http/plugins/error-handler.js';
import { storageFilesRoutes } from '../src/http/routes/storage-files.js';
import {
  LocalBlobStore,
  type LocalBlobStoreOptions,
} from '../src/storage/local/local-blob-store.js';
import { makeTempDir } from './helpers/databases.js';

const SECRET = 'route-test-signing-secret-0123456789';
const PHOTO = Buffer.from('\xff\xd8\xff\xe0 not really a jpeg', 'latin1');
const OUTSIDE = 'THE CONTENTS OF A FILE OUTSIDE THE BUCKET';

async function appFor(store: LocalBlobStore): Promise<FastifyInstance> {
  const app = Fastify();
  registerErrorHandler(app);
  await app.register(storageFilesRoutes, { store });
  await app.ready();
  return app;
}

/** Sends `rawPath` byte for byte (fetch and inject would tidy up "..") over a real socket. */
function rawGet(address: string, rawPath: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(address);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, path: rawPath, method: 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('latin1') }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('GET /storage/:bucket/* (local files)', () => {
  const temp = makeTempDir('taskwire-storage-route-');
  const settings: LocalBlobStoreOptions = {
    dataDir: temp.dir,
    bucket: 'notes',
    baseUrl: 'http://files.example.test',
    public: true,
    signedUrlTtlSeconds: 600,
    signingSecret: SECRET,
  };
  const publicStore = new LocalBlobStore(settings);
  const privateStore = new LocalBlobStore({ ...settings, bucket: 'private-notes', public: false });
  let publicApp: FastifyInstance;
  let privateApp: FastifyInstance;
  let publicAddress: string;

  before(async () => {
    for (const store of [publicStore, privateStore]) {
      await store.ensureBucket();
      await store.put('messages/MM1/0.jpg', Readable.from([PHOTO]), { contentType: 'image/jpeg' });
    }
    // Files a traversal would reach: beside the buckets, and in DATA_DIR itself.
    writeFileSync(path.join(temp.dir, 'storage', 'secret.txt'), OUTSIDE);
    writeFileSync(path.join(temp.dir, 'secret.txt'), OUTSIDE);
    mkdirSync(path.join(temp.dir, 'storage', 'notes', 'messages', 'MM1', 'sub'), {
      recursive: true,
    });
    publicApp = await appFor(publicStore);
    privateApp = await appFor(privateStore);
    publicAddress = await publicApp.listen({ host: '127.0.0.1', port: 0 });
  });

  after(async () => {
    await publicApp?.close();
    await privateApp?.close();
    temp.remove();
  });

  const pathOf = (url: string) => {
    const parsed = new URL(url);
    return parsed.pathname + parsed.search;
  };

  test('serves a public object with its type, length and caching headers', async () => {
    const url = await publicStore.url('messages/MM1/0.jpg');
    assert.equal(url, 'http://files.example.test/storage/notes/messages/MM1/0.jpg');

    const response = await publicApp.inject({ method: 'GET', url: pathOf(url) });
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['content-type'], 'image/jpeg');
    assert.equal(response.headers['content-length'], String(PHOTO.length));
    assert.equal(response.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(response.headers['x-content-type-options'], 'nosniff');
    assert.equal(response.headers['content-security-policy'], 'sandbox');
    assert.deepEqual(response.rawPayload, PHOTO);
  });

  test('answers HEAD with the headers and no body', async () => {
    const response = await publicApp.inject({
      method: 'HEAD',
      url: '/storage/notes/messages/MM1/0.jpg',
    });
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['content-type'], 'image/jpeg');
    assert.equal(response.rawPayload.length, 0);
  });

  test('an unknown key or bucket is a 404 in the error format', async () => {
    for (const url of [
      '/storage/notes/messages/MM1/9.jpg',
      '/storage/other/messages/MM1/0.jpg',
      '/storage/notes/messages/MM1',
      '/storage/notes/messages/MM1/sub',
    ]) {
      const response = await publicApp.inject({ method: 'GET', url });
      assert.equal(response.statusCode, 404, url);
      const body = response.json<{ error: { code: string; message: string } }>();
      assert.equal(body.error.code, 'not_found', url);
      assert.equal(typeof body.error.message, 'string');
    }
  });

  test('path traversal never reaches a file outside the bucket', async () => {
    const attempts = [
      '/storage/notes/../secret.txt',
      '/storage/notes/../../secret.txt',
      '/storage/notes/%2e%2e/secret.txt',
      '/storage/notes/%2E%2E/%2E%2E/secret.txt',
      '/storage/notes/..%2fsecret.txt',
      '/storage/notes/..%2F..%2Fsecret.txt',
      '/storage/notes/%2e%2e%2f%2e%2e%2fsecret.txt',
      '/storage/notes/messages/../../secret.txt',
      '/storage/notes/messages/%2e%2e/%2e%2e/secret.txt',
      '/storage/notes/%252e%252e/secret.txt',
      '/storage/notes/..%5csecret.txt',
      '/storage/notes/..\\secret.txt',
      '/storage/notes/%2fetc%2fpasswd',
      '/storage/notes//etc/passwd',
      `/storage/notes/${encodeURIComponent(path.join(temp.dir, 'secret.txt'))}`,
      '/storage/notes/secret.txt%00.jpg',
      '/storage/..%2fsecret.txt',
      '/storage/%2e%2e/secret.txt',
      '/storage/notes/messages/MM1/0.jpg.meta.json',
    ];
    for (const attempt of attempts) {
      for (const answer of [
        await publicApp.inject({ method: 'GET', url: attempt }).then((r) => ({
          status: r.statusCode,
          body: r.body,
        })),
        await rawGet(publicAddress, attempt),
      ]) {
        assert.ok(
          answer.status === 400 || answer.status === 404,
          `${attempt}: expected 400 or 404, got ${answer.status}`,
        );
        assert.ok(!answer.body.includes(OUTSIDE), `${attempt} leaked a file outside the bucket`);
        assert.ok(!answer.body.includes('image/jpeg'), `${attempt} leaked a sidecar`);
      }
    }
  });

  test('a private object loads with a valid signature and is kept out of shared caches', async () => {
    const url = await privateStore.url('messages/MM1/0.jpg');
    assert.match(
      url,
      /^http:\/\/files\.example\.test\/storage\/private-notes\/messages\/MM1\/0\.jpg\?expires=\d+&signature=[0-9a-f]{64}$/,
    );
    const response = await privateApp.inject({ method: 'GET', url: pathOf(url) });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.rawPayload, PHOTO);
    assert.match(String(response.headers['cache-control']), /^private, max-age=(\d+)$/);
    const maxAge = Number(/max-age=(\d+)/.exec(String(response.headers['cache-control']))?.[1]);
    assert.ok(maxAge > 590 && maxAge <= 600, `max-age ${maxAge} should be the time left`);
    assert.equal(response.headers['x-content-type-options'], 'nosniff');
  });

  test('a private object without a valid, current signature is a 403', async () => {
    const valid = new URL(await privateStore.url('messages/MM1/0.jpg'));
    const expires = valid.searchParams.get('expires') ?? '';
    const signature = valid.searchParams.get('signature') ?? '';
    const flipped = (signature[0] === 'a' ? 'b' : 'a') + signature.slice(1);
    const expired = new URL(
      await new LocalBlobStore({
        ...settings,
        bucket: 'private-notes',
        public: false,
        now: () => Date.now() - 3_600_000,
      }).url('messages/MM1/0.jpg'),
    );
    const otherKeysUrl = new URL(await privateStore.url('messages/MM1/1.jpg'));
    const otherSecret = new URL(
      await new LocalBlobStore({
        ...settings,
        bucket: 'private-notes',
        public: false,
        signingSecret: 'another-secret-of-enough-length',
      }).url('messages/MM1/0.jpg'),
    );
    const cases: Record<string, string> = {
      'no signature': '/storage/private-notes/messages/MM1/0.jpg',
      'no expiry': `/storage/private-notes/messages/MM1/0.jpg?signature=${signature}`,
      'altered signature': `/storage/private-notes/messages/MM1/0.jpg?expires=${expires}&signature=${flipped}`,
      'extended expiry': `/storage/private-notes/messages/MM1/0.jpg?expires=${Number(expires) + 1}&signature=${signature}`,
      'short signature': `/storage/private-notes/messages/MM1/0.jpg?expires=${expires}&signature=abc`,
      'repeated parameters': `/storage/private-notes/messages/MM1/0.jpg?expires=${expires}&expires=${expires}&signature=${signature}`,
      expired: pathOf(expired.toString()),
      "another key's signature": `/storage/private-notes/messages/MM1/0.jpg${otherKeysUrl.search}`,
      'another secret': pathOf(otherSecret.toString()),
    };
    for (const [name, url] of Object.entries(cases)) {
      const response = await privateApp.inject({ method: 'GET', url });
      assert.equal(response.statusCode, 403, name);
      assert.equal(response.json<{ error: { code: string } }>().error.code, 'forbidden', name);
      assert.ok(!response.rawPayload.equals(PHOTO), `${name} leaked the object`);
    }
    const expiredAnswer = await privateApp.inject({
      method: 'GET',
      url: pathOf(expired.toString()),
    });
    assert.match(expiredAnswer.json<{ error: { message: string } }>().error.message, /expired/);
  });

  test('a valid signature for a key that does not exist is a 404', async () => {
    const url = await privateStore.url('messages/MM1/7.jpg');
    const response = await privateApp.inject({ method: 'GET', url: pathOf(url) });
    assert.equal(response.statusCode, 404);
    assert.equal(response.json<{ error: { code: string } }>().error.code, 'not_found');
  });
});
