import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildApp } from '../src/http/app.js';
import { MemoryBlobStore } from './fakes/memory-blob-store.js';
import { TEST_API_TOKEN, TEST_AUTH_TOKEN } from './helpers/twilio-webhook.js';

test('a malformed URL is a 400 with the standard error body, not a framework default', async () => {
  const app = await buildApp({
    db: { query: async () => [], exec: async () => {} },
    apiToken: TEST_API_TOKEN,
    twilioAuthToken: TEST_AUTH_TOKEN,
    publicUrl: null,
    inboundStore: { store: async () => ({ id: 1 }) },
    store: new MemoryBlobStore(),
  });
  try {
    const response = await app.inject({
      url: '/messages/%zz',
      headers: { authorization: `Bearer ${TEST_API_TOKEN}` },
    });
    assert.equal(response.statusCode, 400);
    const body = response.json() as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'validation_failed');
    assert.match(body.error.message, /valid url/);
  } finally {
    await app.close();
  }
});
