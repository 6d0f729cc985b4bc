import { createServer } from 'node:net';
import pino from 'pino';
import { loadConfig } from '../../src/config/config.js';
import { type RunningService, startService } from '../../src/start/service.js';
import { createPostgresDatabase, type Engine, makeTempDir } from './databases.js';
import { TEST_ACCOUNT_SID, TEST_API_TOKEN, TEST_AUTH_TOKEN } from './twilio-webhook.js';

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
 * real port), configured like a user would through the environment.
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
