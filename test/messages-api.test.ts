import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/databases.js';
import type { ErrorBody } from './helpers/errors.js';
import { signedForm, whatsAppParams } from './helpers/twilio-webhook.js';

const LOCAL_URL = 'http://localhost/webhook/twilio';
const ADA = '+15550001001';
const BOB = '+15550002002';

interface MessageBody {
  id: number;
  message_sid: string;
  from_number: string;
  to_number: string;
  body: string;
  num_media: number;
  media_items: { url: string; content_type: string }[];
  created_at: string;
  processed: boolean;
  storage_urls: string[];
}
interface PageBody {
  items: MessageBody[];
  total: number;
  limit: number;
  offset: number;
}

const GUIDE_COLUMNS = [
  'id',
  'message_sid',
  'from_number',
  'to_number',
  'body',
  'num_media',
  'media_items',
  'created_at',
  'processed',
  'storage_urls',
];

for (const engine of engines) {
  describe(`messages API [${engine.name}]`, { skip: engine.skip }, () => {
    let t: TestApp;
    /** Bodies in the order they were received (oldest first). */
    const sent: { sid: string; body: string; from: string }[] = [];

    const get = (url: string, headers: Record<string, string> = t.auth) =>
      t.app.inject({ method: 'GET', url, headers });

    before(async () => {
      t = await createTestApp(engine);
      // 12 from Ada (one with a photo), 3 from Bob, interleaved, posted one after another
      // so that the order of ids is the order of arrival.
      for (let i = 0; i < 15; i += 1) {
        const from = i % 5 === 4 ? BOB : ADA;
        const params = whatsAppParams({
          from,
          body: `message ${i}`,
          media:
            i === 0
              ? [
                  {
                    url: 'https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1',
                    contentType: 'image/jpeg',
                  },
                ]
              : [],
        });
        const response = await t.app.inject({
          method: 'POST',
          url: '/webhook/twilio',
          ...signedForm(LOCAL_URL, params),
        });
        assert.equal(response.statusCode, 200, response.body);
        sent.push({ sid: params.MessageSid as string, body: `message ${i}`, from });
      }
    });
    after(async () => t?.close());

    const newestFirst = () => [...sent].reverse().map((m) => m.body);

    test('GET /messages/ lists the newest 10 first, with total, limit and offset', async () => {
      const response = await get('/messages/');
      assert.equal(response.statusCode, 200, response.body);
      const page = response.json() as PageBody;
      assert.equal(page.total, 15);
      assert.equal(page.limit, 10);
      assert.equal(page.offset, 0);
      assert.deepEqual(
        page.items.map((m) => m.body),
        newestFirst().slice(0, 10),
      );
    });

    test('GET /messages (no trailing slash) answers the same page', async () => {
      const withSlash = await get('/messages/');
      const without = await get('/messages');
      assert.equal(without.statusCode, 200);
      assert.deepEqual(without.json(), withSlash.json());
    });

    test('limit and offset page through every message exactly once', async () => {
      const seen: string[] = [];
      for (let offset = 0; offset < 15; offset += 4) {
        const page = (await get(`/messages/?limit=4&offset=${offset}`)).json() as PageBody;
        assert.equal(page.total, 15);
        assert.equal(page.limit, 4);
        assert.equal(page.offset, offset);
        assert.equal(page.items.length, Math.min(4, 15 - offset));
        seen.push(...page.items.map((m) => m.body));
      }
      assert.deepEqual(seen, newestFirst());
    });

    test('an offset past the end gives no items but still the total', async () => {
      const page = (await get('/messages/?offset=50')).json() as PageBody;
      assert.deepEqual(page.items, []);
      assert.equal(page.total, 15);
    });

    test('limit=100 is accepted', async () => {
      const response = await get('/messages/?limit=100');
      assert.equal(response.statusCode, 200);
      const page = response.json() as PageBody;
      assert.equal(page.limit, 100);
      assert.equal(page.items.length, 15);
    });

    test('limit=101 is a 400 validation_failed that names limit', async () => {
      const response = await get('/messages/?limit=101');
      assert.equal(response.statusCode, 400);
      const body = response.json() as ErrorBody;
      assert.equal(body.error.code, 'validation_failed');
      assert.match(body.error.message, /limit/);
      assert.match(body.error.message, /100/);
    });

    test('limit=0, a non-integer limit and a negative offset are 400 naming the parameter', async () => {
      const cases: [string, RegExp][] = [
        ['limit=0', /limit/],
        ['limit=abc', /limit/],
        ['limit=2.5', /limit/],
        ['offset=-1', /offset/],
        ['offset=one', /offset/],
      ];
      for (const [query, field] of cases) {
        const response = await get(`/messages/?${query}`);
        assert.equal(response.statusCode, 400, query);
        const body = response.json() as ErrorBody;
        assert.equal(body.error.code, 'validation_failed', query);
        assert.match(body.error.message, field, query);
      }
    });

    test('from_number as whatsapp:+1555… or +1555… gives the same rows, only that sender', async () => {
      const adaBodies = sent
        .filter((m) => m.from === ADA)
        .reverse()
        .map((m) => m.body);
      const byWhatsApp = (
        await get(`/messages/?limit=100&from_number=${encodeURIComponent(`whatsapp:${ADA}`)}`)
      ).json() as PageBody;
      const byNumber = (
        await get(`/messages/?limit=100&from_number=${encodeURIComponent(ADA)}`)
      ).json() as PageBody;
      assert.equal(byWhatsApp.total, 12);
      assert.deepEqual(
        byWhatsApp.items.map((m) => m.body),
        adaBodies,
      );
      assert.ok(byWhatsApp.items.every((m) => m.from_number === `whatsapp:${ADA}`));
      assert.deepEqual(byNumber, byWhatsApp);

      const bob = (
        await get(`/messages/?from_number=${encodeURIComponent(BOB)}`)
      ).json() as PageBody;
      assert.equal(bob.total, 3);
      assert.ok(bob.items.every((m) => m.from_number === `whatsapp:${BOB}`));
    });

    test('from_number pages with limit and offset, and total counts only that sender', async () => {
      const page = (
        await get(`/messages/?limit=5&offset=10&from_number=${encodeURIComponent(ADA)}`)
      ).json() as PageBody;
      assert.equal(page.total, 12);
      assert.equal(page.items.length, 2);
      assert.deepEqual(
        page.items.map((m) => m.body),
        ['message 1', 'message 0'],
      );
    });

    test('a from_number nobody sent from gives an empty page', async () => {
      const page = (
        await get(`/messages/?from_number=${encodeURIComponent('whatsapp:+15559999999')}`)
      ).json() as PageBody;
      assert.deepEqual(page.items, []);
      assert.equal(page.total, 0);
    });

    test("an unencoded '+' in from_number (as typed in curl) still finds the sender", async () => {
      // A literal '+' in a query string means a space; people type it anyway.
      const bare = (await get(`/messages/?limit=100&from_number=${ADA}`)).json() as PageBody;
      const prefixed = (
        await get(`/messages/?limit=100&from_number=whatsapp:${ADA}`)
      ).json() as PageBody;
      assert.equal(bare.total, 12);
      assert.equal(prefixed.total, 12);
    });

    test('items carry the guide’s snake_case columns, created_at as an ISO 8601 string', async () => {
      const page = (await get('/messages/?limit=100')).json() as PageBody;
      const oldest = page.items.at(-1);
      assert.ok(oldest);
      for (const column of GUIDE_COLUMNS) {
        assert.ok(column in oldest, `missing ${column}`);
      }
      assert.equal(typeof oldest.id, 'number');
      assert.equal(oldest.message_sid, sent[0]?.sid);
      assert.equal(oldest.from_number, `whatsapp:${ADA}`);
      assert.equal(oldest.to_number, 'whatsapp:+14155238886');
      assert.equal(oldest.body, 'message 0');
      assert.equal(oldest.num_media, 1);
      assert.deepEqual(oldest.media_items, [
        {
          url: 'https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1',
          content_type: 'image/jpeg',
        },
      ]);
      assert.equal(oldest.processed, false);
      assert.deepEqual(oldest.storage_urls, []);
      assert.equal(typeof oldest.created_at, 'string');
      assert.match(
        oldest.created_at,
        /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/,
      );
      const created = Date.parse(oldest.created_at);
      assert.ok(Math.abs(Date.now() - created) < 5 * 60_000, oldest.created_at);
    });

    test('GET /messages/{id} finds a message by numeric id and by MessageSid', async () => {
      const target = sent[7];
      assert.ok(target);
      const bySid = await get(`/messages/${target.sid}`);
      assert.equal(bySid.statusCode, 200, bySid.body);
      const message = bySid.json() as MessageBody;
      assert.equal(message.message_sid, target.sid);
      assert.equal(message.body, target.body);
      for (const column of GUIDE_COLUMNS) assert.ok(column in message, `missing ${column}`);

      const byId = await get(`/messages/${message.id}`);
      assert.equal(byId.statusCode, 200);
      assert.deepEqual(byId.json(), message);
    });

    test('an unknown id or MessageSid is a 404 with the error body', async () => {
      for (const key of ['987654321', `SM${'0'.repeat(32)}`]) {
        const response = await get(`/messages/${key}`);
        assert.equal(response.statusCode, 404, key);
        const body = response.json() as ErrorBody;
        assert.equal(body.error.code, 'not_found', key);
        assert.match(body.error.message, new RegExp(key), key);
      }
    });

    test('without a token, with a wrong token or a malformed header: 401 unauthorized', async () => {
      const cases: [string, Record<string, string>][] = [
        ['no header', {}],
        ['wrong token', { authorization: 'Bearer not-the-api-token-at-all' }],
        ['Basic scheme', { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }],
        ['Bearer without token', { authorization: 'Bearer' }],
        ['token without scheme', { authorization: t.auth.authorization.replace('Bearer ', '') }],
      ];
      for (const url of ['/messages/', `/messages/${sent[0]?.sid}`]) {
        for (const [name, headers] of cases) {
          const response = await get(url, headers);
          assert.equal(response.statusCode, 401, `${url} ${name}`);
          const body = response.json() as ErrorBody;
          assert.equal(body.error.code, 'unauthorized', `${url} ${name}`);
          assert.ok(body.error.message.length > 0, `${url} ${name}`);
          assert.doesNotMatch(response.body, /message \d/, `${url} ${name}`);
        }
      }
    });

    test('an invalid query without a token is 401, not a validation error', async () => {
      const response = await get('/messages/?limit=101', {});
      assert.equal(response.statusCode, 401);
      assert.equal((response.json() as ErrorBody).error.code, 'unauthorized');
    });

    test('an unknown route is a 404 with the JSON error body', async () => {
      const response = await get('/no-such-route?x=1');
      assert.equal(response.statusCode, 404);
      assert.match(response.headers['content-type'] as string, /^application\/json/);
      const body = response.json() as ErrorBody;
      assert.equal(body.error.code, 'not_found');
      assert.match(body.error.message, /\/no-such-route/);
      assert.doesNotMatch(body.error.message, /x=1/);
    });
  });
}
