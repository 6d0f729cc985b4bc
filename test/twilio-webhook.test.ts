import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { findMessageBySid } from '../src/db/messages.js';
import { listenWhileStarting } from '../src/start/starting-server.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { engines, pglite } from './helpers/databases.js';
import { freePort } from './helpers/service.js';
import {
  TEST_AUTH_TOKEN,
  newMessageSid,
  signedForm,
  whatsAppParams,
} from './helpers/twilio-webhook.js';

const LOCAL_URL = 'http://localhost/webhook/twilio';

for (const engine of engines) {
  describe(`POST /webhook/twilio [${engine.name}]`, { skip: engine.skip }, () => {
    let t: TestApp;
    before(async () => {
      t = await createTestApp(engine);
    });
    after(async () => t?.close());

    const post = (params: Record<string, string>, signUrl = LOCAL_URL, token = TEST_AUTH_TOKEN) =>
      t.app.inject({
        method: 'POST',
        url: '/webhook/twilio',
        ...signedForm(signUrl, params, token),
      });

    const countMessages = async (sid: string) =>
      (
        await t.database.db.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM messages WHERE message_sid = $1',
          [sid],
        )
      )[0]?.n;

    test('a signed WhatsApp message is stored as Twilio sent it and answered with empty TwiML', async () => {
      const params = whatsAppParams({
        from: '+15550001111',
        body: 'Gym done 💪',
        media: [
          {
            url: 'https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1',
            contentType: 'image/jpeg',
          },
          {
            url: 'https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME2',
            contentType: 'image/png',
          },
        ],
        extra: { SomeFutureParameter: 'kept' },
      });
      const response = await post(params);
      assert.equal(response.statusCode, 200);
      assert.match(response.headers['content-type'] as string, /^text\/xml/);
      assert.equal(response.body, '<?xml version="1.0" encoding="UTF-8"?><Response/>');

      const row = await findMessageBySid(t.database.db, params.MessageSid as string);
      assert.ok(row);
      assert.equal(row.from_number, 'whatsapp:+15550001111');
      assert.equal(row.to_number, 'whatsapp:+14155238886');
      assert.equal(row.sender, '+15550001111');
      assert.equal(row.body, 'Gym done 💪');
      assert.equal(row.num_media, 2);
      assert.deepEqual(row.media_items, [
        { url: params.MediaUrl0, content_type: 'image/jpeg' },
        { url: params.MediaUrl1, content_type: 'image/png' },
      ]);
      assert.equal(row.processed, false);
      assert.deepEqual(row.storage_urls, []);
      assert.equal(row.processing_status, 'pending');
      assert.equal(row.raw.SomeFutureParameter, 'kept');
      assert.equal(row.raw.ProfileName, 'Ada');
    });

    test('an SMS (no whatsapp: prefix) is stored too', async () => {
      const params = whatsAppParams({ from: '+15550002222' });
      params.From = '+15550002222';
      params.To = '+15557654321';
      const response = await post(params);
      assert.equal(response.statusCode, 200);
      const row = await findMessageBySid(t.database.db, params.MessageSid as string);
      assert.equal(row?.from_number, '+15550002222');
      assert.equal(row?.sender, '+15550002222');
    });

    test('missing, forged, tampered and other-token signatures are refused with 403 and nothing is stored', async () => {
      const cases: {
        name: string;
        inject: () => Promise<{ statusCode: number; json(): unknown }>;
        sid: string;
      }[] = [];
      const missing = whatsAppParams();
      cases.push({
        name: 'missing',
        sid: missing.MessageSid as string,
        inject: () =>
          t.app.inject({
            method: 'POST',
            url: '/webhook/twilio',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            payload: new URLSearchParams(missing).toString(),
          }),
      });
      const forged = whatsAppParams();
      cases.push({
        name: 'forged',
        sid: forged.MessageSid as string,
        inject: () =>
          t.app.inject({
            method: 'POST',
            url: '/webhook/twilio',
            headers: {
              'content-type': 'application/x-www-form-urlencoded',
              'x-twilio-signature': 'bm90IGEgc2lnbmF0dXJl',
            },
            payload: new URLSearchParams(forged).toString(),
          }),
      });
      const tampered = whatsAppParams({ body: 'original' });
      cases.push({
        name: 'tampered',
        sid: tampered.MessageSid as string,
        inject: () => {
          const signed = signedForm(LOCAL_URL, tampered);
          return t.app.inject({
            method: 'POST',
            url: '/webhook/twilio',
            headers: signed.headers,
            payload: new URLSearchParams({ ...tampered, Body: 'tampered' }).toString(),
          });
        },
      });
      const otherToken = whatsAppParams();
      cases.push({
        name: 'other token',
        sid: otherToken.MessageSid as string,
        inject: () => post(otherToken, LOCAL_URL, 'some-other-accounts-auth-token'),
      });
      const otherUrl = whatsAppParams();
      cases.push({
        name: 'signed for another URL',
        sid: otherUrl.MessageSid as string,
        inject: () => post(otherUrl, 'https://evil.example.com/webhook/twilio'),
      });
      for (const c of cases) {
        const response = await c.inject();
        assert.equal(response.statusCode, 403, c.name);
        const body = response.json() as { error: { code: string; message: string } };
        assert.equal(body.error.code, 'invalid_signature', c.name);
        assert.ok(body.error.message.length > 10, c.name);
        assert.equal(await countMessages(c.sid), 0, c.name);
      }
    });

    test('11 serial and 11 concurrent deliveries of one MessageSid store one row', async () => {
      const serial = whatsAppParams();
      for (let i = 0; i < 11; i += 1) {
        assert.equal((await post(serial)).statusCode, 200);
      }
      assert.equal(await countMessages(serial.MessageSid as string), 1);

      const concurrent = whatsAppParams();
      const responses = await Promise.all(Array.from({ length: 11 }, () => post(concurrent)));
      assert.deepEqual(
        responses.map((r) => r.statusCode),
        Array(11).fill(200),
      );
      assert.equal(await countMessages(concurrent.MessageSid as string), 1);
    });

    test('a re-delivery changes nothing, even with different content', async () => {
      const first = whatsAppParams({ body: 'first' });
      await post(first);
      await post({ ...first, Body: 'second' });
      const row = await findMessageBySid(t.database.db, first.MessageSid as string);
      assert.equal(row?.body, 'first');
    });

    test('many different messages at once are all stored', async () => {
      const batch = Array.from({ length: 60 }, (_, i) => whatsAppParams({ body: `m${i}` }));
      const responses = await Promise.all(batch.map((params) => post(params)));
      assert.ok(responses.every((r) => r.statusCode === 200));
      const rows = await t.database.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM messages WHERE message_sid = ANY($1::text[])',
        [batch.map((p) => p.MessageSid)],
      );
      assert.equal(rows[0]?.n, 60);
    });

    test('a signed post without MessageSid is a 400 that names the missing parameter', async () => {
      const params = whatsAppParams();
      delete params.MessageSid;
      delete params.SmsMessageSid;
      const response = await post(params);
      assert.equal(response.statusCode, 400);
      assert.match((response.json() as { error: { message: string } }).error.message, /MessageSid/);
    });

    test('a body over 1 MiB is 413 and a JSON body is 415, both with the error body', async () => {
      const huge = whatsAppParams({ body: 'x'.repeat(1024 * 1024 + 10) });
      const tooLarge = await post(huge);
      assert.equal(tooLarge.statusCode, 413);
      assert.equal(
        (tooLarge.json() as { error: { code: string } }).error.code,
        'payload_too_large',
      );
      assert.equal(await countMessages(huge.MessageSid as string), 0);

      const json = await t.app.inject({
        method: 'POST',
        url: '/webhook/twilio',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify(whatsAppParams()),
      });
      assert.equal(json.statusCode, 415);
      assert.equal(
        (json.json() as { error: { code: string } }).error.code,
        'unsupported_media_type',
      );
    });

    test('repeated form keys are kept and still verify', async () => {
      const params = whatsAppParams();
      const url = LOCAL_URL;
      // Twilio signs a repeated key with each value appended, values sorted.
      const { getExpectedTwilioSignature } = await import('twilio/lib/webhooks/webhooks.js');
      const withArray = { ...params, Tag: ['b', 'a'] } as unknown as Record<string, string>;
      const signature = getExpectedTwilioSignature(TEST_AUTH_TOKEN, url, withArray);
      const body = `${new URLSearchParams(params).toString()}&Tag=b&Tag=a`;
      const response = await t.app.inject({
        method: 'POST',
        url: '/webhook/twilio',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-twilio-signature': signature,
        },
        payload: body,
      });
      assert.equal(response.statusCode, 200);
      const row = await findMessageBySid(t.database.db, params.MessageSid as string);
      assert.deepEqual(row?.raw.Tag, ['b', 'a']);
    });
  });
}

