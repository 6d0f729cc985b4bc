import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { OutboundRow } from '../src/db/outbound.js';
import { openPglite } from '../src/db/pglite.js';
import { pgliteTemplateDir } from '../src/db/pglite-template.js';
import { type FakeTwilio, startFakeTwilio } from './fakes/fake-twilio.js';
import { createMessage } from './fixtures/twilio-messages-api.js';
import { makeTempDir } from './helpers/databases.js';
import { type CliProcess, cleanEnv, runCli, runCliToExit } from './helpers/processes.js';
import { freePort } from './helpers/service.js';
import { TEST_ACCOUNT_SID, TEST_API_TOKEN, TEST_AUTH_TOKEN } from './helpers/twilio-webhook.js';

// `taskwire send` as a user runs it: a real child process, from source, with the embedded
// database in its DATA_DIR, against the fake Twilio, the local outbox, or a running serve.

const GROUP_NUMBER = '+14155238886';
const SANDBOX_NUMBER = '+14155238886';
const runSend = (args: string[], env: NodeJS.ProcessEnv) =>
  runCliToExit(['send', ...args], env, 120_000);

let phoneSeq = 0;
const newPhone = () =>
  `+1555${String(process.pid % 1000).padStart(3, '0')}${String((phoneSeq += 1)).padStart(4, '0')}`;

