import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { variables } from '../src/config/variables.js';
import { createPostgresDatabase, makeTempDir, postgres } from './helpers/databases.js';

// The CLI as `npx taskwire` runs it, from source, in real child processes.
const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const cliEntry = path.join('src', 'cli', 'main.ts');

/** A port nobody listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  assert.ok(address && typeof address === 'object');
  return address.port;
}

/**
 * A clean environment: every Taskwire variable set empty (which counts as unset, and
 * hides any developer's `.env` in the repository), then `settings`.
 */
function cliEnv(settings: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
  for (const variable of variables) env[variable.name] = '';
  return { ...env, LOG_LEVEL: 'warn', ...settings };
}

interface RunningCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with stderr once it matches `pattern`; rejects if the process exits first. */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
}

function runCli(args: string[], env: NodeJS.ProcessEnv): RunningCli {
  const child = spawn(process.execPath, ['--import', 'tsx', cliEntry, ...args], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitForStderr(pattern, timeoutMs = 60_000) {
      return new Promise<string>((resolve, reject) => {
        const check = () => {
          if (!pattern.test(err)) return;
          cleanup();
          resolve(err);
        };
        const onExit = (code: number | null) => {
          cleanup();
          reject(new Error(`exited (${code}) before ${pattern}:\n${err}`));
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${err}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          child.stderr?.off('data', check);
          child.off('exit', onExit);
        };
        child.stderr?.on('data', check);
        child.once('exit', onExit);
        check();
      });
    },
  };
}

/** Runs the CLI to completion (or fails after `timeoutMs`). */
async function runToExit(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000) {
  const cli = runCli(args, env);
  const timer = setTimeout(() => cli.child.kill('SIGKILL'), timeoutMs);
  const code = await cli.exited;
  clearTimeout(timer);
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}

describe('taskwire serve (embedded database)', () => {
  const temp = makeTempDir('taskwire-cli-');
  const dataDir = path.join(temp.dir, 'data');
  let port: number;
  let serve: RunningCli;
  let banner: string;

  before(async () => {
    port = await freePort();
    serve = runCli(['serve'], cliEnv({ DATA_DIR: dataDir, HOST: '127.0.0.1', PORT: String(port) }));
    banner = await serve.waitForStderr(/API token \(development[^\n]*: \S+/);
  });
  after(async () => {
    if (serve.child.exitCode === null && serve.child.signalCode === null) {
      serve.child.kill('SIGKILL');
      await serve.exited;
    }
    temp.remove();
  });

  const base = () => `http://127.0.0.1:${port}`;
  const bannerToken = () => /API token \(development[^\n]*: (\S+)/.exec(banner)?.[1] ?? '';

  test('prints the development banner on stderr, with the generated API token', () => {
    assert.match(banner, new RegExp(`Taskwire is running at http://127\\.0\\.0\\.1:${port}`));
    assert.match(banner, /Database: embedded PGlite/);
    assert.match(
      banner,
      new RegExp(`Twilio webhook: http://127\\.0\\.0\\.1:${port}/webhook/twilio`),
    );
    const stored = JSON.parse(readFileSync(path.join(dataDir, 'secrets.json'), 'utf8')) as {
      apiToken: string;
    };
    assert.equal(bannerToken(), stored.apiToken);
    assert.match(banner, /TWILIO_AUTH_TOKEN is not set/);
    assert.equal(serve.stdout(), '', 'the banner and logs stay off stdout');
  });

  test('/health and /ready answer 200', async () => {
    const health = await fetch(`${base()}/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    const ready = await fetch(`${base()}/ready`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready' });
  });

  test('the printed token opens GET /messages/; no token is a 401', async () => {
    const response = await fetch(`${base()}/messages/`, {
      headers: { authorization: `Bearer ${bannerToken()}` },
    });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { items: [], total: 0, limit: 10, offset: 0 });
    const anonymous = await fetch(`${base()}/messages/`);
    assert.equal(anonymous.status, 401);
  });

  test('a second serve on the same DATA_DIR exits non-zero: another process uses it; use DATABASE_URL', async () => {
    const second = await runToExit(
      ['serve'],
      cliEnv({ DATA_DIR: dataDir, HOST: '127.0.0.1', PORT: String(await freePort()) }),
    );
    assert.equal(second.code, 1, second.stderr);
    assert.match(second.stderr, /Another Taskwire process \(pid \d+\) is using/);
    assert.ok(second.stderr.includes(dataDir), second.stderr);
    assert.match(second.stderr, /DATABASE_URL/);
    assert.doesNotMatch(second.stderr, /Taskwire is running/);
    // The first one is unharmed.
    assert.equal((await fetch(`${base()}/health`)).status, 200);
  });

  test('SIGTERM stops serve promptly with exit code 0 and releases the DATA_DIR', async () => {
    const started = Date.now();
    serve.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), 10_000);
    });
    const code = await Promise.race([serve.exited, timeout]);
    clearTimeout(timer);
    assert.equal(code, 0, serve.stderr());
    assert.ok(Date.now() - started < 10_000);
    assert.equal(existsSync(path.join(dataDir, 'taskwire.pid')), false);
    await assert.rejects(fetch(`${base()}/health`));
  });
});

describe('taskwire migrate (Postgres)', { skip: postgres.skip }, () => {
  test('applies 0001_initial, then says the database is up to date', async (t) => {
    const database = await createPostgresDatabase();
    t.after(() => database.drop());
    const temp = makeTempDir('taskwire-cli-');
    t.after(() => temp.remove());
    const env = cliEnv({ DATABASE_URL: database.url, DATA_DIR: temp.dir });

    const first = await runToExit(['migrate'], env);
    assert.equal(first.code, 0, first.stderr);
    assert.match(
      first.stderr,
      /Applied \d+ migration\(s\) to Postgres at [^:]+:5432\/taskwire_test_/,
    );
    assert.match(first.stderr, /0001_initial/);
    assert.doesNotMatch(first.stderr, /@/, 'the connection string is not printed');

    const second = await runToExit(['migrate'], env);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /is up to date\./);
    assert.doesNotMatch(second.stderr, /Applied/);
    // Postgres needs no DATA_DIR lock.
    assert.equal(existsSync(path.join(temp.dir, 'taskwire.pid')), false);
  });
});

describe('taskwire commands that end at once', () => {
  test('exits 1 and lists every problem, each naming its variable', async (t) => {
    const temp = makeTempDir('taskwire-cli-');
    t.after(() => temp.remove());
    const result = await runToExit(
      ['serve'],
      cliEnv({ DATA_DIR: temp.dir, PORT: 'abc', LOG_LEVEL: 'loud' }),
    );
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /Invalid configuration:/);
    assert.match(result.stderr, /^ {2}- PORT="abc": /m);
    assert.match(result.stderr, /^ {2}- LOG_LEVEL="loud": /m);
    assert.match(result.stderr, /taskwire config/);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  });

  test('an unknown command exits 2 with the usage', async () => {
    const result = await runToExit(['frobnicate'], cliEnv({}));
    assert.equal(result.code, 2);
    assert.match(result.stderr, /Unknown command "frobnicate"/);
    assert.match(result.stderr, /Usage: taskwire/);
  });

  test('config lists every variable with its default', async () => {
    const result = await runToExit(['config'], cliEnv({}));
    assert.equal(result.code, 0, result.stderr);
    for (const variable of variables) {
      const line =
        variable.default === null ? variable.name : `${variable.name}=${variable.default}`;
      assert.match(
        result.stdout,
        new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'),
      );
    }
  });
});
