import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../src/config/config.js';
import { createBlobStore } from '../src/storage/index.js';

const baseEnv = {
  API_TOKEN: 'factory-test-api-token-0123456789',
  TWILIO_AUTH_TOKEN: 'factory-test-twilio-token',
};
const context = {
  dataDir: '/tmp/taskwire-factory-test',
  baseUrl: 'https://taskwire.example.com',
  signingSecret: 'factory-test-signing-secret-0123',
};

describe('createBlobStore', () => {
  test('picks the local driver by default, serving files from the base URL', async () => {
    const config = loadConfig(baseEnv);
    const store = createBlobStore(config.storage, context);
    assert.equal(store.driver, 'local');
    assert.equal(store.bucket, 'notes');
    assert.equal(
      await store.url('messages/MM1/0.jpg'),
      'https://taskwire.example.com/storage/notes/messages/MM1/0.jpg',
    );
  });

  test('picks Supabase when SUPABASE_URL and SUPABASE_KEY are set', async () => {
    const config = loadConfig({
      ...baseEnv,
      SUPABASE_URL: 'https://abcd.supabase.co',
      SUPABASE_KEY: 'service-role-key',
      SUPABASE_BUCKET: 'proofs',
    });
    const store = createBlobStore(config.storage, context);
    assert.equal(store.driver, 'supabase');
    assert.equal(store.bucket, 'proofs');
    assert.equal(
      await store.url('messages/MM1/0.jpg'),
      'https://abcd.supabase.co/storage/v1/object/public/proofs/messages/MM1/0.jpg',
    );
  });

  test('picks S3 with its own bucket and public URL', async () => {
    const config = loadConfig({
      ...baseEnv,
      STORAGE_DRIVER: 's3',
      S3_BUCKET: 'taskwire-media',
      S3_ENDPOINT: 'https://account.r2.cloudflarestorage.com',
      S3_PUBLIC_URL: 'https://media.example.com',
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret',
    });
    const store = createBlobStore(config.storage, context);
    assert.equal(store.driver, 's3');
    assert.equal(store.bucket, 'taskwire-media');
    assert.equal(
      await store.url('messages/MM1/0.jpg'),
      'https://media.example.com/messages/MM1/0.jpg',
    );
  });

  test('narrows on `driver` to the local store the storage-files route needs', () => {
    const store = createBlobStore(loadConfig(baseEnv).storage, context);
    // Compiles only because `driver` discriminates the union: no instanceof needed.
    const served = store.driver === 'local' ? store.root : null;
    assert.equal(served, '/tmp/taskwire-factory-test/storage/notes');
  });
});
