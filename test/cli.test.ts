import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { commandHelp, commands } from '../src/cli/commands.js';
import { variables } from '../src/config/variables.js';
import { createPostgresDatabase, makeTempDir, postgres } from './helpers/databases.js';
import { type CliProcess, cleanEnv, runCli, runCliToExit } from './helpers/processes.js';
import { freePort } from './helpers/service.js';

// The CLI as `npx taskwire` runs it, from source, in real child processes.

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const noStackTrace = (stderr: string) =>
  assert.doesNotMatch(stderr, /\n\s+at /, `no stack trace:\n${stderr}`);

describe('taskwire serve (embedded database)', () => {
  const temp = makeTempDir('taskwire-cli-');
  const dataDir = path.join(temp.dir, 'data');
  let port: number;
  let serve: CliProcess;
  let banner: string;

  before(async () => {
    port = await freePort();
    serve = runCli(
      ['serve'],
      cleanEnv({ DATA_DIR: dataDir, HOST: '127.0.0.1', PORT: String(port) }),
    );
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

  test("the banner's hints name this DATA_DIR and address, which another terminal lacks", () => {
    // PORT and DATA_DIR come from this process's environment, not from a .env file.
    const run = `DATA_DIR=${dataDir} npx taskwire`;
    assert.ok(
      banner.includes(`${run} simulate --url http://127.0.0.1:${port} --from +15551234567`),
      banner,
    );
    // send finds the service through DATA_DIR (service.json), so it needs no --url.
    assert.ok(banner.includes(`${run} send --to +15551234567 "Hello"`), banner);
    assert.deepEqual(JSON.parse(readFileSync(path.join(dataDir, 'service.json'), 'utf8')), {
      pid: serve.child.pid,
      url: `http://127.0.0.1:${port}`,
    });
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
    const second = await runCliToExit(
      ['serve'],
      cleanEnv({ DATA_DIR: dataDir, HOST: '127.0.0.1', PORT: String(await freePort()) }),
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
    assert.equal(existsSync(path.join(dataDir, 'service.json')), false);
    await assert.rejects(fetch(`${base()}/health`));
  });
});

describe('taskwire migrate (Postgres)', { skip: postgres.skip }, () => {
  test('applies 0001_initial, then says the database is up to date', async (t) => {
    const database = await createPostgresDatabase();
    t.after(() => database.drop());
    const temp = makeTempDir('taskwire-cli-');
    t.after(() => temp.remove());
    const env = cleanEnv({ DATABASE_URL: database.url, DATA_DIR: temp.dir });

    const first = await runCliToExit(['migrate'], env);
    assert.equal(first.code, 0, first.stderr);
    assert.match(
      first.stderr,
      /Applied \d+ migration\(s\) to Postgres at [^:]+:5432\/taskwire_test_/,
    );
    assert.match(first.stderr, /0001_initial/);
    assert.doesNotMatch(first.stderr, /@/, 'the connection string is not printed');

    const second = await runCliToExit(['migrate'], env);
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
    const result = await runCliToExit(
      ['serve'],
      cleanEnv({ DATA_DIR: temp.dir, PORT: 'abc', LOG_LEVEL: 'loud' }),
    );
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /Invalid configuration:/);
    assert.match(result.stderr, /^ {2}- PORT="abc": /m);
    assert.match(result.stderr, /^ {2}- LOG_LEVEL="loud": /m);
    assert.match(result.stderr, /taskwire config/);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  });

  test('an unknown command exits 2 with the usage', async () => {
    const result = await runCliToExit(['frobnicate'], cleanEnv({}));
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^taskwire: unknown command "frobnicate"\n/);
    assert.match(result.stderr, /Usage: taskwire <command>/);
  });
});

describe('taskwire help', () => {
  test('`taskwire <command> --help` and `taskwire help <command>` describe the command and every flag', async () => {
    for (const command of commands) {
      const viaFlag = await runCliToExit([command.name, '--help'], cleanEnv({}));
      assert.equal(viaFlag.code, 0, viaFlag.stderr);
      // Generated from the table the flags are parsed with.
      assert.equal(viaFlag.stdout, `${commandHelp(command)}\n`);
      assert.match(viaFlag.stdout, new RegExp(`^Usage: taskwire ${command.name}\\b`));
      for (const [name, option] of Object.entries(command.options)) {
        assert.match(
          viaFlag.stdout,
          new RegExp(`^ +--${name}\\b.*${escape(option.description)}`, 'm'),
          `${command.name} --help describes --${name}`,
        );
      }
    }
    const viaHelp = await runCliToExit(['help', 'simulate'], cleanEnv({}));
    assert.equal(viaHelp.code, 0, viaHelp.stderr);
    assert.equal(viaHelp.stdout, `${commandHelp(commands.find((c) => c.name === 'simulate')!)}\n`);
  });

  test('send --help names its flags and says it goes through a running service', async () => {
    const result = await runCliToExit(['send', '-h'], cleanEnv({}));
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /^Usage: taskwire send --to NUMBER \[--sms\] \[--media URL\]\.\.\. \[--url URL\] "message"$/m,
    );
    assert.match(result.stdout, /running service/);
  });

  test('`taskwire`, `taskwire --help` and `taskwire help` list every command', async () => {
    for (const args of [[], ['--help'], ['help']]) {
      const result = await runCliToExit(args, cleanEnv({}));
      assert.equal(result.code, 0, result.stderr);
      for (const command of commands) {
        assert.match(
          result.stdout,
          new RegExp(`^  ${command.name} +${escape(command.summary)}$`, 'm'),
        );
      }
    }
  });
});

