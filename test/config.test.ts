import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig, type DevSecrets } from '../src/config/config.js';
import { loadOrCreateDevSecrets, readDevSecrets } from '../src/config/dev-secrets.js';
import { readEnvFile, readEnvironment } from '../src/config/env-file.js';
import { variables } from '../src/config/variables.js';
import { makeTempDir } from './helpers/databases.js';

const API_TOKEN = 'an-api-token-of-32-characters-00';
const TWILIO_AUTH_TOKEN = 'a-twilio-auth-token-0123456789ab';
const ACCOUNT_SID = `AC${'0123456789abcdef'.repeat(2)}`;

/** The problems loadConfig reports for `env`, or fails when it accepts it. */
function problemsOf(
  env: Record<string, string>,
  options: Parameters<typeof loadConfig>[1] = {},
): readonly string[] {
  try {
    loadConfig(env, options);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.match(error.message, /^Invalid configuration:/);
    for (const problem of error.problems) assert.ok(error.message.includes(problem));
    return error.problems;
  }
  assert.fail('loadConfig accepted an invalid configuration');
}

describe('loadConfig', () => {
  test('defaults: port 8000, ./data against cwd, local storage, bucket notes, embedded database', () => {
    const cwd = path.resolve('/srv/taskwire');
    const config = loadConfig({ API_TOKEN, TWILIO_AUTH_TOKEN }, { cwd });
    assert.equal(config.production, false);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.port, 8000);
    assert.equal(config.dataDir, path.join(cwd, 'data'));
    assert.equal(config.databaseUrl, null);
    assert.equal(config.databasePoolSize, 10);
    assert.equal(config.logLevel, 'info');
    assert.equal(config.publicUrl, null);
    assert.equal(config.apiToken, API_TOKEN);
    assert.equal(config.apiTokenSource, 'env');
    assert.equal(config.twilio.authToken, TWILIO_AUTH_TOKEN);
    assert.equal(config.twilio.authTokenSource, 'env');
    assert.equal(config.twilio.apiBaseUrl, 'https://api.twilio.com');
    assert.equal(config.twilio.deleteMedia, false);
    assert.equal(config.storage.driver, 'local');
    assert.equal(config.storage.bucket, 'notes');
    assert.equal(config.storage.public, true);
    assert.equal(config.storage.signedUrlTtlSeconds, 3600);
    assert.equal(config.storage.supabase, null);
    assert.equal(config.storage.s3, null);
    // The numbers take the defaults of the variables table (the README's source).
    const numbers: [string, number][] = [
      ['DATABASE_POOL_SIZE', config.databasePoolSize],
      ['STORAGE_SIGNED_URL_TTL', config.storage.signedUrlTtlSeconds],
      ['MEDIA_MAX_BYTES', config.media.maxBytes],
      ['MEDIA_TIMEOUT_MS', config.media.timeoutMs],
      ['WORKER_CONCURRENCY', config.worker.concurrency],
      ['WORKER_MAX_ATTEMPTS', config.worker.maxAttempts],
      ['WORKER_BACKOFF_MS', config.worker.backoffMs],
      ['WORKER_POLL_MS', config.worker.pollMs],
      ['WORKER_LEASE_MS', config.worker.leaseMs],
    ];
    for (const [name, value] of numbers) {
      const documented = variables.find((v) => v.name === name)?.default;
      assert.equal(value, Number(documented), name);
    }
    assert.equal(config.media.maxBytes, 16 * 1024 * 1024);
    assert.ok(Object.isFrozen(config));
  });

  test('DATA_DIR is resolved against cwd; empty and blank values count as unset', () => {
    const cwd = path.resolve('/srv/taskwire');
    const relative = loadConfig({ API_TOKEN, TWILIO_AUTH_TOKEN, DATA_DIR: 'state/db' }, { cwd });
    assert.equal(relative.dataDir, path.join(cwd, 'state', 'db'));
    const absolute = path.resolve('/var/lib/taskwire');
    assert.equal(
      loadConfig({ API_TOKEN, TWILIO_AUTH_TOKEN, DATA_DIR: absolute }, { cwd }).dataDir,
      absolute,
    );
    const blank = loadConfig({ API_TOKEN, TWILIO_AUTH_TOKEN, PORT: '  ', DATA_DIR: '' }, { cwd });
    assert.equal(blank.port, 8000);
    assert.equal(blank.dataDir, path.join(cwd, 'data'));
  });

  test('values are parsed into typed settings', () => {
    const config = loadConfig({
      API_TOKEN,
      TWILIO_AUTH_TOKEN,
      TWILIO_ACCOUNT_SID: ACCOUNT_SID,
      PORT: ' 9000 ',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'debug',
      DATABASE_URL: 'postgresql://user:pw@db.example.com:5432/taskwire',
      DATABASE_POOL_SIZE: '25',
      PUBLIC_URL: 'https://taskwire.example.com/',
      TWILIO_WHATSAPP_NUMBER: 'whatsapp:+14155238886',
      TWILIO_DELETE_MEDIA: 'TRUE',
      STORAGE_PUBLIC: 'no',
    });
    assert.equal(config.port, 9000);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.logLevel, 'debug');
    assert.equal(config.databaseUrl, 'postgresql://user:pw@db.example.com:5432/taskwire');
    assert.equal(config.databasePoolSize, 25);
    assert.equal(config.publicUrl, 'https://taskwire.example.com');
    assert.equal(config.twilio.accountSid, ACCOUNT_SID);
    assert.equal(config.twilio.whatsappNumber, '+14155238886');
    assert.equal(config.twilio.deleteMedia, true);
    assert.equal(config.storage.public, false);
  });

  test('SUPABASE_URL and SUPABASE_KEY select the supabase driver, bucket notes', () => {
    const config = loadConfig({
      API_TOKEN,
      TWILIO_AUTH_TOKEN,
      SUPABASE_URL: 'https://abcdefgh.supabase.co/',
      SUPABASE_KEY: 'service-role-key',
    });
    assert.equal(config.storage.driver, 'supabase');
    assert.equal(config.storage.bucket, 'notes');
    assert.deepEqual(config.storage.supabase, {
      url: 'https://abcdefgh.supabase.co',
      key: 'service-role-key',
    });
  });

  test('STORAGE_DRIVER=s3 uses SUPABASE_BUCKET for S3_BUCKET unless set', () => {
    const config = loadConfig({
      API_TOKEN,
      TWILIO_AUTH_TOKEN,
      STORAGE_DRIVER: 's3',
      SUPABASE_BUCKET: 'proofs',
      S3_ENDPOINT: 'http://127.0.0.1:9000',
    });
    assert.equal(config.storage.driver, 's3');
    assert.equal(config.storage.bucket, 'proofs');
    assert.equal(config.storage.s3?.bucket, 'proofs');
    assert.equal(config.storage.s3?.endpoint, 'http://127.0.0.1:9000');
    assert.equal(config.storage.s3?.region, 'us-east-1');
  });

  test('every invalid variable is reported at once, each problem naming its variable', () => {
    const problems = problemsOf({
      API_TOKEN,
      TWILIO_AUTH_TOKEN,
      PORT: 'abc',
      LOG_LEVEL: 'loud',
      DATABASE_URL: 'mysql://x',
      TWILIO_ACCOUNT_SID: 'bad',
    });
    assert.equal(problems.length, 4, problems.join('\n'));
    for (const name of ['PORT', 'LOG_LEVEL', 'DATABASE_URL', 'TWILIO_ACCOUNT_SID']) {
      assert.equal(
        problems.filter((p) => p.startsWith(name)).length,
        1,
        `${name} in ${problems.join('\n')}`,
      );
    }
    assert.match(problems.find((p) => p.startsWith('PORT')) ?? '', /"abc".*whole number/);
    assert.match(problems.find((p) => p.startsWith('LOG_LEVEL')) ?? '', /"loud".*info/);
  });

  test('out-of-range numbers, bad booleans, URLs, numbers and drivers are problems', () => {
    const problems = problemsOf({
      API_TOKEN,
      TWILIO_AUTH_TOKEN,
      PORT: '70000',
      DATABASE_POOL_SIZE: '0',
      WORKER_CONCURRENCY: '-1',
      TWILIO_DELETE_MEDIA: 'maybe',
      PUBLIC_URL: 'ftp://example.com',
      TWILIO_PHONE_NUMBER: '5551234567',
      STORAGE_DRIVER: 'dropbox',
    });
    const named = problems.map((p) => /^[A-Z_0-9]+/.exec(p)?.[0]).sort();
    assert.deepEqual(named, [
      'DATABASE_POOL_SIZE',
      'PORT',
      'PUBLIC_URL',
      'STORAGE_DRIVER',
      'TWILIO_DELETE_MEDIA',
      'TWILIO_PHONE_NUMBER',
      'WORKER_CONCURRENCY',
    ]);
  });

  test('a DATABASE_URL problem does not echo the connection string (it may hold a password)', () => {
    const problems = problemsOf({
      API_TOKEN,
      TWILIO_AUTH_TOKEN,
      DATABASE_URL: 'mysql://admin:hunter2@db',
    });
    assert.equal(problems.length, 1);
    assert.doesNotMatch(problems[0] ?? '', /hunter2/);
  });

  test('supabase storage without SUPABASE_KEY is a problem', () => {
    const problems = problemsOf({
      API_TOKEN,
      TWILIO_AUTH_TOKEN,
      SUPABASE_URL: 'https://abcdefgh.supabase.co',
    });
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? '', /SUPABASE_KEY/);
  });

  test('NODE_ENV=production without API_TOKEN and TWILIO_AUTH_TOKEN names both', () => {
    let generated = 0;
    const devSecrets = (): DevSecrets => {
      generated += 1;
      return { apiToken: 'x'.repeat(32), twilioAuthToken: 'y'.repeat(32) };
    };
    const problems = problemsOf({ NODE_ENV: 'production' }, { devSecrets });
    assert.equal(problems.length, 2, problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('API_TOKEN') && /production/.test(p)));
    assert.ok(problems.some((p) => p.startsWith('TWILIO_AUTH_TOKEN') && /production/.test(p)));
    assert.equal(generated, 0, 'production never generates secrets');
  });

  test('production with both secrets set is accepted', () => {
    const config = loadConfig({ NODE_ENV: 'production', API_TOKEN, TWILIO_AUTH_TOKEN });
    assert.equal(config.production, true);
    assert.equal(config.apiTokenSource, 'env');
  });

  test('an API_TOKEN shorter than 16 characters is a problem', () => {
    const problems = problemsOf({ API_TOKEN: 'short', TWILIO_AUTH_TOKEN });
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? '', /^API_TOKEN: .*16 characters/);
  });

  test('without a way to generate them, missing development secrets are refused, not left empty', () => {
    const missingApi = problemsOf({ TWILIO_AUTH_TOKEN });
    assert.ok(
      missingApi.some((p) => p.startsWith('API_TOKEN')),
      missingApi.join('\n'),
    );
    // An empty auth token would let anyone sign webhooks (an HMAC with an empty key).
    const missingAuth = problemsOf({ API_TOKEN });
    assert.ok(
      missingAuth.some((p) => p.startsWith('TWILIO_AUTH_TOKEN')),
      missingAuth.join('\n'),
    );
  });
});

