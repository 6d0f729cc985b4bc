/**
 * TRUST_PROXY: X-Forwarded-For/-Proto/-Host count only when the request came through a
 * proxy the operator named. Without one, a client cannot choose the address the rate limit
 * and the failed-login lockout key on, nor the URL its webhook signature is checked against.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config/config.js';
import type { AppDeps } from '../src/http/app.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/databases.js';
import { startTestService } from './helpers/service.js';
import {
  TEST_API_TOKEN,
  TEST_AUTH_TOKEN,
  signedForm,
  whatsAppParams,
} from './helpers/twilio-webhook.js';

const WRONG = { authorization: 'Bearer wrong-token-0123456789abc' };
const RIGHT = { authorization: `Bearer ${TEST_API_TOKEN}` };
const ATTACKER = '203.0.113.50';
const VICTIM = '198.51.100.4';
/** Twilio signed this URL for another app on the same account. */
const OTHER_APP_URL = 'https://other-app.example/webhook/twilio';

describe('TRUST_PROXY configuration', () => {
  const load = (value?: string) =>
    loadConfig({
      API_TOKEN: TEST_API_TOKEN,
      TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN,
      ...(value === undefined ? {} : { TRUST_PROXY: value }),
    });
  const problems = (value: string): readonly string[] => {
    try {
      load(value);
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      return error.problems;
    }
    return assert.fail(`TRUST_PROXY="${value}" was accepted`);
  };

  test('off by default; a hop count or a list of proxy addresses and CIDRs', () => {
    assert.equal(load().trustProxy, false);
    assert.equal(load('false').trustProxy, false);
    assert.equal(load('0').trustProxy, false);
    assert.equal(load('1').trustProxy, 1);
    assert.deepEqual(load('127.0.0.1, 10.0.0.0/8,::1,fd00::/8,loopback').trustProxy, [
      '127.0.0.1',
      '10.0.0.0/8',
      '::1',
      'fd00::/8',
      'loopback',
    ]);
  });

  test('`true` (trust every hop) and malformed values are refused, naming the variable', () => {
    assert.match(problems('true').join('\n'), /TRUST_PROXY="true": trusting every hop/);
    for (const value of ['10.0.0.0/33', 'proxy.internal', '1.2.3', '999']) {
      assert.match(problems(value).join('\n'), /TRUST_PROXY=.*expected a hop count/, value);
    }
  });
});

