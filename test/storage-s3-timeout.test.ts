// S3 calls are bounded too. s3rver cannot stall, so a bare TCP server stands in for a storage
// server that accepts connections and never answers; a tiny HTTP server answers 503.
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, type Socket, createServer } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { isPermanent } from '../src/domain/processing-errors.js';
import { S3BlobStore } from '../src/storage/s3/s3-blob-store.js';
import { StorageTimeoutError, StorageUnavailableError } from '../src/storage/storage-errors.js';

const storeAt = (endpoint: string, timeoutMs = 300) =>
  new S3BlobStore({
    bucket: 'notes',
    region: 'us-east-1',
    endpoint,
    publicUrl: null,
    accessKeyId: 'AKIDEXAMPLE',
    secretAccessKey: 'secret',
    public: false,
    signedUrlTtlSeconds: 60,
    timeoutMs,
  });

const photo = () => Readable.from([Buffer.alloc(32 * 1024, 7)]);

describe('S3 calls within STORAGE_TIMEOUT_MS', () => {
  const sockets = new Set<Socket>();
  // Takes every connection and every byte, and never says a word.
  const silent = createServer((socket) => {
    sockets.add(socket);
    socket.on('data', () => {});
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  let unavailableRequests = 0;
  const unavailable = createHttpServer((request, response) => {
    unavailableRequests += 1;
    request.resume();
    response.writeHead(503, { 'content-type': 'application/xml' });
    response.end(
      '<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code><Message>Please reduce your request rate.</Message></Error>',
    );
  });
  let silentUrl = '';
  let unavailableUrl = '';

  before(async () => {
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => unavailable.listen(0, '127.0.0.1', resolve));
    silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    unavailableUrl = `http://127.0.0.1:${(unavailable.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
    unavailable.closeAllConnections();
    await new Promise((resolve) => unavailable.close(resolve));
  });

  const isTimeout = (name: string) => (error: Error) => {
    assert.ok(error instanceof StorageTimeoutError, `${name}: ${String(error)}`);
    assert.equal(isPermanent(error), false);
    assert.match(error.message, /^S3: .* did not finish within STORAGE_TIMEOUT_MS \(300 ms\)/);
    return true;
  };

  test('a server that never answers fails every call in time, as transient', async () => {
    const store = storeAt(silentUrl);
    await assert.rejects(store.ensureBucket(), isTimeout('ensureBucket'));
    await assert.rejects(
      store.put('messages/MM1/0.jpg', photo(), { contentType: 'image/jpeg' }),
      isTimeout('put'),
    );
    await assert.rejects(store.get('messages/MM1/0.jpg'), isTimeout('get'));
    await assert.rejects(store.delete('messages/MM1/0.jpg'), isTimeout('delete'));
  });

  test('a 503 is a transient failure naming the status', async () => {
    // Time enough for the SDK's own retries of a 503 on a loaded machine: this test is
    // about what the 503 becomes, not about the time limit.
    const store = storeAt(unavailableUrl, 30_000);
    await assert.rejects(
      store.put('messages/MM1/0.jpg', photo(), {
        contentType: 'image/jpeg',
        contentLength: 32 * 1024,
      }),
      (error: Error) => {
        assert.ok(error instanceof StorageUnavailableError, String(error));
        assert.equal(isPermanent(error), false);
        assert.match(error.message, /HTTP 503/);
        return true;
      },
    );
    assert.ok(unavailableRequests > 0);
  });
});
