import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import pino from 'pino';
import { loadConfig } from '../../src/config/config.js';
import { type RunningService, startService } from '../../src/start/service.js';
import { createPostgresDatabase, type Engine, makeTempDir } from './databases.js';
import { type FakeTwilio, fakeTwilioCdnFor } from '../fakes/fake-twilio.js';
import { TEST_ACCOUNT_SID, TEST_API_TOKEN, TEST_AUTH_TOKEN, signedForm } from './twilio-webhook.js';
import { waitFor } from './worker.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export interface TestService {
  service: RunningService;
  baseUrl: string;
  dataDir: string;
  env: Record<string, string>;
  auth: { authorization: string };
  close(): Promise<void>;
}

/**
 * The real service as `taskwire serve` starts it (database, storage, workers, HTTP on a
 * real port), configured like a user would through the environment. Pointed at a fake
 * Twilio, its CDN is allowed for media redirects unless `env` sets MEDIA_REDIRECT_ALLOWLIST.
 */
export async function startTestService(
  engine: Engine,
  env: Record<string, string> = {},
): Promise<TestService> {
  const temp = makeTempDir('taskwire-service-');
  const port = await freePort();
  const postgresDb = engine.name === 'postgres' ? await createPostgresDatabase() : null;
  const fullEnv: Record<string, string> = {
    DATA_DIR: temp.dir,
    HOST: '127.0.0.1',
    PORT: String(port),
    API_TOKEN: TEST_API_TOKEN,
    TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN,
    TWILIO_ACCOUNT_SID: TEST_ACCOUNT_SID,
    WORKER_POLL_MS: '50',
    WORKER_BACKOFF_MS: '50',
    LOG_LEVEL: 'silent',
    ...(postgresDb ? { DATABASE_URL: postgresDb.url } : {}),
    ...env,
  };
  const fakeCdn = env.TWILIO_API_BASE_URL && fakeTwilioCdnFor(env.TWILIO_API_BASE_URL);
  if (fakeCdn && !('MEDIA_REDIRECT_ALLOWLIST' in env)) fullEnv.MEDIA_REDIRECT_ALLOWLIST = fakeCdn;
  const config = loadConfig(fullEnv);
  const service = await startService(config, pino({ level: 'silent' }));
  return {
    service,
    baseUrl: `http://127.0.0.1:${port}`,
    dataDir: temp.dir,
    env: fullEnv,
    auth: { authorization: `Bearer ${TEST_API_TOKEN}` },
    async close() {
      await service.stop();
      await postgresDb?.drop();
      temp.remove();
    },
  };
}

type Json = Record<string, unknown>;

/**
 * What end-to-end tests do against one running service: call the API with the token,
 * deliver a signed webhook (signed for PUBLIC_URL `http://127.0.0.1:0`), follow a message
 * until processed, and read the replies the fake Twilio received.
 */
export function serviceClient(getService: () => TestService, getTwilio: () => FakeTwilio) {
  const api = async (method: string, path: string, body?: unknown) => {
    const t = getService();
    const response = await fetch(`${t.baseUrl}${path}`, {
      method,
      headers: { ...t.auth, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: response.status, body: (await response.json()) as Json };
  };
  const deliver = async (params: Record<string, string>) => {
    // PUBLIC_URL is what Twilio signs; the request itself goes to our real port.
    const { payload, headers } = signedForm('http://127.0.0.1:0/webhook/twilio', params);
    const response = await fetch(`${getService().baseUrl}/webhook/twilio`, {
      method: 'POST',
      body: payload,
      headers,
    });
    assert.equal(response.status, 200, 'the webhook accepts the message');
    return params.MessageSid as string;
  };
  const repliesTo = (address: string) =>
    getTwilio().messageRequests.filter((r) => r.params.To === address);
  /** The stored message once a worker has finished it. */
  const processed = (sid: string) =>
    waitFor(async () => {
      const message = await api('GET', `/messages/${sid}`);
      return message.body.processing_status === 'processed' ? message.body : null;
    });
  const allUsers = async () =>
    (await api('GET', '/users?limit=100')).body.items as {
      id: number;
      username: string;
      phone_number: string | null;
      whatsapp_id: string | null;
      points: number;
    }[];
  return { api, deliver, repliesTo, processed, allUsers };
}
