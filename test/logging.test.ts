import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../src/start/logger.js';
import { type FakeTwilio, startFakeTwilio } from './fakes/fake-twilio.js';
import { makeTempDir } from './helpers/databases.js';
import { type CliProcess, startServe, waitReady } from './helpers/processes.js';
import {
  TEST_API_TOKEN,
  TEST_AUTH_TOKEN,
  signedForm,
  whatsAppParams,
} from './helpers/twilio-webhook.js';
import { waitFor } from './helpers/worker.js';

describe('the logger', () => {
  const capture = () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    return { log: createLogger('debug', stream), lines };
  };

  test('masks phone numbers in messages, fields and serialized errors, keeping SIDs readable', () => {
    const { log, lines } = capture();
    const error = Object.assign(new Error('Twilio 400: +15550001234 is not a WhatsApp number'), {
      detail: 'Key (phone_number)=(+15550001234) already exists.',
    });
    log.warn({ err: error, to: 'whatsapp:+15550001234', sid: 'MM1234567890abcdef' }, 'failed');
    log.info('sending to %s', '+15550001234');
    log.error(error);
    log.info(
      { path: '/messages', query: 'from_number=%2B15550001234', nested: ['15550001234'] },
      'x',
    );
    const text = lines.join('\n');
    assert.doesNotMatch(text, /5550001234/);
    assert.match(text, /\+\*{9}34/);
    assert.match(text, /"sid":"MM1234567890abcdef"/);
    assert.match(text, /already exists/);
  });
});

