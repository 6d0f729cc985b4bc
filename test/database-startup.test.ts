import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import { makeTempDir, postgres } from './helpers/databases.js';
import { cleanEnv, runCliToExit } from './helpers/processes.js';
import { freePort } from './helpers/service.js';
import { TEST_API_TOKEN, TEST_AUTH_TOKEN } from './helpers/twilio-webhook.js';

// Start-up against a database that is not there: retried for DATABASE_CONNECT_TIMEOUT_MS
// when waiting may help, then one line on stderr naming the server, the cause and what to
// check, instead of a stack trace.

/** A server that speaks just enough Postgres to refuse every start-up with one error. */
async function refusingPostgres(code: string, message: string) {
  const field = (type: string, value: string) => Buffer.from(`${type}${value}\0`);
  let connections = 0;
  const server = net.createServer((socket) => {
    connections += 1;
    socket.on('error', () => {});
    socket.once('data', () => {
      const fields = Buffer.concat([
        field('S', 'FATAL'),
        field('V', 'FATAL'),
        field('C', code),
        field('M', message),
        Buffer.from([0]),
      ]);
      const header = Buffer.alloc(5);
      header.write('E', 0);
      header.writeInt32BE(fields.length + 4, 1);
      socket.end(Buffer.concat([header, fields]));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('start-up against an unreachable database', () => {
  const temp = makeTempDir('taskwire-startup-');
  after(() => temp.remove());

  const start = async (command: string, databaseUrl: string, connectTimeoutMs: number) =>
    runCliToExit(
      [command],
      cleanEnv({
        DATA_DIR: temp.dir,
        HOST: '127.0.0.1',
        PORT: String(await freePort()),
        API_TOKEN: TEST_API_TOKEN,
        TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN,
        DATABASE_URL: databaseUrl,
        DATABASE_CONNECT_TIMEOUT_MS: String(connectTimeoutMs),
      }),
    );

  /** The process exited 1 with exactly one line on stderr, which it returns. */
  const oneLine = (result: { code: number | string; stderr: string }): string => {
    assert.equal(result.code, 1, result.stderr);
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `one line, not:\n${result.stderr}`);
    assert.doesNotMatch(result.stderr, /^\s+at /m, 'no stack trace');
    return lines[0] as string;
  };

  for (const command of ['serve', 'worker']) {
    test(`${command}: a closed port is retried, then reported in one line`, async () => {
      const port = await freePort();
      const result = await start(
        command,
        `postgres://taskwire:secret-password@127.0.0.1:${port}/taskwire`,
        800,
      );
      const line = oneLine(result);
      assert.match(line, new RegExp(`127\\.0\\.0\\.1:${port}, database "taskwire"`));
      assert.match(line, /ECONNREFUSED/);
      assert.match(line, /check that Postgres is running/);
      assert.doesNotMatch(result.stderr + result.stdout, /secret-password/);
      // The retries were logged (pino, stdout) before giving up.
      assert.match(result.stdout, /database not reachable yet; retrying/);
    });
  }

  test('a wrong password is reported at once, not retried', async () => {
    const fake = await refusingPostgres('28P01', 'password authentication failed for user "ada"');
    try {
      const result = await start('serve', `postgres://ada:nope@127.0.0.1:${fake.port}/app`, 60_000);
      const line = oneLine(result);
      assert.match(line, new RegExp(`127\\.0\\.0\\.1:${fake.port}, database "app" as user "ada"`));
      assert.match(line, /password authentication failed/);
      assert.match(line, /check the user and password in DATABASE_URL/);
      assert.equal(fake.connections(), 1, 'not retried');
    } finally {
      await fake.close();
    }
  });

  test('a server shutting down (57P03) is retried, then reported', async () => {
    const fake = await refusingPostgres('57P03', 'the database system is shutting down');
    try {
      const result = await start('serve', `postgres://ada@127.0.0.1:${fake.port}/app`, 800);
      const line = oneLine(result);
      assert.match(line, /the database system is shutting down/);
      assert.match(line, /starting up, shutting down or in recovery/);
      assert.ok(fake.connections() >= 2, `retried: ${fake.connections()} connections`);
    } finally {
      await fake.close();
    }
  });

  test('a database that does not exist is reported at once', { skip: postgres.skip }, async () => {
    const url = new URL(process.env.TEST_DATABASE_URL as string);
    url.pathname = '/taskwire_test_missing_database';
    const result = await start('serve', url.toString(), 60_000);
    const line = oneLine(result);
    assert.match(line, /database "taskwire_test_missing_database" does not exist/);
    assert.match(line, /check the database name/);
    assert.doesNotMatch(result.stdout, /retrying/, 'not retried');
  });
});
