import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Queryable } from '../src/db/executor.js';
import { enqueueOutbound } from '../src/db/outbound.js';
import { SEND_CONCURRENCY_FACTOR } from '../src/start/processing.js';
import { type FakeTwilio, startFakeTwilio } from './fakes/fake-twilio.js';
import { engines } from './helpers/databases.js';
import { startTestService, type TestService } from './helpers/service.js';
import { waitFor } from './helpers/worker.js';

// Replies leave with more concurrency than inbound processing (issue 14): a send is mostly
// waiting on Twilio, so with WORKER_CONCURRENCY sends at once replies could not leave faster
// than a few per Twilio round trip. And the NOTIFY that wakes the senders rides on the
// INSERT that queues a message: one statement, not two.

// Twilio answers this late: every send of the test is in flight long before the first answer.
const TWILIO_LATENCY_MS = 12_000;
const SENDS = 2 * SEND_CONCURRENCY_FACTOR;

for (const engine of engines) {
  describe(`outbound sends [${engine.name}]`, { skip: engine.skip }, () => {
    let twilio: FakeTwilio;
    let t: TestService;
    before(async () => {
      twilio = await startFakeTwilio({ messagesLatencyMs: TWILIO_LATENCY_MS });
      t = await startTestService(engine, {
        TWILIO_API_BASE_URL: twilio.apiBaseUrl,
        // Two messages processed at once, SEND_CONCURRENCY_FACTOR times as many sent.
        WORKER_CONCURRENCY: '2',
      });
    });
    after(async () => {
      // The fake first: the sends still waiting on it end (and are retried later, never).
      await twilio?.close();
      await t?.close();
    });

    test('SEND_CONCURRENCY_FACTOR × WORKER_CONCURRENCY messages are sent at once', async () => {
      for (let i = 0; i < SENDS; i += 1) {
        await enqueueOutbound(t.service.db, {
          kind: 'send',
          inboundMessageId: null,
          userId: null,
          to: `whatsapp:+1555000${String(i).padStart(4, '0')}`,
          from: 'whatsapp:+14155238886',
          body: `message ${i}`,
        });
      }
      // All of them reach Twilio while it has answered none (with WORKER_CONCURRENCY sends
      // at once, only 2 would arrive until the first answers, 12 s later).
      await waitFor(async () => twilio.messageRequests.length === SENDS, TWILIO_LATENCY_MS - 2000);
      assert.equal(twilio.messages.size, 0, 'no send answered yet');
    });

    test('queueing a message is one statement, and it wakes the senders at commit', async () => {
      const statements: string[] = [];
      let notified = 0;
      const stop = await t.service.db.listen('taskwire_outbound', () => {
        notified += 1;
      });
      try {
        const queued = await t.service.db.transaction(async (tx) => {
          const counting: Queryable = {
            query: (sql, params) => (statements.push(sql), tx.query(sql, params)),
            exec: (sql) => (statements.push(sql), tx.exec(sql)),
          };
          return enqueueOutbound(counting, {
            kind: 'send',
            inboundMessageId: null,
            userId: null,
            to: 'whatsapp:+15550009999',
            from: 'whatsapp:+14155238886',
            body: 'one statement',
          });
        });
        assert.equal(statements.length, 1, statements.join('\n---\n'));
        assert.equal(queued?.body, 'one statement');
        assert.equal(queued?.status, 'pending');
        assert.ok(!('notified' in (queued ?? {})), 'the NOTIFY column is not part of the row');
        await waitFor(async () => notified > 0);
      } finally {
        await stop();
      }
    });
  });
}