describe('the logs of a running service (LOG_LEVEL=debug)', () => {
  let twilio: FakeTwilio;
  let serve: CliProcess;
  let baseUrl: string;
  const temp = makeTempDir('taskwire-logs-');
  const GROUP = '+14155238886';
  const phones = {
    photo: '+15550142001',
    badReply: '+15550142002',
    brokenMedia: '+15550142003',
    filtered: '+15550142004',
    forged: '+15550142005',
    sent: '+15550142006',
  };

  before(async () => {
    twilio = await startFakeTwilio();
    ({ process: serve, baseUrl } = await startServe(twilio, {
      DATA_DIR: temp.dir,
      LOG_LEVEL: 'debug',
      TWILIO_WHATSAPP_NUMBER: GROUP,
      WORKER_POLL_MS: '100',
      WORKER_BACKOFF_MS: '50',
      WORKER_MAX_ATTEMPTS: '2',
      MEDIA_TIMEOUT_MS: '500',
    }));
    await waitReady(baseUrl, serve);
  });
  after(async () => {
    serve?.kill('SIGKILL');
    await serve?.exited;
    await twilio?.close();
    temp.remove();
  });

  const auth = { authorization: `Bearer ${TEST_API_TOKEN}` };
  const api = async <T = Record<string, unknown>>(method: string, path: string, body?: unknown) => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { ...auth, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: response.status, body: (await response.json()) as T };
  };
  const deliver = (params: Record<string, string>) => {
    const url = `${baseUrl}/webhook/twilio`;
    const { payload, headers } = signedForm(url, params);
    return fetch(url, { method: 'POST', body: payload, headers });
  };
  const message = (sid: string) =>
    api<{ processing_status: string }>('GET', `/messages/${sid}`).then((r) => r.body);

  test('carry request ids, and neither a token nor any full phone number', async () => {
    // A user, a task, and a duplicate of the user (409).
    const user = await api<{ id: number }>('POST', '/users', {
      username: 'Ada',
      phone_number: phones.photo,
    });
    assert.equal(user.status, 201);
    assert.equal(
      (await api('POST', '/users', { username: 'Ada 2', phone_number: phones.photo })).status,
      409,
    );
    await api('POST', '/tasks', {
      // These tests count the replies: no assignment notice for an admin's task.
      notify: false,
      user_id: user.body.id,
      description: 'Run',
      due_time: new Date(Date.now() + 3_600_000).toISOString(),
    });

    // A photo that completes the task.
    const photo = twilio.addMedia({ bytes: randomBytes(2048), contentType: 'image/jpeg' });
    const photoParams = whatsAppParams({
      from: phones.photo,
      to: GROUP,
      messageSid: photo.messageSid,
      media: [{ url: photo.url, contentType: 'image/jpeg' }],
    });
    assert.equal((await deliver(photoParams)).status, 200);

    // A reply Twilio refuses, quoting the number; then a photo Twilio never serves.
    twilio.failNext(1, {
      status: 400,
      code: 21211,
      message: `The 'To' number whatsapp:${phones.badReply} is not a valid phone number.`,
    });
    const text = whatsAppParams({ from: phones.badReply, to: GROUP, body: 'hello' });
    assert.equal((await deliver(text)).status, 200);
    await waitFor(async () => twilio.messageRequests.length >= 1, 15_000);
    const broken = twilio.addMedia({
      bytes: randomBytes(512),
      contentType: 'image/jpeg',
      failFirst: 1000,
      failStatus: 500,
    });
    const brokenParams = whatsAppParams({
      from: phones.brokenMedia,
      to: GROUP,
      messageSid: broken.messageSid,
      media: [{ url: broken.url, contentType: 'image/jpeg' }],
    });
    assert.equal((await deliver(brokenParams)).status, 200);

    // The admin API with phone numbers in queries, paths and bodies, a bad token, a forged webhook.
    for (const from of [phones.filtered, `whatsapp:${phones.filtered}`]) {
      const query = new URLSearchParams({ from_number: from });
      assert.equal((await api('GET', `/messages?${query}`)).status, 200);
    }
    assert.equal((await api('GET', `/messages/${phones.filtered}`)).status, 404);
    assert.equal(
      (await api('POST', '/messages/send', { to: phones.sent, body: 'Hi' })).status,
      202,
    );
    const badToken = await fetch(`${baseUrl}/users`, {
      headers: { authorization: 'Bearer wrong-token-0123456789' },
    });
    assert.equal(badToken.status, 401);
    const forged = await fetch(`${baseUrl}/webhook/twilio`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'x' },
      body: new URLSearchParams(whatsAppParams({ from: phones.forged })).toString(),
    });
    assert.equal(forged.status, 403);
    const metrics = await fetch(`${baseUrl}/metrics`, { headers: auth });
    assert.equal(metrics.status, 200);

    // Everything has run its course: the photo processed, both failures final.
    await waitFor(async () => (await message(photo.messageSid)).processing_status === 'processed');
    await waitFor(
      async () => (await message(broken.messageSid)).processing_status === 'failed',
      20_000,
    );
    await waitFor(async () => {
      const page = await api<{ items: { to_number: string; status: string }[] }>(
        'GET',
        '/outbound?limit=100',
      );
      return page.body.items.some(
        (o) => o.to_number === `whatsapp:${phones.badReply}` && o.status === 'failed',
      );
    });

    serve.kill('SIGTERM');
    assert.equal(await serve.exited, 0);
    const stdout = serve.stdout();
    const everything = `${stdout}\n${serve.stderr()}`;

    // One JSON object a line; every request line has its request id.
    const records = stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const requestLines = records.filter((r) => r.msg === 'request');
    assert.ok(requestLines.length >= 8, `request lines: ${requestLines.length}`);
    for (const line of requestLines) assert.match(String(line.reqId), /^[0-9a-f-]{36}$/);
    assert.ok(
      requestLines.some((r) => r.path === '/messages/+*********04' && r.status === 404),
      'the phone number in a path is masked',
    );
    assert.ok(
      records.some((r) => r.msg === 'message processing failed for good'),
      'worker failures are logged',
    );
    assert.ok(
      records.some((r) => r.level === 20 || r.level === 30),
      'debug/info lines exist',
    );

    // Never a secret, never a full number.
    assert.equal(everything.includes(TEST_API_TOKEN), false, 'the API token is not logged');
    assert.equal(
      everything.includes(TEST_AUTH_TOKEN),
      false,
      'the Twilio auth token is not logged',
    );
    for (const phone of Object.values(phones)) {
      assert.equal(everything.includes(phone.slice(2)), false, `${phone} appears in the logs`);
    }
  });
});