describe('development secrets', () => {
  test('are generated once into DATA_DIR/secrets.json (mode 0600) and stable across loads', (t) => {
    const temp = makeTempDir();
    t.after(() => temp.remove());
    const env = { DATA_DIR: 'state' };
    const first = loadConfig(env, { cwd: temp.dir, devSecrets: loadOrCreateDevSecrets });
    const file = path.join(temp.dir, 'state', 'secrets.json');
    assert.ok(existsSync(file));
    if (process.platform !== 'win32') assert.equal(statSync(file).mode & 0o777, 0o600);

    assert.equal(first.apiTokenSource, 'generated');
    assert.equal(first.twilio.authTokenSource, 'generated');
    assert.ok(first.apiToken.length >= 32);
    assert.ok(first.twilio.authToken.length >= 32);
    assert.notEqual(first.apiToken, first.twilio.authToken);
    const stored = JSON.parse(readFileSync(file, 'utf8')) as DevSecrets;
    assert.deepEqual(stored, {
      apiToken: first.apiToken,
      twilioAuthToken: first.twilio.authToken,
    });

    const second = loadConfig(env, { cwd: temp.dir, devSecrets: loadOrCreateDevSecrets });
    assert.equal(second.apiToken, first.apiToken);
    assert.equal(second.twilio.authToken, first.twilio.authToken);
  });

  test('a configured value wins over the generated one', (t) => {
    const temp = makeTempDir();
    t.after(() => temp.remove());
    const config = loadConfig({ API_TOKEN }, { cwd: temp.dir, devSecrets: loadOrCreateDevSecrets });
    assert.equal(config.apiToken, API_TOKEN);
    assert.equal(config.apiTokenSource, 'env');
    assert.equal(config.twilio.authTokenSource, 'generated');
    const stored = JSON.parse(
      readFileSync(path.join(temp.dir, 'data', 'secrets.json'), 'utf8'),
    ) as DevSecrets;
    assert.equal(config.twilio.authToken, stored.twilioAuthToken);
  });

  test('different DATA_DIRs get different secrets', (t) => {
    const temp = makeTempDir();
    t.after(() => temp.remove());
    const a = loadOrCreateDevSecrets(path.join(temp.dir, 'a'));
    const b = loadOrCreateDevSecrets(path.join(temp.dir, 'b'));
    assert.notEqual(a.apiToken, b.apiToken);
    assert.deepEqual(loadOrCreateDevSecrets(path.join(temp.dir, 'a')), a);
  });

  test('readDevSecrets only reads (taskwire config): null before the first start, then the stored ones', (t) => {
    const temp = makeTempDir();
    t.after(() => temp.remove());
    const dataDir = path.join(temp.dir, 'data');
    assert.equal(readDevSecrets(dataDir), null);
    assert.equal(existsSync(dataDir), false, 'nothing written');
    const generated = loadOrCreateDevSecrets(dataDir);
    assert.deepEqual(readDevSecrets(dataDir), generated);
  });
});

