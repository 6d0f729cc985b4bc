import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { variables } from '../src/config/variables.js';
import type { OutboundRow } from '../src/db/outbound.js';
import { openPglite } from '../src/db/pglite.js';
import { pgliteTemplateDir } from '../src/db/pglite-template.js';
import { type FakeTwilio, startFakeTwilio } from './fakes/fake-twilio.js';
import { createMessage } from './fixtures/twilio-messages-api.js';
import { makeTempDir } from './helpers/databases.js';
import { TEST_ACCOUNT_SID, TEST_API_TOKEN, TEST_AUTH_TOKEN } from './helpers/twilio-webhook.js';

// `taskwire send` as a user runs it: a real child process, from source, with the embedded
// database in its DATA_DIR, against the fake Twilio.

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const cliEntry = path.join('src', 'cli', 'main.ts');
const GROUP_NUMBER = '+14155238886';

/** Every Taskwire variable set empty (unset, and hiding a developer's `.env`), then `settings`. */
function cliEnv(settings: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
  for (const variable of variables) env[variable.name] = '';
  return { ...env, LOG_LEVEL: 'warn', ...settings };
}

async function runCli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000) {
  const child = spawn(process.execPath, ['--import', 'tsx', cliEntry, ...args], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | string>((resolve) =>
    child.once('exit', (exitCode, signal) => resolve(exitCode ?? signal ?? -1)),
  );
  clearTimeout(timer);
  return { code, stdout, stderr, output: stdout + stderr };
}

describe('taskwire send', () => {
  const temp = makeTempDir('taskwire-send-cli-');
  const dataDir = path.join(temp.dir, 'data');
  let twilio: FakeTwilio;
  let env: NodeJS.ProcessEnv;
  let phoneSeq = 0;
  const newPhone = () =>
    `+1555${String(process.pid % 1000).padStart(3, '0')}${String((phoneSeq += 1)).padStart(4, '0')}`;
  const requestsTo = (to: string) => twilio.messageRequests.filter((r) => r.params.To === to);

  before(async () => {
    twilio = await startFakeTwilio();
    env = cliEnv({
      DATA_DIR: dataDir,
      API_TOKEN: TEST_API_TOKEN,
      TWILIO_ACCOUNT_SID: TEST_ACCOUNT_SID,
      TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN,
      TWILIO_API_BASE_URL: twilio.apiBaseUrl,
      TWILIO_WHATSAPP_NUMBER: GROUP_NUMBER,
    });
  });
  after(async () => {
    await twilio?.close();
    temp.remove();
  });

  /** The outbound rows the CLI recorded in its embedded database (once no CLI runs). */
  async function recordedRows(): Promise<OutboundRow[]> {
    const db = await openPglite({
      dataDir: path.join(dataDir, 'pglite'),
      templateDir: pgliteTemplateDir(),
    });
    try {
      return await db.query<OutboundRow>('SELECT * FROM outbound_messages ORDER BY id');
    } finally {
      await db.close();
    }
  }

  test('sends one WhatsApp message through Twilio, prints its SID and exits 0', async (t) => {
    const phone = newPhone();
    const run = await runCli(['send', '--to', phone, 'Hello'], env);
    assert.equal(run.code, 0, run.output);

    const sent = requestsTo(`whatsapp:${phone}`);
    assert.equal(sent.length, 1, 'exactly one Messages.json POST');
    const request = sent[0]!;
    assert.equal(request.status, 201);
    assert.equal(request.accountSid, TEST_ACCOUNT_SID);
    assert.equal(request.params.From, `whatsapp:${GROUP_NUMBER}`);
    assert.equal(request.params.Body, 'Hello');
    assert.equal(request.mediaUrls.length, 0);
    assert.ok(request.sid);
    assert.ok(run.output.includes(request.sid), `the SID is printed:\n${run.output}`);

    const [row] = (await recordedRows()).filter((r) => r.to_number === `whatsapp:${phone}`);
    assert.equal(row?.twilio_sid, request.sid);
    assert.equal(row?.kind, 'send');
    assert.equal(row?.status, 'queued');

    // Twilio's API as test/fixtures/twilio-messages-api.ts records it (checked against
    // Twilio's OpenAPI document by test/twilio-messages-api.test.ts).
    await t.test("its parameters are those of Twilio's published Messages API", () => {
      const defined = new Set<string>(createMessage.parameters);
      const names = [...new Set(request.form.keys())];
      assert.deepEqual(
        names.filter((name) => !defined.has(name)),
        [],
        'every parameter is one Twilio defines',
      );
      for (const name of createMessage.required) assert.ok(names.includes(name), `${name} is sent`);
    });
  });

  test('--sms without TWILIO_PHONE_NUMBER exits 1 and says what to set; nothing is sent', async () => {
    const phone = newPhone();
    const run = await runCli(['send', '--to', phone, '--sms', 'Hello'], env);
    assert.equal(run.code, 1, run.output);
    assert.match(run.stderr, /TWILIO_PHONE_NUMBER is not set/);
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'a message, not a stack trace');
    assert.equal(requestsTo(phone).length, 0);
    assert.equal(
      (await recordedRows()).filter((r) => r.to_number === phone).length,
      0,
      'nothing recorded',
    );
  });

  test('Twilio error 21211 exits 1 with "Not sent" and records the message as failed with the code', async () => {
    const phone = newPhone();
    twilio.failNext(1, {
      status: 400,
      code: 21211,
      message: "The 'To' number is not a valid phone number.",
    });
    const run = await runCli(['send', '--to', phone, 'Hello'], env);
    assert.equal(run.code, 1, run.output);
    assert.match(run.stderr, /Not sent/);
    assert.match(run.stderr, /21211/);
    assert.equal(requestsTo(`whatsapp:${phone}`).length, 1, 'tried once, not retried');
    const rows = (await recordedRows()).filter((r) => r.to_number === `whatsapp:${phone}`);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.status, 'failed');
    assert.equal(rows[0]?.error_code, 21211);
    assert.equal(rows[0]?.twilio_sid, null);
    assert.equal(rows[0]?.attempts, 1);
  });
});
