import type { FastifyInstance } from 'fastify';
import { buildApp, type AppDeps } from '../../src/http/app.js';
import { createInboundStore } from '../../src/start/inbound-store.js';
import { MemoryBlobStore } from '../fakes/memory-blob-store.js';
import type { Engine, TestDatabase } from './databases.js';
import { TEST_API_TOKEN, TEST_AUTH_TOKEN } from './twilio-webhook.js';

export interface TestApp {
  app: FastifyInstance;
  database: TestDatabase;
  /** `Authorization` header for admin routes. */
  auth: { authorization: string };
  close(): Promise<void>;
}

/** The app as `taskwire serve` builds it, on a fresh database of the given engine. */
export async function createTestApp(
  engine: Engine,
  overrides: Partial<AppDeps> = {},
): Promise<TestApp> {
  const database = await engine.create();
  const app = await buildApp({
    db: database.db,
    apiToken: TEST_API_TOKEN,
    twilioAuthToken: TEST_AUTH_TOKEN,
    publicUrl: null,
    inboundStore: createInboundStore(database.db),
    store: new MemoryBlobStore(),
    ...overrides,
  });
  return {
    app,
    database,
    auth: { authorization: `Bearer ${TEST_API_TOKEN}` },
    async close() {
      await app.close();
      await database.destroy();
    },
  };
}
