import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { DEFAULT_SIGN_IN_LIMITS } from '../src/http/plugins/sign-in-limits.js';
import { SIGN_IN_LINKS_PER_PERSON } from '../src/http/routes/sign-in-link.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/databases.js';

// The participant sign-in's rate limits: per client address and per link on
// /app/sign-in, per person on the admin's POST /users/{id}/sign-in-link. Past a limit the
// answer is 429 with the usual error body and Retry-After, and the token is not looked up.

const perAddress = DEFAULT_SIGN_IN_LIMITS.perAddress.max;
const perToken = DEFAULT_SIGN_IN_LIMITS.perToken.max;

/** A well-formed token nobody was given (`<16 chars>.<43 chars>`). */
const unknownToken = () =>
  `${randomBytes(12).toString('base64url')}.${randomBytes(32).toString('base64url')}`;

function assertRateLimited(response: LightMyRequestResponse, windowMs: number, message: RegExp) {
  assert.equal(response.statusCode, 429, response.body);
  const body = response.json() as { error: { code: string; message: string } };
  assert.equal(body.error.code, 'rate_limited');
  assert.match(body.error.message, message);
  const retryAfter = Number(response.headers['retry-after']);
  assert.ok(
    Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= windowMs / 1000,
    `Retry-After ${String(response.headers['retry-after'])}`,
  );
}

for (const engine of engines) {
  describe(`sign-in rate limits (${engine.name})`, { skip: engine.skip }, () => {
    let t: TestApp;
    before(async () => {
      t = await createTestApp(engine, { senders: { whatsapp: '+15550001111', sms: null } });
    });
    after(async () => {
      await t?.close();
    });

    let phones = 0;
    const createUser = async (): Promise<number> => {
      phones += 1;
      const response = await t.app.inject({
        method: 'POST',
        url: '/users',
        headers: t.auth,
        payload: { username: `Person ${phones}`, phone_number: `+1555024${1000 + phones}` },
      });
      assert.equal(response.statusCode, 201, response.body);
      return (response.json() as { id: number }).id;
    };
    const sendLink = (userId: number) =>
      t.app.inject({ method: 'POST', url: `/users/${userId}/sign-in-link`, headers: t.auth });
    /** A new link for a new person; resolves to its token. */
    const newLink = async (): Promise<string> => {
      const sent = await sendLink(await createUser());
      assert.equal(sent.statusCode, 202, sent.body);
      const [row] = await t.database.db.query<{ body: string }>(
        'SELECT body FROM outbound_messages WHERE id = $1',
        [(sent.json() as { outbound_message_id: number }).outbound_message_id],
      );
      const match = /\/app\/sign-in\?token=(\S+)/.exec(row?.body ?? '');
      assert.ok(match, row?.body);
      return decodeURIComponent(match[1] as string);
    };
    const open = (token: string, remoteAddress: string, method: 'GET' | 'POST' = 'GET') =>
      t.app.inject({
        method,
        url: `/app/sign-in?token=${encodeURIComponent(token)}`,
        remoteAddress,
        ...(method === 'POST'
          ? { headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: '' }
          : {}),
      });

    test('one address trying many tokens is refused past the limit; others are not', async () => {
      const guesser = '203.0.113.7';
      for (let i = 0; i < perAddress; i += 1) {
        const response = await open(unknownToken(), guesser, i % 2 === 0 ? 'GET' : 'POST');
        assert.equal(response.statusCode, 410, `attempt ${i + 1}`);
      }
      const token = await newLink();
      // Refused before the lookup: a good link from that address is refused too, and not
      // used up by the refused Continue.
      assertRateLimited(
        await open(token, guesser, 'POST'),
        DEFAULT_SIGN_IN_LIMITS.perAddress.windowMs,
        /from this address/,
      );
      assertRateLimited(
        await open(token, guesser),
        DEFAULT_SIGN_IN_LIMITS.perAddress.windowMs,
        /from this address/,
      );
      const elsewhere = await open(token, '198.51.100.20', 'POST');
      assert.equal(elsewhere.statusCode, 303, 'the link still works from another address');
    });

    test('one link is refused past its own limit, from whichever addresses', async () => {
      const token = await newLink();
      for (let i = 0; i < perToken; i += 1) {
        const page = await open(token, `198.51.100.${100 + i}`);
        assert.equal(page.statusCode, 200, `request ${i + 1}`);
      }
      assertRateLimited(
        await open(token, '198.51.100.99', 'POST'),
        DEFAULT_SIGN_IN_LIMITS.perToken.windowMs,
        /with this sign-in link/,
      );
      // Another link from an address that took part is unaffected.
      const other = await newLink();
      assert.equal((await open(other, '198.51.100.100', 'POST')).statusCode, 303);
    });

    test('the admin cannot flood one person with links; another person still gets one', async () => {
      const flooded = await createUser();
      for (let i = 0; i < SIGN_IN_LINKS_PER_PERSON.max; i += 1) {
        assert.equal((await sendLink(flooded)).statusCode, 202, `link ${i + 1}`);
      }
      const [before] = await t.database.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM outbound_messages WHERE user_id = $1',
        [flooded],
      );
      assertRateLimited(
        await sendLink(flooded),
        SIGN_IN_LINKS_PER_PERSON.windowMs,
        new RegExp(`sign-in links sent to user ${flooded}`),
      );
      const [afterRefusal] = await t.database.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM outbound_messages WHERE user_id = $1',
        [flooded],
      );
      assert.equal(afterRefusal?.n, before?.n, 'the refused request queued no message');
      assert.equal((await sendLink(await createUser())).statusCode, 202);
    });
  });
}
