import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { simulatorAccountSid } from '../src/config/config.js';
import { createTestApp } from './helpers/app.js';
import { makePng } from './helpers/png.js';
import { cleanEnv, runCliToExit } from './helpers/processes.js';
import { pglite } from './helpers/databases.js';
import { freePort, startTestService, type TestService } from './helpers/service.js';
import { TEST_AUTH_TOKEN, signedForm, whatsAppParams } from './helpers/twilio-webhook.js';
import { waitFor } from './helpers/worker.js';

// Development without a Twilio account: replies land in the local outbox, and the service
// stands in for Twilio's media server so `taskwire simulate --image` runs the whole loop.

interface Outbound {
  id: number;
  to_number: string;
  body: string;
  status: string;
  twilio_sid: string | null;
  outbox: boolean;
  error_code: number | null;
  error_message: string | null;
  attempts: number;
}

describe('development without TWILIO_ACCOUNT_SID: outbox and simulator', () => {
  let t: TestService;
  before(async () => {
    t = await startTestService(pglite, {
      TWILIO_ACCOUNT_SID: '',
      TWILIO_WHATSAPP_NUMBER: '+14155238886',
    });
  });
  after(async () => t?.close());

  const api = async <T = Record<string, unknown>>(method: string, path: string, body?: unknown) => {
    const response = await fetch(`${t.baseUrl}${path}`, {
      method,
      headers: { ...t.auth, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: response.status, body: (await response.json()) as T };
  };
  const outboxFor = async (phone: string) => {
    const page = await api<{ items: Outbound[] }>('GET', '/outbound?limit=100');
    return page.body.items.filter((o) => o.to_number === `whatsapp:${phone}`);
  };

  test('a reply goes through pending → submitting → sent into the outbox, with a local OB SID', async () => {
    const phone = '+15550100001';
    const url = `${t.baseUrl}/webhook/twilio`;
    const { payload, headers } = signedForm(url, whatsAppParams({ from: phone, body: 'help' }));
    const ack = await fetch(url, { method: 'POST', body: payload, headers });
    assert.equal(ack.status, 200);
    const [reply] = await waitFor(async () => {
      const rows = await outboxFor(phone);
      return rows.length > 0 && rows[0]?.status === 'sent' ? rows : null;
    });
    assert.ok(reply);
    assert.match(reply.twilio_sid ?? '', /^OB[0-9a-f]{32}$/);
    assert.equal(reply.outbox, true);
    assert.equal(reply.error_code, null);
    assert.equal(reply.error_message, null);
    assert.equal(reply.attempts, 1);
    assert.match(reply.body, /Commands/);
  });

  test('POST /messages/send is delivered to the outbox too', async () => {
    const phone = '+15550100002';
    const sent = await api<Outbound>('POST', '/messages/send', { to: phone, body: 'Reminder' });
    assert.equal(sent.status, 202);
    const row = await waitFor(async () => {
      const found = await api<Outbound>('GET', `/outbound/${sent.body.id}`);
      return found.body.status === 'sent' ? found.body : null;
    });
    assert.equal(row.outbox, true);
    assert.match(row.twilio_sid ?? '', /^OB/);
  });

  test('the media stand-in behaves like Twilio: basic auth, then a redirect to a signed URL', async () => {
    const png = makePng(16, 16);
    const unauthenticated = await fetch(`${t.baseUrl}/simulator/media`, {
      method: 'POST',
      headers: { 'content-type': 'image/png' },
      body: png,
    });
    assert.equal(unauthenticated.status, 401, 'uploads need the API token');

    const upload = await fetch(`${t.baseUrl}/simulator/media`, {
      method: 'POST',
      headers: { ...t.auth, 'content-type': 'image/png' },
      body: png,
    });
    assert.equal(upload.status, 201);
    const media = (await upload.json()) as {
      media_url: string;
      account_sid: string;
      message_sid: string;
    };
    assert.equal(media.account_sid, simulatorAccountSid(TEST_AUTH_TOKEN));
    assert.match(media.message_sid, /^MM[0-9a-f]{32}$/);
    assert.match(
      media.media_url,
      /\/simulator\/2010-04-01\/Accounts\/AC[0-9a-f]{32}\/Messages\/MM[0-9a-f]{32}\/Media\/ME[0-9a-f]{32}$/,
    );

    assert.equal((await fetch(media.media_url, { redirect: 'manual' })).status, 401);
    const wrong = `Basic ${Buffer.from(`${media.account_sid}:wrong`).toString('base64')}`;
    const refused = await fetch(media.media_url, {
      redirect: 'manual',
      headers: { authorization: wrong },
    });
    assert.equal(refused.status, 401);
    assert.match(refused.headers.get('www-authenticate') ?? '', /^Basic/);

    const right = `Basic ${Buffer.from(`${media.account_sid}:${TEST_AUTH_TOKEN}`).toString('base64')}`;
    const redirect = await fetch(media.media_url, {
      redirect: 'manual',
      headers: { authorization: right },
    });
    assert.equal(redirect.status, 307);
    const location = new URL(redirect.headers.get('location') ?? '', media.media_url);
    assert.match(location.pathname, /^\/simulator\/cdn\//);
    const bytes = await fetch(location);
    assert.equal(bytes.status, 200);
    assert.equal(bytes.headers.get('content-type'), 'image/png');
    assert.ok(Buffer.from(await bytes.arrayBuffer()).equals(png));

    location.searchParams.set('signature', 'f'.repeat(64));
    assert.equal((await fetch(location)).status, 403, 'a forged CDN link is refused');
  });

  test('taskwire simulate --image: uploaded, posted, stored, processed, task completed, reply from the outbox', async (ctx) => {
    const phone = '+15550100003';
    const user = await api<{ id: number }>('POST', '/users', {
      username: 'Ada',
      phone_number: phone,
    });
    assert.equal(user.status, 201);
    const task = await api<{ id: number }>('POST', '/tasks', {
      user_id: user.body.id,
      description: 'Go for a run',
      due_time: new Date(Date.now() + 3_600_000).toISOString(),
      points: 15,
    });
    assert.equal(task.status, 201);
    const photo = path.join(t.dataDir, 'photo.png');
    writeFileSync(photo, makePng(64, 48));

    // The CLI finds the API token and the auth token the way the service does.
    const env = cleanEnv({
      DATA_DIR: t.dataDir,
      PORT: t.env.PORT as string,
      API_TOKEN: t.env.API_TOKEN as string,
      TWILIO_AUTH_TOKEN: t.env.TWILIO_AUTH_TOKEN as string,
    });
    const run = await runCliToExit(
      ['simulate', '--from', phone, '--image', photo, '--name', 'Ada', 'Done!'],
      env,
    );
    ctx.diagnostic(run.stdout);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /✓ Uploaded photo\.png .*image\/png.* as Twilio media ME[0-9a-f]{32}/);
    assert.match(run.stdout, /✓ Webhook accepted: photo message MM[0-9a-f]{32}/);
    assert.match(run.stdout, /✓ Stored as message \d+/);
    assert.match(run.stdout, /✓ Processed in [\d.]+ s: photo stored at http/);
    assert.match(
      run.stdout,
      /✓ Task completed: "Go for a run" \(\+15 points\); Ada now has 15 points/,
    );
    assert.match(run.stdout, /✓ Reply to the local outbox \(OB[0-9a-f]{32}/);
    assert.match(run.stdout, /"Go for a run" is done! \+15 points/);

    assert.equal((await api<{ points: number }>('GET', `/users/${user.body.id}`)).body.points, 15);
    const feed = await api<{
      items: { task_id: number; post_content: string; image_url: string }[];
    }>('GET', `/feed?user_id=${user.body.id}`);
    assert.equal(feed.body.items.length, 1);
    assert.equal(feed.body.items[0]?.task_id, task.body.id);
    assert.equal(feed.body.items[0]?.post_content, 'Done!');
    const [reply] = await outboxFor(phone);
    assert.equal(reply?.outbox, true);

    // The same photo again, for the next task: refused as proof, and the CLI says why.
    await api('POST', '/tasks', {
      user_id: user.body.id,
      description: 'Stretch',
      due_time: new Date(Date.now() + 3_600_000).toISOString(),
    });
    const again = await runCliToExit(['simulate', '--from', phone, '--image', photo, 'Again'], env);
    assert.equal(again.code, 0, `${again.stdout}\n${again.stderr}`);
    assert.match(again.stdout, /· No task completed; Ada has 15 points/);
    assert.match(
      again.stdout,
      /· Not counted as proof: Same photo as the proof of task #\d+ "Go for a run"/,
    );
  });

  test('taskwire simulate explains what is wrong: no service running, a webhook signed with another token', async () => {
    const settings = {
      DATA_DIR: t.dataDir,
      API_TOKEN: t.env.API_TOKEN as string,
      TWILIO_AUTH_TOKEN: t.env.TWILIO_AUTH_TOKEN as string,
    };
    const [notRunning, wrongToken] = await Promise.all([
      freePort().then((port) =>
        runCliToExit(
          ['simulate', '--from', '+15550100004', 'hi'],
          cleanEnv({ ...settings, PORT: String(port) }),
        ),
      ),
      runCliToExit(
        ['simulate', '--from', '+15550100005', 'hi'],
        cleanEnv({
          ...settings,
          PORT: t.env.PORT as string,
          TWILIO_AUTH_TOKEN: randomBytes(16).toString('hex'),
        }),
      ),
    ]);
    assert.equal(notRunning.code, 1);
    assert.match(notRunning.stdout, /No Taskwire service answers at http:\/\/127\.0\.0\.1:\d+/);
    assert.match(notRunning.stdout, /Start it in another terminal with `npm start`/);
    assert.equal(wrongToken.code, 1);
    assert.match(wrongToken.stdout, /refused the signature \(403\)/);
  });
});

describe('with a real Twilio account configured', () => {
  test('there is no media stand-in', async () => {
    const t = await createTestApp(pglite);
    try {
      const upload = await t.app.inject({
        method: 'POST',
        url: '/simulator/media',
        headers: { ...t.auth, 'content-type': 'image/png' },
        payload: makePng(8, 8),
      });
      assert.equal(upload.statusCode, 404);
    } finally {
      await t.close();
    }
  });
});
