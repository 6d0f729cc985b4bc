/**
 * Media redirects go only where Twilio's media lives: against the real Twilio, https hosts
 * with public addresses (checked when connecting); against a stand-in, its own origin and
 * MEDIA_REDIRECT_ALLOWLIST. Every request here goes to 127.0.0.1; the public-address rule is
 * exercised through the connect-time lookup with a stubbed resolver, never a real address.
 */
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { fetch as undiciFetch } from 'undici';
import { ConfigError, loadConfig } from '../src/config/config.js';
import {
  downloadMediaToStore,
  MediaRefusedError,
  mediaObjectKey,
  type MediaDownloadOptions,
} from '../src/twilio/media.js';
import {
  isPublicAddress,
  publicOnlyDispatcher,
  publicOnlyLookup,
  type ResolveHost,
} from '../src/twilio/media-redirects.js';
import { MemoryBlobStore } from './fakes/memory-blob-store.js';
import { type FakeTwilio, newSid, startFakeTwilio } from './fakes/fake-twilio.js';
import { engines } from './helpers/databases.js';
import { startTestService, type TestService } from './helpers/service.js';
import {
  TEST_API_TOKEN,
  TEST_AUTH_TOKEN,
  signedForm,
  whatsAppParams,
} from './helpers/twilio-webhook.js';
import { waitFor } from './helpers/worker.js';

const rejection = async (promise: Promise<unknown>): Promise<Error> => {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof Error);
    return error;
  }
  return assert.fail('expected the promise to reject');
};