describe('taskwire flags are strict', () => {
  /** Exit 2; the first line says what is wrong, then the command's usage; nothing ran. */
  async function refused(args: string[], problem: string, usage: string) {
    const temp = makeTempDir('taskwire-cli-');
    try {
      const result = await runCliToExit(args, cleanEnv({ DATA_DIR: temp.dir }));
      assert.equal(result.code, 2, result.stderr);
      const [first, blank, usageLine] = result.stderr.split('\n');
      assert.equal(first, `taskwire: ${problem}`);
      assert.equal(blank, '');
      assert.ok(usageLine?.startsWith(`Usage: ${usage}`), result.stderr);
      noStackTrace(result.stderr);
      assert.equal(result.stdout, '');
      assert.equal(existsSync(path.join(temp.dir, 'secrets.json')), false, 'no command ran');
    } finally {
      temp.remove();
    }
  }

  test('serve --port 9999: an unknown flag, not silently ignored', () =>
    refused(
      ['serve', '--port', '9999'],
      'unknown option --port for `taskwire serve`',
      'taskwire serve',
    ));

  test('simulate --timeout abc: a bad value names the flag and the value', () =>
    refused(
      ['simulate', '--from', '+15551234567', '--timeout', 'abc', 'Done!'],
      '--timeout: expected a number of seconds such as 30, got "abc"',
      'taskwire simulate --from NUMBER',
    ));

  test('send --to without a value, without --to, with a bad number, with --sms=yes, without text', async () => {
    await refused(['send', '--to'], '--to needs a value', 'taskwire send --to NUMBER');
    await refused(['send', 'Hello'], '--to is required', 'taskwire send');
    await refused(
      ['send', '--to', '12', 'Hello'],
      '--to: expected an E.164 phone number such as +15551234567, got "12"',
      'taskwire send',
    );
    await refused(
      ['send', '--to', '+15551234567', '--sms=yes', 'Hi'],
      '--sms takes no value',
      'taskwire send',
    );
    await refused(
      ['send', '--to', '+15551234567'],
      'the message text (or --media) is missing',
      'taskwire send',
    );
  });

  test('migrate extra, a flag before the command, help for an unknown command', async () => {
    await refused(
      ['migrate', 'now'],
      '`taskwire migrate` takes no arguments, got "now"',
      'taskwire migrate',
    );
    await refused(
      ['--port', '1', 'serve'],
      'unknown option --port: give a command first',
      'taskwire <command>',
    );
    await refused(['help', 'frobnicate'], 'unknown command "frobnicate"', 'taskwire <command>');
  });
});