describe('readEnvironment', () => {
  test('reads .env from the working folder; the environment wins', (t) => {
    const temp = makeTempDir();
    t.after(() => temp.remove());
    writeFileSync(
      path.join(temp.dir, '.env'),
      [
        '# local settings',
        'PORT=9001',
        'LOG_LEVEL=debug',
        'PUBLIC_URL="https://taskwire.example.com"',
        "SUPABASE_BUCKET='proof photos'",
        '',
      ].join('\n'),
    );
    const processEnv = { LOG_LEVEL: 'warn', HOME: '/home/taskwire' };
    const env = readEnvironment(processEnv, temp.dir);
    assert.equal(env.PORT, '9001');
    assert.equal(env.LOG_LEVEL, 'warn');
    assert.equal(env.PUBLIC_URL, 'https://taskwire.example.com');
    assert.equal(env.SUPABASE_BUCKET, 'proof photos');
    assert.equal(env.HOME, '/home/taskwire');
    assert.deepEqual(processEnv, { LOG_LEVEL: 'warn', HOME: '/home/taskwire' });

    const config = loadConfig({ ...env, API_TOKEN, TWILIO_AUTH_TOKEN }, { cwd: temp.dir });
    assert.equal(config.port, 9001);
    assert.equal(config.logLevel, 'warn');
    assert.equal(config.storage.bucket, 'proof photos');
  });

  test('without a .env file, the environment alone', (t) => {
    const temp = makeTempDir();
    t.after(() => temp.remove());
    assert.deepEqual(readEnvironment({ PORT: '1234' }, temp.dir), { PORT: '1234' });
    assert.deepEqual(readEnvFile(temp.dir), {});
  });

  test('readEnvFile: the .env file alone, for naming where a value comes from', (t) => {
    const temp = makeTempDir();
    t.after(() => temp.remove());
    writeFileSync(path.join(temp.dir, '.env'), 'PORT=9001\n');
    assert.deepEqual(readEnvFile(temp.dir), { PORT: '9001' });
  });
});
