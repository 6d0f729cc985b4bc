import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestApp, type TestApp } from './helpers/app.js';
import { pglite } from './helpers/databases.js';
import { startTestService, type TestService } from './helpers/service.js';
import {
  TEST_API_TOKEN,
  newMessageSid,
  signedForm,
  whatsAppParams,
} from './helpers/twilio-webhook.js';
import { waitFor } from './helpers/worker.js';

const METRICS_TOKEN = 'metrics-token-0123456789abcdef';

/** The value of one sample in a Prometheus text exposition, or null when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | null {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-z_]+)(\{([^}]*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = Object.fromEntries(
      (match[3] ?? '')
        .split(',')
        .filter(Boolean)
        .map((pair) => {
          const [key, value] = pair.split('=');
          return [key, value?.replace(/^"|"$/g, '')];
        }),
    );
    if (Object.entries(labels).every(([key, value]) => present[key] === value)) {
      return Number(match[4]);
    }
  }
  return null;
}

describe('GET /metrics', () => {
  let t: TestService;
  before(async () => {
    t = await startTestService(pglite, {
      TWILIO_ACCOUNT_SID: '',
      METRICS_TOKEN,
      MEDIA_TIMEOUT_MS: '300',
      WORKER_MAX_ATTEMPTS: '2',
    });
  });
  after(async () => t?.close());

  const scrape = async (token: string | null = TEST_API_TOKEN) =>
    fetch(`${t.baseUrl}/metrics`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
  const deliver = (params: Record<string, string>, headers: Record<string, string> = {}) => {
    const url = `${t.baseUrl}/webhook/twilio`;
    const form = signedForm(url, params);
    return fetch(url, {
      method: 'POST',
      body: form.payload,
      headers: { ...form.headers, ...headers },
    });
  };

  test('needs the API token or METRICS_TOKEN, which opens nothing else', async () => {
    const missing = await scrape(null);
    assert.equal(missing.status, 401);
    assert.equal(
      ((await missing.json()) as { error: { code: string } }).error.code,
      'unauthorized',
    );
    assert.equal((await scrape('not-the-token-0123456789')).status, 401);
    assert.equal((await scrape(TEST_API_TOKEN)).status, 200);
    const withMetricsToken = await scrape(METRICS_TOKEN);
    assert.equal(withMetricsToken.status, 200);
    assert.match(
      withMetricsToken.headers.get('content-type') ?? '',
      /^text\/plain; version=0\.0\.4/,
    );
    const users = await fetch(`${t.baseUrl}/users`, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    assert.equal(users.status, 401, 'METRICS_TOKEN is not an API token');
  });

  test('counts webhooks, rejections, duplicates, jobs, latencies, queue depth and outbound status', async () => {
    const params = whatsAppParams({ from: '+15550170001', body: 'help' });
    assert.equal((await deliver(params)).status, 200);
    assert.equal((await deliver(params)).status, 200, 'a re-delivery');
    assert.equal((await deliver(params, { 'x-twilio-signature': 'forged' })).status, 403);
    const json = await fetch(`${t.baseUrl}/webhook/twilio`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(json.status, 415);

    // A photo the simulator does not have: retried once, then failed for good.
    const missingMedia = whatsAppParams({
      from: '+15550170002',
      messageSid: newMessageSid('MM'),
      media: [
        {
          url: `${t.baseUrl}/simulator/2010-04-01/Accounts/AC${'0'.repeat(32)}/Messages/MM${'1'.repeat(32)}/Media/ME${'2'.repeat(32)}`,
          contentType: 'image/jpeg',
        },
      ],
    });
    assert.equal((await deliver(missingMedia)).status, 200);

    let text = '';
    await waitFor(async () => {
      text = await (await scrape()).text();
      return (
        sample(text, 'taskwire_jobs_processed_total', { queue: 'outbound' }) === 1 &&
        sample(text, 'taskwire_jobs_failed_total', { queue: 'inbound' }) === 1 &&
        sample(text, 'taskwire_reply_latency_seconds_count') === 1
      );
    }, 20_000);

    assert.equal(sample(text, 'taskwire_webhooks_received_total', { route: 'inbound' }), 3);
    assert.equal(
      sample(text, 'taskwire_webhooks_rejected_total', {
        route: 'inbound',
        reason: 'invalid_signature',
      }),
      1,
    );
    assert.equal(
      sample(text, 'taskwire_webhooks_rejected_total', {
        route: 'inbound',
        reason: 'unsupported_media_type',
      }),
      1,
    );
    assert.equal(sample(text, 'taskwire_webhook_duplicates_total'), 1);
    assert.equal(sample(text, 'taskwire_jobs_processed_total', { queue: 'inbound' }), 1);
    assert.equal(sample(text, 'taskwire_jobs_retried_total', { queue: 'inbound' }), 1);
    assert.equal(sample(text, 'taskwire_jobs_failed_total', { queue: 'inbound' }), 1);
    assert.equal(sample(text, 'taskwire_processing_latency_seconds_count'), 1);
    assert.equal(
      sample(text, 'taskwire_job_duration_seconds_count', { queue: 'inbound', outcome: 'retry' }),
      1,
    );
    assert.equal(sample(text, 'taskwire_queue_depth', { queue: 'inbound', state: 'due' }), 0);
    assert.equal(sample(text, 'taskwire_queue_depth', { queue: 'outbound', state: 'running' }), 0);
    assert.equal(sample(text, 'taskwire_outbound_messages', { status: 'sent', outbox: 'true' }), 1);
    assert.ok((sample(text, 'process_cpu_user_seconds_total') ?? -1) >= 0, 'default metrics');
    assert.ok((sample(text, 'nodejs_eventloop_lag_seconds') ?? -1) >= 0, 'default metrics');
  });
});

describe('rate limits', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp(pglite, { apiRateLimit: 5 });
  });
  after(async () => t?.close());

  const webhook = () =>
    t.app.inject({
      method: 'POST',
      url: '/webhook/twilio',
      ...signedForm('http://localhost/webhook/twilio', whatsAppParams()),
    });

  test('the admin API answers 429 with the error body past API_RATE_LIMIT; webhooks are never limited', async () => {
    for (let i = 0; i < 5; i += 1) {
      const ok = await t.app.inject({ url: '/users', headers: t.auth });
      assert.equal(ok.statusCode, 200);
    }
    const limited = await t.app.inject({ url: '/users', headers: t.auth });
    assert.equal(limited.statusCode, 429);
    assert.equal(limited.json().error.code, 'rate_limited');
    assert.match(limited.json().error.message, /at most 5 per minute/);
    assert.ok(Number(limited.headers['retry-after']) > 0);

    // Another client address has its own allowance.
    const other = await t.app.inject({
      url: '/users',
      remoteAddress: '203.0.113.7',
      headers: t.auth,
    });
    assert.equal(other.statusCode, 200);

    const answers = await Promise.all(Array.from({ length: 30 }, () => webhook()));
    assert.deepEqual(new Set(answers.map((a) => a.statusCode)), new Set([200]));
  });
});

describe('repeated authentication failures', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp(pglite);
  });
  after(async () => t?.close());

  test('an address that keeps failing is refused with 429, even with the right token; webhooks still pass', async () => {
    const wrong = { authorization: 'Bearer wrong-token-0123456789abc' };
    for (let i = 0; i < 21; i += 1) {
      const refused = await t.app.inject({ url: '/users', headers: wrong });
      assert.equal(refused.statusCode, 401);
    }
    const blocked = await t.app.inject({ url: '/users', headers: t.auth });
    assert.equal(blocked.statusCode, 429);
    assert.equal(blocked.json().error.code, 'rate_limited');
    assert.match(blocked.json().error.message, /failed authentications/);

    const elsewhere = await t.app.inject({
      url: '/users',
      remoteAddress: '198.51.100.4',
      headers: t.auth,
    });
    assert.equal(elsewhere.statusCode, 200, 'other addresses are not affected');
    const webhook = await t.app.inject({
      method: 'POST',
      url: '/webhook/twilio',
      ...signedForm('http://localhost/webhook/twilio', whatsAppParams()),
    });
    assert.equal(webhook.statusCode, 200);
  });
});

describe('security headers and request ids', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp(pglite);
  });
  after(async () => t?.close());

  const policy = (headers: Record<string, unknown>) =>
    String(headers['content-security-policy'] ?? '');

  test('every answer carries a Content-Security-Policy the dashboard and /docs can live with', async () => {
    for (const url of ['/health', '/', '/docs/', '/users']) {
      const response = await t.app.inject({ url, headers: t.auth });
      assert.ok(response.statusCode < 400, `${url}: ${response.statusCode}`);
      const csp = policy(response.headers);
      assert.match(csp, /default-src 'self'/, url);
      assert.match(csp, /script-src 'self'(;|$)/, `${url}: scripts from our origin only`);
      assert.match(csp, /style-src 'self' 'unsafe-inline'/, `${url}: Swagger UI's inline styles`);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.doesNotMatch(csp, /upgrade-insecure-requests/);
      assert.equal(response.headers['x-content-type-options'], 'nosniff');
    }
    // The policy allows no inline script: the pages must have none.
    for (const url of ['/', '/docs/']) {
      const html = (await t.app.inject({ url })).body;
      const inline = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)].filter(
        ([, attributes, body]) => !/\bsrc=/.test(attributes ?? '') && (body ?? '').trim() !== '',
      );
      assert.deepEqual(inline, [], `${url} has no inline script`);
      assert.doesNotMatch(html, /\son[a-z]+=/i, `${url} has no inline event handler`);
    }
  });

  test('each answer names its request id; a sane X-Request-Id from a proxy is kept', async () => {
    const fresh = await t.app.inject({ url: '/health' });
    assert.match(String(fresh.headers['x-request-id']), /^[0-9a-f-]{36}$/);
    const kept = await t.app.inject({
      url: '/health',
      headers: { 'x-request-id': 'railway-abc123-def456' },
    });
    assert.equal(kept.headers['x-request-id'], 'railway-abc123-def456');
    const junk = await t.app.inject({ url: '/health', headers: { 'x-request-id': 'a"\nb' } });
    assert.match(String(junk.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  });
});