/** A resolver that answers from a table and never asks DNS. */
const stubResolver = (table: Record<string, string[]>): ResolveHost & { asked: string[] } => {
  const asked: string[] = [];
  const resolve = async (hostname: string): Promise<LookupAddress[]> => {
    asked.push(hostname);
    const addresses = table[hostname];
    if (!addresses)
      throw Object.assign(new Error(`stub: ${hostname} unknown`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(resolve, { asked });
};

/** A loopback TCP port that counts the connections it receives (and accepts none). */
async function countingPort(): Promise<{
  port: number;
  connections: () => number;
  close(): Promise<void>;
}> {
  let connections = 0;
  const server: TcpServer = createTcpServer((socket) => {
    connections += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('the public-address classifier', () => {
  test('loopback, private, link-local, metadata, CGNAT, unique-local and unspecified are not public', () => {
    for (const address of [
      '127.0.0.1',
      '127.255.255.254',
      '10.0.0.1',
      '10.255.255.255',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.0.1',
      '169.254.169.254',
      '100.64.0.1',
      '100.127.255.255',
      '100.100.100.200',
      '0.0.0.0',
      '224.0.0.1',
      '255.255.255.255',
      '::',
      '::1',
      '[::1]',
      'fc00::1',
      'fd00:ec2::254',
      'fdff:ffff::1',
      'fe80::1',
      'fe80::1%eth0',
      'febf::1',
      'ff02::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:169.254.169.254',
      '::ffff:10.0.0.1',
      '64:ff9b::a9fe:a9fe',
      '2002:7f00:1::',
      '2001:db8::1',
      'localhost',
      'not an address',
    ]) {
      assert.equal(isPublicAddress(address), false, address);
    }
  });

  test('public IPv4 and global unicast IPv6 are public, and the ranges end where they should', () => {
    for (const address of [
      '8.8.8.8',
      '54.239.28.85',
      '172.15.255.255',
      '172.32.0.1',
      '100.63.255.255',
      '100.128.0.1',
      '169.253.255.255',
      '11.0.0.1',
      '2600:1f18::1',
      '2a00:1450:4001::200e',
      '::ffff:8.8.8.8',
      '2002:808:808::',
    ]) {
      assert.equal(isPublicAddress(address), true, address);
    }
  });
});

describe('the connect-time lookup (stubbed resolver, no connection)', () => {
  const lookupOnce = (
    resolve: ResolveHost,
    hostname: string,
    options: { all?: boolean; family?: number } = {},
  ) =>
    new Promise<{ error: Error | null; address: unknown; family?: number }>((done) => {
      publicOnlyLookup(resolve)(hostname, options, (error, address, family) =>
        done({ error, address, family }),
      );
    });

  test('a name that resolves to a private or metadata address fails the connection with a refusal', async () => {
    for (const addresses of [
      ['127.0.0.1'],
      ['169.254.169.254'],
      ['10.1.2.3'],
      ['::1'],
      ['fd00::5'],
    ]) {
      const result = await lookupOnce(
        stubResolver({ 'media.example': addresses }),
        'media.example',
      );
      assert.ok(result.error instanceof MediaRefusedError, String(addresses));
      assert.match(result.error.message, /not a public address/);
    }
  });

  test('one private address among public ones is enough to refuse (no picking a lucky answer)', async () => {
    const result = await lookupOnce(
      stubResolver({ 'media.example': ['93.184.215.14', '127.0.0.1'] }),
      'media.example',
      { all: true },
    );
    assert.ok(result.error instanceof MediaRefusedError);
  });

  test('public addresses are handed to the connection, one or all as asked', async () => {
    const resolve = stubResolver({ 'media.example': ['93.184.215.14', '2606:2800:21f:cb07::1'] });
    const one = await lookupOnce(resolve, 'media.example');
    assert.deepEqual(one, { error: null, address: '93.184.215.14', family: 4 });
    const six = await lookupOnce(resolve, 'media.example', { family: 6 });
    assert.deepEqual(six, { error: null, address: '2606:2800:21f:cb07::1', family: 6 });
    const all = await lookupOnce(resolve, 'media.example', { all: true });
    assert.equal(all.error, null);
    assert.deepEqual(all.address, [
      { address: '93.184.215.14', family: 4 },
      { address: '2606:2800:21f:cb07::1', family: 6 },
    ]);
  });

  test('through the dispatcher, a name rebound to the loopback and a loopback literal never connect', async () => {
    const target = await countingPort();
    try {
      const resolve = stubResolver({ 'cdn.example': ['127.0.0.1'] });
      const dispatcher = publicOnlyDispatcher(resolve);
      for (const url of [
        `https://cdn.example:${target.port}/media`,
        `https://127.0.0.1:${target.port}/media`,
      ]) {
        const error = await rejection(undiciFetch(url, { dispatcher }));
        const cause = (error as { cause?: unknown }).cause;
        assert.ok(cause instanceof MediaRefusedError, `${url}: ${String(cause)}`);
      }
      assert.deepEqual(resolve.asked, ['cdn.example'], 'the name was resolved by the hook');
      assert.equal(target.connections(), 0, 'nothing connected to the loopback');
    } finally {
      await target.close();
    }
  });
});

describe('MEDIA_REDIRECT_ALLOWLIST configuration', () => {
  const load = (value: string) =>
    loadConfig({
      API_TOKEN: TEST_API_TOKEN,
      TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN,
      MEDIA_REDIRECT_ALLOWLIST: value,
    });

  test('origins, host:port and hosts, normalised; empty by default', () => {
    assert.deepEqual(
      loadConfig({ API_TOKEN: TEST_API_TOKEN, TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN }).media
        .redirectAllowlist,
      [],
    );
    assert.deepEqual(
      load('http://127.0.0.1:9000/, CDN.Local:80,[::1]:8080,media.local').media.redirectAllowlist,
      ['http://127.0.0.1:9000', 'cdn.local:80', '[::1]:8080', 'media.local'],
    );
  });

  test('paths, credentials and other schemes are refused, naming the entry', () => {
    for (const entry of [
      'http://127.0.0.1:9000/media',
      'ftp://cdn.local',
      'http://u:p@cdn.local',
      'cdn.local:99999',
    ]) {
      try {
        load(entry);
        assert.fail(`${entry} was accepted`);
      } catch (error) {
        assert.ok(error instanceof ConfigError, entry);
        assert.match(error.problems.join('\n'), /MEDIA_REDIRECT_ALLOWLIST: ".*" is not an origin/);
      }
    }
  });
});

describe('following media redirects', () => {
  let fake: FakeTwilio;
  before(async () => {
    fake = await startFakeTwilio();
  });
  after(async () => fake?.close());

  const options = (overrides: Partial<MediaDownloadOptions> = {}): MediaDownloadOptions => ({
    accountSid: fake.accountSid,
    authToken: fake.authToken,
    apiBaseUrl: fake.apiBaseUrl,
    maxBytes: 1024 * 1024,
    timeoutMs: 5000,
    retryDelaysMs: [10],
    ...overrides,
  });
  const download = (url: string, overrides: Partial<MediaDownloadOptions> = {}) => {
    const store = new MemoryBlobStore();
    return {
      store,
      done: downloadMediaToStore(
        { url, contentType: 'image/jpeg' },
        { store, key: (type) => mediaObjectKey(newSid('MM'), 0, type) },
        options(overrides),
      ),
    };
  };

  test('a stand-in redirecting to a loopback port outside the allowlist is refused; that port gets no request', async () => {
    const media = fake.addMedia({ bytes: randomBytes(1024), contentType: 'image/jpeg' });
    // Another loopback port is allowed; the CDN's is not (ephemeral ports are never 1).
    const { store, done } = download(media.url, { redirectAllowlist: ['127.0.0.1:1'] });
    const error = await rejection(done);
    assert.ok(error instanceof MediaRefusedError);
    assert.equal(error.permanent, true);
    assert.match(
      error.message,
      /neither the TWILIO_API_BASE_URL origin nor in MEDIA_REDIRECT_ALLOWLIST/,
    );
    assert.ok(error.message.includes(new URL(fake.cdnBaseUrl).host), 'names the host');
    assert.ok(!/X-Amz-Signature/.test(error.message), 'no signed query string');
    assert.equal(media.apiRequests, 1);
    assert.equal(media.cdnRequests, 0, 'the CDN outside the allowlist received nothing');
    assert.equal(store.puts.length, 0);
  });

  test('inside the allowlist (origin, host:port or host), the redirect is followed and the bytes stored', async () => {
    const cdn = new URL(fake.cdnBaseUrl);
    for (const entry of [cdn.origin, `${cdn.hostname}:${cdn.port}`, cdn.hostname]) {
      const bytes = randomBytes(2048);
      const media = fake.addMedia({ bytes, contentType: 'image/jpeg', cdnHops: 1 });
      const { store, done } = download(media.url, { redirectAllowlist: [entry] });
      const stored = await done;
      assert.ok(store.bytes(stored.key)?.equals(bytes), entry);
      assert.equal(media.cdnRequests, 2, `${entry}: both CDN hops`);
    }
  });

  test('under the public rule, a plain-http redirect is refused before any request', async () => {
    const media = fake.addMedia({ bytes: randomBytes(1024), contentType: 'image/jpeg' });
    const { done } = download(media.url, { redirectRule: 'public', resolveHost: stubResolver({}) });
    const error = await rejection(done);
    assert.ok(error instanceof MediaRefusedError);
    assert.match(error.message, /only https is followed/);
    assert.equal(media.cdnRequests, 0);
  });

  describe('under the public rule, an https redirect to a name', () => {
    let api: HttpServer;
    let apiBaseUrl: string;
    let target: Awaited<ReturnType<typeof countingPort>>;
    before(async () => {
      target = await countingPort();
      // A Twilio stand-in whose media answer redirects to https://cdn.example:<target>.
      api = createHttpServer((_req, res) => {
        res.writeHead(307, { location: `https://cdn.example:${target.port}/media?sig=1` }).end();
      });
      await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
      apiBaseUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
    });
    after(async () => {
      api.closeAllConnections();
      await new Promise<void>((resolve) => api.close(() => resolve()));
      await target.close();
    });

    test('that resolves to the loopback fails the item with a clear, permanent error; nothing connects', async () => {
      const resolve = stubResolver({ 'cdn.example': ['127.0.0.1'] });
      const url = `${apiBaseUrl}/2010-04-01/Accounts/${fake.accountSid}/Messages/${newSid('MM')}/Media/${newSid('ME')}`;
      const { store, done } = download(url, {
        apiBaseUrl,
        redirectRule: 'public',
        resolveHost: resolve,
      });
      const error = await rejection(done);
      assert.ok(error instanceof MediaRefusedError, String(error));
      assert.equal(error.permanent, true);
      assert.match(error.message, /cdn\.example.*127\.0\.0\.1: not a public address/);
      assert.deepEqual(resolve.asked, ['cdn.example']);
      assert.equal(target.connections(), 0);
      assert.equal(store.puts.length, 0);
    });
  });
});

type MessageBody = {
  processed: boolean;
  stored_media: { index: number; key?: string; error?: string }[];
};

for (const engine of engines) {
  describe(`a refused media redirect in the worker [${engine.name}]`, { skip: engine.skip }, () => {
    let twilio: FakeTwilio;
    let t: TestService;
    before(async () => {
      twilio = await startFakeTwilio();
      // MEDIA_REDIRECT_ALLOWLIST unset: only the stand-in's own origin is allowed, not its CDN.
      t = await startTestService(engine, {
        TWILIO_API_BASE_URL: twilio.apiBaseUrl,
        MEDIA_REDIRECT_ALLOWLIST: '',
      });
    });
    after(async () => {
      await t?.close();
      await twilio?.close();
    });

    test('fails that media item with a clear error; the CDN is never asked', async () => {
      const media = twilio.addMedia({ bytes: randomBytes(1024), contentType: 'image/jpeg' });
      const params = whatsAppParams({
        messageSid: media.messageSid,
        media: [{ url: media.url, contentType: 'image/jpeg' }],
      });
      const url = `${t.baseUrl}/webhook/twilio`;
      const signed = signedForm(url, params);
      const posted = await fetch(url, {
        method: 'POST',
        body: signed.payload,
        headers: signed.headers,
      });
      assert.equal(posted.status, 200);
      const done = await waitFor(async () => {
        const response = await fetch(`${t.baseUrl}/messages/${media.messageSid}`, {
          headers: t.auth,
        });
        const message = (await response.json()) as MessageBody;
        return message.processed ? message : null;
      });
      assert.match(done.stored_media[0]?.error ?? '', /MEDIA_REDIRECT_ALLOWLIST/);
      assert.equal(done.stored_media[0]?.key, undefined);
      assert.equal(media.cdnRequests, 0);
    });
  });
}