describe('signature URL behind a proxy', () => {
  const engine = engines[0]!;

  test('with PUBLIC_URL, the signature is checked against PUBLIC_URL + path + query', async () => {
    const t = await createTestApp(engine, { publicUrl: 'https://taskwire.example.com' });
    try {
      const params = whatsAppParams();
      const good = await t.app.inject({
        method: 'POST',
        url: '/webhook/twilio?group=7',
        ...signedForm('https://taskwire.example.com/webhook/twilio?group=7', params),
      });
      assert.equal(good.statusCode, 200);
      const local = whatsAppParams();
      const bad = await t.app.inject({
        method: 'POST',
        url: '/webhook/twilio',
        ...signedForm('http://localhost/webhook/twilio', local),
      });
      assert.equal(bad.statusCode, 403);
      assert.match(
        (bad.json() as { error: { message: string } }).error.message,
        /taskwire\.example\.com/,
      );
    } finally {
      await t.close();
    }
  });

  test("without PUBLIC_URL, a trusted proxy's X-Forwarded-Proto and X-Forwarded-Host give the URL Twilio called", async () => {
    const t = await createTestApp(engine, { trustProxy: ['127.0.0.1'] });
    try {
      const params = whatsAppParams();
      const signed = signedForm('https://app.up.railway.app/webhook/twilio', params);
      const response = await t.app.inject({
        method: 'POST',
        url: '/webhook/twilio',
        headers: {
          ...signed.headers,
          host: '10.0.0.5:8080',
          'x-forwarded-proto': 'https',
          'x-forwarded-host': 'app.up.railway.app',
        },
        payload: signed.payload,
      });
      assert.equal(response.statusCode, 200);
      const unsigned = whatsAppParams();
      const wrongHost = await t.app.inject({
        method: 'POST',
        url: '/webhook/twilio',
        headers: {
          ...signedForm('https://app.up.railway.app/webhook/twilio', unsigned).headers,
          host: '10.0.0.5:8080',
        },
        payload: new URLSearchParams(unsigned).toString(),
      });
      assert.equal(wrongHost.statusCode, 403);
    } finally {
      await t.close();
    }
  });
});

