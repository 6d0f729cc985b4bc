import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import twilio from 'twilio';
import { startFakeTwilio, type FakeTwilio } from './fakes/fake-twilio.js';
import {
  createMessage,
  listMessages,
  mediaResource,
  messageResource,
  type ResourceFacts,
} from './fixtures/twilio-messages-api.js';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('fake Twilio', () => {
  let fake: FakeTwilio;
  before(async () => {
    fake = await startFakeTwilio();
  });
  after(async () => fake?.close());

  const sdk = (authToken = fake.authToken) => {
    const client = twilio(fake.accountSid, authToken);
    client.api.baseUrl = fake.apiBaseUrl;
    return client;
  };
  const auth = () => ({ authorization: basic(fake.accountSid, fake.authToken) });
  const messagesUrl = () =>
    `${fake.apiBaseUrl}/2010-04-01/Accounts/${fake.accountSid}/Messages.json`;
  const postForm = (
    form: Record<string, string>,
    authorization = basic(fake.accountSid, fake.authToken),
  ) =>
    fetch(messagesUrl(), {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form),
    });

  describe('POST Messages.json', () => {
    test('the official twilio SDK creates a WhatsApp message against it', async () => {
      const before = fake.messageRequests.length;

      const message = await sdk().messages.create({
        to: 'whatsapp:+15550001111',
        from: 'whatsapp:+14155238886',
        body: 'Proof received 💪',
        mediaUrl: ['https://example.com/a.jpg', 'https://example.com/b.jpg'],
        statusCallback: 'https://taskwire.example/webhook/status',
      });

      assert.match(message.sid, /^SM[0-9a-f]{32}$/);
      assert.equal(message.status, 'queued');
      assert.equal(message.numMedia, '2');
      assert.equal(message.accountSid, fake.accountSid);
      assert.equal(message.to, 'whatsapp:+15550001111');
      const recorded = fake.messageRequests[before];
      assert.ok(recorded);
      assert.equal(fake.messageRequests.length, before + 1);
      assert.equal(recorded.status, 201);
      assert.equal(recorded.sid, message.sid);
      assert.equal(recorded.params.To, 'whatsapp:+15550001111');
      assert.equal(recorded.params.From, 'whatsapp:+14155238886');
      assert.equal(recorded.params.Body, 'Proof received 💪');
      assert.equal(recorded.params.StatusCallback, 'https://taskwire.example/webhook/status');
      assert.deepEqual(recorded.mediaUrls, [
        'https://example.com/a.jpg',
        'https://example.com/b.jpg',
      ]);
      assert.match(recorded.headers['content-type'] ?? '', /^application\/x-www-form-urlencoded/);
      assert.equal(recorded.headers.authorization, basic(fake.accountSid, fake.authToken));
      assert.ok(fake.messages.has(message.sid));
    });

    test('a template through a Messaging Service is accepted with ContentSid and ContentVariables', async () => {
      const service = `MG${randomBytes(16).toString('hex')}`;
      const content = `HX${randomBytes(16).toString('hex')}`;

      const message = await sdk().messages.create({
        to: 'whatsapp:+15550001111',
        messagingServiceSid: service,
        contentSid: content,
        contentVariables: JSON.stringify({ 1: 'Ada' }),
      });

      assert.equal(message.status, 'accepted');
      assert.equal(message.messagingServiceSid, service);
      const recorded = fake.messageRequests.at(-1);
      assert.equal(recorded?.params.ContentSid, content);
      assert.equal(recorded?.params.ContentVariables, '{"1":"Ada"}');
    });

    test('a created message can be fetched back as Twilio would', async () => {
      const created = await sdk().messages.create({
        to: '+15550001111',
        from: '+15550002222',
        body: 'hi',
      });
      const fetched = await sdk().messages(created.sid).fetch();
      assert.equal(fetched.sid, created.sid);
      assert.equal(fetched.body, 'hi');
    });

    test('missing or wrong credentials get 401 with Twilio error 20003', async () => {
      for (const authorization of ['', basic(fake.accountSid, 'wrong-token'), 'Bearer x']) {
        const response = await postForm(
          { To: '+15550001111', From: '+15550002222', Body: 'x' },
          authorization,
        );
        assert.equal(response.status, 401);
        assert.match(response.headers.get('www-authenticate') ?? '', /^Basic /);
        assert.deepEqual(await response.json(), {
          code: 20003,
          message: 'Authenticate',
          more_info: 'https://www.twilio.com/docs/errors/20003',
          status: 401,
        });
      }

      const error = await sdk('wrong-token')
        .messages.create({ to: '+15550001111', from: '+15550002222', body: 'x' })
        .then(
          () => null,
          (e: unknown) => e as { status?: number; code?: number },
        );
      assert.equal(error?.status, 401);
      assert.equal(error?.code, 20003);
    });

    test('required parameters are checked with Twilio’s error codes', async () => {
      const cases: [Record<string, string>, number][] = [
        [{ From: '+15550002222', Body: 'x' }, 21604],
        [{ To: '+15550001111', Body: 'x' }, 21603],
        [{ To: '+15550001111', From: '+15550002222' }, 21619],
        [{ To: '+15550001111', From: '+15550002222', Body: 'x'.repeat(1601) }, 21617],
      ];
      for (const [form, code] of cases) {
        const response = await postForm(form);
        assert.equal(response.status, 400);
        assert.equal(((await response.json()) as { code: number }).code, code);
      }
    });

    test('failNext injects errors the SDK reports as Twilio errors, then recovers', async () => {
      fake.failNext(1, {
        status: 400,
        code: 21211,
        message: "The 'To' number is not a valid phone number.",
      });
      fake.failNext(2, { status: 429, code: 20429 });
      fake.failNext(1, { status: 500, code: 20500 });
      fake.failNext(1, {
        status: 400,
        code: 63016,
        message: 'Failed to send freeform message outside the window',
      });
      const send = () =>
        sdk()
          .messages.create({
            to: 'whatsapp:+15550001111',
            from: 'whatsapp:+14155238886',
            body: 'x',
          })
          .then(
            (m) => ({ ok: m.sid }),
            (e: { status: number; code: number; moreInfo: string }) => [
              e.status,
              e.code,
              e.moreInfo,
            ],
          );

      const outcomes = [];
      for (let i = 0; i < 6; i += 1) outcomes.push(await send());

      assert.deepEqual(outcomes.slice(0, 5), [
        [400, 21211, 'https://www.twilio.com/docs/errors/21211'],
        [429, 20429, 'https://www.twilio.com/docs/errors/20429'],
        [429, 20429, 'https://www.twilio.com/docs/errors/20429'],
        [500, 20500, 'https://www.twilio.com/docs/errors/20500'],
        [400, 63016, 'https://www.twilio.com/docs/errors/63016'],
      ]);
      assert.ok('ok' in (outcomes[5] as object));
      assert.deepEqual(
        fake.messageRequests.slice(-6).map((r) => r.status),
        [400, 429, 429, 500, 400, 201],
      );
    });
  });

  describe('media', () => {
    test('the MediaUrl needs credentials and redirects to a CDN on another origin', async () => {
      const bytes = randomBytes(2048);
      const media = fake.addMedia({ bytes, contentType: 'image/jpeg' });

      const anonymous = await fetch(media.url, { redirect: 'manual' });
      assert.equal(anonymous.status, 401);
      assert.equal(((await anonymous.json()) as { code: number }).code, 20003);

      const redirect = await fetch(media.url, { headers: auth(), redirect: 'manual' });
      assert.equal(redirect.status, 307);
      const location = new URL(redirect.headers.get('location') ?? '');
      assert.equal(location.origin, fake.cdnBaseUrl);
      assert.notEqual(location.origin, fake.apiBaseUrl);

      const served = await fetch(location);
      assert.equal(served.status, 200);
      assert.equal(served.headers.get('content-type'), 'image/jpeg');
      assert.equal(served.headers.get('content-length'), String(bytes.length));
      assert.ok(Buffer.from(await served.arrayBuffer()).equals(bytes));
      assert.equal(media.apiRequests, 2);
      assert.equal(media.cdnRequests, 1);
      assert.equal(media.cdnAuthorizationSeen, false);
    });

    test('the CDN rejects a request that carries Authorization, as S3 does, and records it', async () => {
      const media = fake.addMedia({ bytes: randomBytes(10), contentType: 'image/png' });
      const redirect = await fetch(media.url, { headers: auth(), redirect: 'manual' });

      const served = await fetch(redirect.headers.get('location') ?? '', { headers: auth() });

      assert.equal(served.status, 400);
      assert.match(await served.text(), /Only one auth mechanism allowed/);
      assert.equal(media.cdnAuthorizationSeen, true);
    });

    test('the .json form is the Media resource; DELETE removes it', async () => {
      const media = fake.addMedia({ bytes: randomBytes(10), contentType: 'image/png' });

      const resource = await fetch(`${media.url}.json`, { headers: auth() });
      assert.equal(resource.status, 200);
      const json = (await resource.json()) as Record<string, unknown>;
      assert.equal(json.sid, media.sid);
      assert.equal(json.parent_sid, media.messageSid);
      assert.equal(json.content_type, 'image/png');
      assert.equal(json.uri, `${new URL(media.url).pathname}.json`);

      const deleted = await fetch(media.url, { method: 'DELETE', headers: auth() });
      assert.equal(deleted.status, 204);
      assert.deepEqual(fake.mediaDeletes.slice(-1), [media.sid]);
      const gone = await fetch(media.url, { headers: auth(), redirect: 'manual' });
      assert.equal(gone.status, 404);
      assert.equal(((await gone.json()) as { code: number }).code, 20404);
    });

    test('failFirst answers the first requests with the chosen status', async () => {
      const media = fake.addMedia({
        bytes: randomBytes(10),
        contentType: 'image/png',
        failFirst: 1,
        failStatus: 500,
      });
      const first = await fetch(media.url, { headers: auth(), redirect: 'manual' });
      const second = await fetch(media.url, { headers: auth(), redirect: 'manual' });
      assert.equal(first.status, 500);
      assert.equal(((await first.json()) as { code: number }).code, 20500);
      assert.equal(second.status, 307);
    });

    test('lieAboutLength sends the body chunked with no Content-Length', async () => {
      const bytes = randomBytes(100_000);
      const media = fake.addMedia({ bytes, contentType: 'image/jpeg', lieAboutLength: true });

      const served = await fetch(media.url, { headers: auth(), redirect: 'manual' }).then((r) =>
        fetch(r.headers.get('location') ?? ''),
      );

      assert.equal(served.headers.get('content-length'), null);
      assert.equal(served.headers.get('transfer-encoding'), 'chunked');
      assert.ok(Buffer.from(await served.arrayBuffer()).equals(bytes));
    });
  });

  // Twilio's API as written down in test/fixtures/twilio-messages-api.ts, which
  // test/twilio-messages-api.test.ts checks against Twilio's own OpenAPI document.
  describe("follows Twilio's published Messages API", () => {
    const assertFollowsSchema = (value: Record<string, unknown>, facts: ResourceFacts) => {
      assert.deepEqual(Object.keys(value).sort(), [...facts.fields].sort());
      for (const [name, pattern] of Object.entries(facts.patterns)) {
        if (value[name] !== null) assert.match(String(value[name]), new RegExp(pattern), name);
      }
      for (const [name, values] of Object.entries(facts.enums)) {
        assert.ok(values.includes(String(value[name])), `${name}: ${String(value[name])}`);
      }
    };

    test('a created Message has exactly the fields, patterns and enums of the schema', async () => {
      const response = await postForm({
        To: 'whatsapp:+15550001111',
        From: 'whatsapp:+14155238886',
        Body: 'x',
        MediaUrl: 'https://example.com/a.jpg',
      });
      assert.equal(response.status, 201);
      assertFollowsSchema((await response.json()) as Record<string, unknown>, messageResource);
    });

    test('GET Messages.json: a page of the schema, newest first, filtered by To and From', async () => {
      const to = `whatsapp:+1555000${String(Date.now() % 10000).padStart(4, '0')}`;
      const from = 'whatsapp:+14155238886';
      const created = [];
      for (const body of ['first', 'second', 'third']) {
        created.push(await sdk().messages.create({ to, from, body }));
      }
      await sdk().messages.create({ to: 'whatsapp:+15550009999', from, body: 'elsewhere' });
      const response = await fetch(
        `${messagesUrl()}?${new URLSearchParams({ To: to, From: from, PageSize: '2' })}`,
        { headers: auth() },
      );
      assert.equal(response.status, 200);
      const page = (await response.json()) as Record<string, unknown>;
      assert.deepEqual(Object.keys(page).sort(), [...listMessages.pageFields].sort());
      const messages = page.messages as Record<string, unknown>[];
      assert.deepEqual(
        messages.map((m) => m.body),
        ['third', 'second'],
      );
      for (const message of messages) assertFollowsSchema(message, messageResource);
      // The SDK reads the same page.
      const viaSdk = await sdk().messages.page({ to, from, pageSize: 50 });
      assert.deepEqual(
        viaSdk.instances.map((m) => m.sid),
        created.map((m) => m.sid).reverse(),
      );
    });

    test('a Media resource has exactly the fields and patterns of the schema', async () => {
      const media = fake.addMedia({ bytes: randomBytes(10), contentType: 'image/jpeg' });
      const response = await fetch(`${media.url}.json`, { headers: auth() });
      assertFollowsSchema((await response.json()) as Record<string, unknown>, mediaResource);
    });

    test('every parameter the SDK sent it is one Twilio defines, the required ones included', async () => {
      await sdk().messages.create({
        to: 'whatsapp:+15550001111',
        from: 'whatsapp:+14155238886',
        body: 'x',
        mediaUrl: ['https://example.com/a.jpg'],
        statusCallback: 'https://taskwire.example/webhook/status',
      });
      const defined = new Set<string>(createMessage.parameters);
      assert.ok(fake.messageRequests.length > 0);
      for (const request of fake.messageRequests) {
        const names = [...new Set(request.form.keys())];
        assert.deepEqual(
          names.filter((name) => !defined.has(name)),
          [],
          `request ${request.sid ?? ''}`,
        );
        if (request.status === 201) {
          for (const name of createMessage.required) assert.ok(names.includes(name), name);
        }
      }
    });
  });
});