describe('taskwire config', () => {
  const API_TOKEN = 'an-api-token-of-32-characters-00';

  test('shows the value in effect of every variable and its source (environment, .env, default), secrets masked', async (t) => {
    const temp = makeTempDir('taskwire-cli-config-');
    t.after(() => temp.remove());
    writeFileSync(
      path.join(temp.dir, '.env'),
      'LOG_LEVEL=debug\nPORT=7000\nSUPABASE_KEY=file-secret-key\n',
    );
    const env = cleanEnv({
      PORT: '9001',
      API_TOKEN,
      DATABASE_URL: 'postgres://taskwire:hunter2@db.internal:5432/taskwire',
    });
    // Unset rather than empty, so that the .env file's values show through.
    for (const name of ['LOG_LEVEL', 'SUPABASE_KEY', 'DATA_DIR']) delete env[name];
    const result = await runCliToExit(['config'], env, 60_000, { cwd: temp.dir });
    assert.equal(result.code, 0, result.stderr);
    const line = (name: string) =>
      new RegExp(`^${name}=.*$`, 'm').exec(result.stdout)?.[0] ?? `(no ${name} line)`;

    assert.match(line('PORT'), /^PORT=9001 +# environment$/, 'the environment wins over .env');
    assert.match(line('LOG_LEVEL'), /^LOG_LEVEL=debug +# \.env$/);
    assert.match(line('WORKER_CONCURRENCY'), /^WORKER_CONCURRENCY=\d+ +# default$/);
    assert.match(line('TWILIO_ACCOUNT_SID'), /^TWILIO_ACCOUNT_SID= +# not set$/);
    assert.equal(
      line('DATA_DIR'),
      `DATA_DIR=./data`.padEnd(line('DATA_DIR').indexOf('#')) +
        `# default, ${path.join(temp.dir, 'data')}`,
    );
    assert.match(line('API_TOKEN'), /^API_TOKEN=\*+ \(32 characters\) +# environment$/);
    assert.match(line('SUPABASE_KEY'), /^SUPABASE_KEY=\*+ \(15 characters\) +# \.env$/);
    assert.match(
      line('DATABASE_URL'),
      /^DATABASE_URL=postgres:\/\/taskwire:\*\*\*\*@db\.internal:5432\/taskwire +# environment$/,
    );
    assert.match(
      line('TWILIO_AUTH_TOKEN'),
      /# not set: generated for development into .*secrets\.json at the first start$/,
    );
    for (const secret of [API_TOKEN, 'hunter2', 'file-secret-key']) {
      assert.ok(!result.stdout.includes(secret) && !result.stderr.includes(secret), secret);
    }
    for (const variable of variables)
      assert.match(result.stdout, new RegExp(`^${variable.name}=`, 'm'));
    assert.equal(
      existsSync(path.join(temp.dir, 'data')),
      false,
      'config only looks: nothing generated',
    );
  });

  test('a generated development secret shows as generated, masked', async (t) => {
    const temp = makeTempDir('taskwire-cli-config-');
    t.after(() => temp.remove());
    const stored = {
      apiToken: 'generated-api-token-0123456789abcdef',
      twilioAuthToken: 'generated-auth-token-0123',
    };
    writeFileSync(path.join(temp.dir, 'secrets.json'), JSON.stringify(stored));
    const result = await runCliToExit(['config', '--describe'], cleanEnv({ DATA_DIR: temp.dir }));
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      new RegExp(
        `^API_TOKEN=\\*+ \\(${stored.apiToken.length} characters\\) +# generated for development, in ${escape(path.join(temp.dir, 'secrets.json'))}$`,
        'm',
      ),
    );
    assert.ok(
      !result.stdout.includes(stored.apiToken) && !result.stdout.includes(stored.twilioAuthToken),
    );
    // --describe adds each meaning under its line.
    assert.match(result.stdout, /^PORT=8000 +# default\n {4}Port the HTTP server listens on\.$/m);
  });

  test('exits 1 listing every invalid value; the table marks them', async () => {
    const result = await runCliToExit(
      ['config'],
      cleanEnv({ PORT: 'abc', LOG_LEVEL: 'loud', STORAGE_DRIVER: 'supabase' }),
    );
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stdout, /^PORT=abc +# environment \(invalid\)$/m);
    assert.match(result.stdout, /^LOG_LEVEL=loud +# environment \(invalid\)$/m);
    assert.match(result.stdout, /^SUPABASE_URL= +# not set \(invalid\)$/m);
    assert.match(result.stdout, /^HOST=0\.0\.0\.0 +# default$/m);
    assert.match(result.stderr, /Invalid configuration:/);
    assert.match(result.stderr, /^ {2}- PORT="abc": /m);
    assert.match(result.stderr, /^ {2}- LOG_LEVEL="loud": /m);
    assert.match(result.stderr, /^ {2}- SUPABASE_URL and SUPABASE_KEY: /m);
    noStackTrace(result.stderr);
  });
});