test('newMessageSid is shaped like a Twilio sid', () => {
  assert.match(newMessageSid(), /^SM[0-9a-f]{32}$/);
});

describe('while the service is starting', () => {
  test('a webhook is answered 503 with the error body, so Twilio retries it; /health is 200, /ready and data routes 503', async () => {
    const port = await freePort();
    const server = await listenWhileStarting({ host: '127.0.0.1', port });
    try {
      const base = `http://127.0.0.1:${port}`;
      const params = whatsAppParams({ body: 'too early' });
      const form = signedForm(`${base}/webhook/twilio`, params);
      const webhook = await fetch(`${base}/webhook/twilio`, {
        method: 'POST',
        headers: form.headers,
        body: form.payload,
      });
      assert.equal(webhook.status, 503);
      const body = (await webhook.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'service_unavailable');
      assert.match(body.error.message, /starting/);

      assert.equal((await fetch(`${base}/health`)).status, 200);
      assert.deepEqual(await (await fetch(`${base}/health`)).json(), { status: 'ok' });
      assert.equal((await fetch(`${base}/ready`)).status, 503);
      assert.equal((await fetch(`${base}/messages`)).status, 503);
    } finally {
      await server.close();
    }
  });

  test('once handed the app, the same port serves it: the webhook is stored', async () => {
    const t = await createTestApp(pglite);
    const port = await freePort();
    const server = await listenWhileStarting({ host: '127.0.0.1', port });
    try {
      await t.app.ready();
      server.serve(t.app);
      const url = `http://127.0.0.1:${port}/webhook/twilio`;
      const params = whatsAppParams({ body: 'just in time' });
      const form = signedForm(url, params);
      const response = await fetch(url, {
        method: 'POST',
        headers: form.headers,
        body: form.payload,
      });
      assert.equal(response.status, 200);
      assert.ok(await findMessageBySid(t.database.db, params.MessageSid ?? ''));
    } finally {
      await server.close();
      await t.close();
    }
  });
});