/** The outbound rows recorded in the embedded database in `dataDir` (once no process holds it). */
async function recordedRows(dataDir: string): Promise<OutboundRow[]> {
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

describe('taskwire send', () => {
  const temp = makeTempDir('taskwire-send-cli-');
  const dataDir = path.join(temp.dir, 'data');
  let twilio: FakeTwilio;
  let env: NodeJS.ProcessEnv;
  const requestsTo = (to: string) => twilio.messageRequests.filter((r) => r.params.To === to);

  before(async () => {
    twilio = await startFakeTwilio();
    env = cleanEnv({
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

  test('sends one WhatsApp message through Twilio, prints its SID and exits 0', async (t) => {
    const phone = newPhone();
    const run = await runSend(['--to', phone, 'Hello'], env);
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

    const [row] = (await recordedRows(dataDir)).filter((r) => r.to_number === `whatsapp:${phone}`);
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
    const run = await runSend(['--to', phone, '--sms', 'Hello'], env);
    assert.equal(run.code, 1, run.output);
    assert.match(run.stderr, /TWILIO_PHONE_NUMBER is not set/);
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'a message, not a stack trace');
    assert.equal(requestsTo(phone).length, 0);
    assert.equal(
      (await recordedRows(dataDir)).filter((r) => r.to_number === phone).length,
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
    const run = await runSend(['--to', phone, 'Hello'], env);
    assert.equal(run.code, 1, run.output);
    assert.match(run.stderr, /Not sent/);
    assert.match(run.stderr, /21211/);
    assert.equal(requestsTo(`whatsapp:${phone}`).length, 1, 'tried once, not retried');
    const rows = (await recordedRows(dataDir)).filter((r) => r.to_number === `whatsapp:${phone}`);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.status, 'failed');
    assert.equal(rows[0]?.error_code, 21211);
    assert.equal(rows[0]?.twilio_sid, null);
    assert.equal(rows[0]?.attempts, 1);
  });
});

describe('taskwire send to the local outbox (no TWILIO_ACCOUNT_SID)', () => {
  test('works without TWILIO_WHATSAPP_NUMBER: from the Sandbox number, as replies answer from the number written to', async (t) => {
    const temp = makeTempDir('taskwire-send-cli-');
    t.after(() => temp.remove());
    const phone = newPhone();
    const run = await runSend(['--to', phone, 'Hello'], cleanEnv({ DATA_DIR: temp.dir }));
    assert.equal(run.code, 0, run.output);
    assert.match(
      run.stderr,
      /^Delivered to the local outbox \(TWILIO_ACCOUNT_SID is not set\): OB\w+, recorded as outbound message \d+\./,
    );
    const [row] = (await recordedRows(temp.dir)).filter((r) => r.to_number === `whatsapp:${phone}`);
    assert.equal(row?.from_number, `whatsapp:${SANDBOX_NUMBER}`);
    assert.equal(row?.outbox, true);
    assert.ok(row?.twilio_sid?.startsWith('OB'));
  });
});

describe('taskwire send while taskwire serve runs on the embedded database', () => {
  const temp = makeTempDir('taskwire-send-serve-');
  const dataDir = path.join(temp.dir, 'data');
  let port: number;
  let serve: CliProcess;
  const base = () => `http://127.0.0.1:${port}`;
  const token = () =>
    (JSON.parse(readFileSync(path.join(dataDir, 'secrets.json'), 'utf8')) as { apiToken: string })
      .apiToken;

  before(async () => {
    port = await freePort();
    // Development as `npm start` runs it: outbox, no TWILIO_WHATSAPP_NUMBER, generated token.
    serve = runCli(
      ['serve'],
      cleanEnv({ DATA_DIR: dataDir, HOST: '127.0.0.1', PORT: String(port), WORKER_POLL_MS: '50' }),
    );
    await serve.waitForStderr(/Taskwire is running/);
  });
  after(async () => {
    serve.kill('SIGTERM');
    await serve.exited;
    temp.remove();
  });

  test('goes through the service (found through DATA_DIR, not PORT), whose worker delivers it', async () => {
    const phone = newPhone();
    // No PORT: the service's address comes from DATA_DIR/service.json.
    const run = await runSend(['--to', phone, 'Hello'], cleanEnv({ DATA_DIR: dataDir }));
    assert.equal(run.code, 0, run.output);
    assert.match(
      run.stderr,
      new RegExp(
        `^Delivered to the local outbox through the service at http://127\\.0\\.0\\.1:${port} \\(TWILIO_ACCOUNT_SID is not set\\): OB\\w+`,
      ),
    );
    assert.doesNotMatch(run.stderr, /Another Taskwire process/);
    const page = (await (
      await fetch(`${base()}/outbound?limit=100`, {
        headers: { authorization: `Bearer ${token()}` },
      })
    ).json()) as { items: OutboundRow[] };
    const sent = page.items.filter((r) => r.to_number === `whatsapp:${phone}`);
    assert.equal(sent.length, 1);
    assert.equal(sent[0]?.kind, 'send');
    assert.equal(sent[0]?.from_number, `whatsapp:${SANDBOX_NUMBER}`);
    assert.equal(sent[0]?.outbox, true);
    assert.ok(run.stderr.includes(sent[0]?.twilio_sid ?? '(no sid)'), run.stderr);
  });

  test("the service's refusal is one line: --sms without TWILIO_PHONE_NUMBER exits 1", async () => {
    const run = await runSend(['--to', newPhone(), '--sms', 'Hi'], cleanEnv({ DATA_DIR: dataDir }));
    assert.equal(run.code, 1, run.output);
    assert.match(run.stderr, /^Not sent: TWILIO_PHONE_NUMBER is not set/);
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
  });

  test("another API_TOKEN than the service's is refused with what to check", async () => {
    const run = await runSend(
      ['--to', newPhone(), 'Hi'],
      cleanEnv({ DATA_DIR: dataDir, API_TOKEN: 'another-api-token-of-32-chars-00' }),
    );
    assert.equal(run.code, 1, run.output);
    assert.match(run.stderr, /refused the API token \(401\)\. This CLI uses API_TOKEN/);
  });

  test('--url where nothing listens exits 1 naming the address', async () => {
    const closed = await freePort();
    const run = await runSend(
      ['--url', `http://127.0.0.1:${closed}`, '--to', newPhone(), 'Hi'],
      cleanEnv({ DATA_DIR: dataDir }),
    );
    assert.equal(run.code, 1, run.output);
    assert.match(
      run.stderr,
      new RegExp(`^Not sent: No Taskwire service answers at http://127\\.0\\.0\\.1:${closed}`),
    );
  });
});