for (const engine of engines) {
  describe(
    `client addresses and the signed URL behind proxies [${engine.name}]`,
    {
      skip: engine.skip,
    },
    () => {
      const apps: TestApp[] = [];
      const app = async (overrides: Partial<AppDeps> = {}) => {
        const t = await createTestApp(engine, overrides);
        apps.push(t);
        return t;
      };
      after(async () => {
        for (const t of apps) await t.close();
      });

      const get = (
        t: TestApp,
        remoteAddress: string,
        headers: Record<string, string>,
        forwardedFor?: string,
      ) =>
        t.app.inject({
          url: '/users',
          remoteAddress,
          headers: { ...headers, ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}) },
        });

      test('untrusted: rotating X-Forwarded-For neither escapes the lockout nor locks out the address it names', async () => {
        const t = await app();
        for (let i = 0; i < 21; i += 1) {
          // Every other guess claims to come from the victim.
          const claimed = i % 2 === 0 ? VICTIM : `192.0.2.${i}`;
          const answer = await get(t, ATTACKER, WRONG, claimed);
          assert.equal(answer.statusCode, 401, `guess ${i}`);
        }
        const attacker = await get(t, ATTACKER, RIGHT, '192.0.2.200');
        assert.equal(attacker.statusCode, 429, 'the attacker is locked out whatever it claims');
        assert.match(attacker.json().error.message, /failed authentications/);

        const victim = await get(t, VICTIM, RIGHT);
        assert.equal(victim.statusCode, 200, "the victim's real address is not locked");
      });

      test('untrusted: rotating X-Forwarded-For does not escape the rate limit', async () => {
        const t = await app({ apiRateLimit: 3 });
        for (let i = 0; i < 3; i += 1) {
          assert.equal((await get(t, ATTACKER, RIGHT, `192.0.2.${i}`)).statusCode, 200);
        }
        const limited = await get(t, ATTACKER, RIGHT, '192.0.2.99');
        assert.equal(limited.statusCode, 429);
        assert.equal(limited.json().error.code, 'rate_limited');
        assert.equal((await get(t, VICTIM, RIGHT)).statusCode, 200, 'another address is not');
      });

      test('TRUST_PROXY=127.0.0.1: the forwarded client address counts, from that proxy only', async () => {
        const t = await app({ apiRateLimit: 2, trustProxy: ['127.0.0.1'] });
        assert.equal((await get(t, '127.0.0.1', RIGHT, '198.51.100.1')).statusCode, 200);
        assert.equal((await get(t, '127.0.0.1', RIGHT, '198.51.100.1')).statusCode, 200);
        assert.equal((await get(t, '127.0.0.1', RIGHT, '198.51.100.1')).statusCode, 429);
        // Behind the proxy, each client has its own allowance.
        assert.equal((await get(t, '127.0.0.1', RIGHT, '198.51.100.2')).statusCode, 200);

        // A client reaching the port directly is still keyed on its socket address.
        assert.equal((await get(t, ATTACKER, RIGHT, '192.0.2.1')).statusCode, 200);
        assert.equal((await get(t, ATTACKER, RIGHT, '192.0.2.2')).statusCode, 200);
        assert.equal((await get(t, ATTACKER, RIGHT, '192.0.2.3')).statusCode, 429);
      });

      const forgedWebhook = (t: TestApp, remoteAddress = '127.0.0.1') => {
        const params = whatsAppParams();
        const signed = signedForm(OTHER_APP_URL, params);
        return t.app.inject({
          method: 'POST',
          url: '/webhook/twilio',
          remoteAddress,
          headers: {
            ...signed.headers,
            host: '10.0.0.5:8080',
            'x-forwarded-proto': 'https',
            'x-forwarded-host': 'other-app.example',
          },
          payload: signed.payload,
        });
      };
      const storedMessages = async (t: TestApp) =>
        (await t.database.db.query<{ n: number }>('SELECT count(*)::int AS n FROM messages'))[0]?.n;

      test('without TRUST_PROXY, forged X-Forwarded-Host/-Proto do not choose the signed URL: 403, nothing stored', async () => {
        const t = await app();
        const answer = await forgedWebhook(t);
        assert.equal(answer.statusCode, 403);
        assert.equal(answer.json().error.code, 'invalid_signature');
        assert.match(answer.json().error.message, /does not match http:\/\/10\.0\.0\.5:8080\//);
        assert.equal(await storedMessages(t), 0);
      });

      test('TRUST_PROXY=1 or the proxy address: the forwarded URL is the one checked', async () => {
        for (const trustProxy of [1, ['127.0.0.1']] as const) {
          const t = await app({ trustProxy });
          assert.equal(
            (await forgedWebhook(t)).statusCode,
            200,
            `TRUST_PROXY=${String(trustProxy)}`,
          );
          assert.equal(await storedMessages(t), 1);
        }
      });

      test('TRUST_PROXY naming another proxy: headers from this peer are ignored (403)', async () => {
        const t = await app({ trustProxy: ['10.0.0.0/8'] });
        assert.equal((await forgedWebhook(t, '127.0.0.1')).statusCode, 403);
        assert.equal((await forgedWebhook(t, '10.1.2.3')).statusCode, 200);
      });

      test('`taskwire serve` reads TRUST_PROXY from the environment', async () => {
        const params = whatsAppParams();
        const signed = signedForm(OTHER_APP_URL, params);
        const post = (baseUrl: string) =>
          fetch(`${baseUrl}/webhook/twilio`, {
            method: 'POST',
            headers: {
              ...signed.headers,
              'x-forwarded-proto': 'https',
              'x-forwarded-host': 'other-app.example',
            },
            body: signed.payload,
          });
        const off = await startTestService(engine);
        try {
          assert.equal((await post(off.baseUrl)).status, 403);
        } finally {
          await off.close();
        }
        const on = await startTestService(engine, { TRUST_PROXY: '127.0.0.1' });
        try {
          assert.equal((await post(on.baseUrl)).status, 200);
        } finally {
          await on.close();
        }
      });
    },
  );
}
