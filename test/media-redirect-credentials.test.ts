/**
 * Twilio's credentials go with a media request only to Twilio's media resources: a redirect
 * that leads back to the TWILIO_API_BASE_URL origin, but to another resource (the account's
 * message list, say), is asked without the Authorization header, as a CDN is, so nothing
 * behind the credentials can be fetched and stored as a photo. Every request here goes to
 * 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { downloadMediaToStore, mediaObjectKey } from '../src/twilio/media.js';
import { MemoryBlobStore } from './fakes/memory-blob-store.js';
import { newSid } from './fakes/fake-twilio.js';

const ACCOUNT = `AC${'b2'.repeat(16)}`;
const MESSAGE = newSid('MM');
const MEDIA = newSid('ME');
const mediaPath = `/2010-04-01/Accounts/${ACCOUNT}/Messages/${MESSAGE}/Media/${MEDIA}`;
const listPath = `/2010-04-01/Accounts/${ACCOUNT}/Messages.json`;

describe('a media redirect back to the Twilio origin', () => {
  let server: Server;
  let apiBaseUrl: string;
  // What each path was asked, and whether the request carried credentials.
  const seen: { path: string; authorization: boolean }[] = [];
  // Where the media resource redirects to, per test.
  let location = listPath;

  before(async () => {
    server = createServer((req, res) => {
      const path = req.url ?? '';
      seen.push({ path, authorization: req.headers.authorization !== undefined });
      if (path === mediaPath) {
        res.writeHead(307, { location }).end();
      } else if (path === `${mediaPath}?download=1` || path === listPath) {
        res.writeHead(200, { 'content-type': 'image/jpeg' }).end(`bytes of ${path}`);
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    apiBaseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const download = () => {
    const store = new MemoryBlobStore();
    const done = downloadMediaToStore(
      { url: `${apiBaseUrl}${mediaPath}`, contentType: 'image/jpeg' },
      { store, key: (type) => mediaObjectKey(MESSAGE, 0, type) },
      {
        accountSid: ACCOUNT,
        authToken: 'test-auth-token',
        apiBaseUrl,
        maxBytes: 1024 * 1024,
        timeoutMs: 5000,
        retryDelaysMs: [],
      },
    );
    return { store, done };
  };

  test('to another resource is asked without the credentials', async () => {
    seen.length = 0;
    location = listPath;
    const { done } = download();
    await done;
    assert.deepEqual(seen, [
      { path: mediaPath, authorization: true },
      { path: listPath, authorization: false },
    ]);
  });

  test('to the same media resource in another form is followed, with the credentials', async () => {
    seen.length = 0;
    location = `${mediaPath}?download=1`;
    const { store, done } = download();
    const stored = await done;
    assert.equal(store.bytes(stored.key)?.toString(), `bytes of ${mediaPath}?download=1`);
    assert.deepEqual(seen, [
      { path: mediaPath, authorization: true },
      { path: `${mediaPath}?download=1`, authorization: true },
    ]);
  });
});
