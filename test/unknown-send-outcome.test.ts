import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { loadMigrations, migrate } from '../src/db/migrate.js';
import { enqueueOutbound, outboundQueue } from '../src/db/outbound.js';
import { openPglite } from '../src/db/pglite.js';
import { releaseEveryClaim } from '../src/db/release-claims.js';
import { createQueueWorker } from '../src/jobs/queue-worker.js';
import { sendOutboundJob } from '../src/jobs/send-outbound.js';
import type { Database } from '../src/db/executor.js';
import {
  type OutgoingMessage,
  type SendMessage,
  TwilioSendError,
  createTwilioSender,
} from '../src/twilio/sender.js';
import { type FakeTwilio, startFakeTwilio } from './fakes/fake-twilio.js';
import { type TestDatabase, engines } from './helpers/databases.js';
import { workerOptions, wrapTransactions } from './helpers/worker.js';

// Twilio's Messages API takes no idempotency key: a send whose answer is lost may have
// created its message, and sending it again would reach the person twice. These tests run
// the outbound worker against the fake Twilio with answers lost on the way.

const TO = 'whatsapp:+15550001234';
const FROM = 'whatsapp:+14155238886';
/** The sender's limit per request: short, so a lost answer costs the test little. */
const TIMEOUT_MS = 300;

for (const engine of engines) {
  describe(`sends with an unknown outcome [${engine.name}]`, { skip: engine.skip }, () => {
    let t: TestDatabase;
    let fake: FakeTwilio;
    before(async () => {
      t = await engine.create();
      fake = await startFakeTwilio();
    });
    after(async () => {
      await fake?.close();
      await t?.destroy();
    });
    beforeEach(() => {
      fake.messageRequests.length = 0;
      fake.requests.length = 0;
    });

    const sender = () =>
      createTwilioSender({
        accountSid: fake.accountSid,
        authToken: fake.authToken,
        apiBaseUrl: fake.apiBaseUrl,
        statusCallbackUrl: null,
        timeoutMs: TIMEOUT_MS,
      });

    const enqueue = async (body: string) => {
      const row = await enqueueOutbound(t.db, {
        kind: 'send',
        inboundMessageId: null,
        userId: null,
        to: TO,
        from: FROM,
        body,
      });
      assert.ok(row);
      return row;
    };

    /**
     * A worker that dies mid-send: it claims the message `body`, and Twilio creates the
     * message (sent here by the sender itself), but its SID is never recorded.
     */
    async function dieWhileSending(body: string, lease: 'held' | 'run out') {
      const row = await enqueue(body);
      const [claimed] = await outboundQueue.claim(t.db, 1, 60_000);
      assert.equal(claimed?.id, row.id);
      await sender()({ to: TO, from: FROM, body });
      if (lease === 'run out') {
        await t.db.query(
          `UPDATE outbound_messages SET locked_until = now() - interval '1 second' WHERE id = $1`,
          [row.id],
        );
      }
      return row;
    }

    /** Queues `body` to TO (unless queued) and runs the outbound worker until nothing is left. */
    async function sendThroughWorker(
      body: string,
      queued?: { id: number },
      job: { db?: Database; send?: SendMessage } = {},
    ) {
      const row = queued ?? (await enqueue(body));
      const worker = createQueueWorker(
        t.db,
        outboundQueue,
        sendOutboundJob({ db: job.db ?? t.db, send: job.send ?? sender() }),
        workerOptions({ backoffMs: 0, maxAttempts: 3 }),
      );
      await worker.runUntilIdle();
      const [sent] = await t.db.query<{
        status: string;
        twilio_sid: string | null;
        attempts: number;
        outcome_unknown_since: Date | null;
      }>(
        `SELECT status, twilio_sid, attempts, outcome_unknown_since
         FROM outbound_messages WHERE id = $1`,
        [row.id],
      );
      assert.ok(sent);
      return sent;
    }

    const lookups = () =>
      fake.requests.filter((r) => r.method === 'GET' && r.path.includes('/Messages.json?'));
    const createdFor = (body: string) =>
      [...fake.messages.values()].filter((m) => m.body === body).map((m) => m.sid);

    test('a message Twilio created whose answer was lost is recorded, not sent again', async () => {
      fake.answerNothingNext(1, { created: true });
      const sent = await sendThroughWorker('answer lost');
      const created = createdFor('answer lost');
      assert.equal(created.length, 1, 'one message at Twilio');
      assert.equal(fake.messageRequests.length, 1, 'one create request');
      assert.equal(sent.status, 'queued');
      assert.equal(sent.twilio_sid, created[0]);
      assert.equal(sent.attempts, 2);
      assert.ok(sent.outcome_unknown_since, 'the unknown outcome was noted');
      assert.equal(lookups().length, 1, 'the second attempt looked it up');
    });

    test('a request lost before Twilio created anything is sent again, once', async () => {
      fake.answerNothingNext(1, { created: false });
      const sent = await sendThroughWorker('request lost');
      const created = createdFor('request lost');
      assert.equal(created.length, 1);
      assert.equal(fake.messageRequests.length, 2, 'sent again after the lookup found nothing');
      assert.equal(sent.twilio_sid, created[0]);
      assert.equal(lookups().length, 1);
    });

    test('the same text sent to the same person before is not taken for the lost one', async () => {
      const first = await sendThroughWorker('Got it');
      assert.equal(first.attempts, 1);
      fake.answerNothingNext(1, { created: false });
      const second = await sendThroughWorker('Got it');
      const created = createdFor('Got it');
      assert.equal(created.length, 2, 'both messages reached Twilio');
      assert.notEqual(second.twilio_sid, first.twilio_sid);
      assert.ok(created.includes(second.twilio_sid as string));
    });

    test('a 5xx counts as unknown: looked up before the next attempt', async () => {
      fake.failNext(1, { status: 500, code: 20500 });
      const sent = await sendThroughWorker('after a 500');
      assert.equal(createdFor('after a 500').length, 1);
      assert.equal(lookups().length, 1);
      assert.equal(sent.attempts, 2);
    });

    test('a worker that died mid-send: its claim released at start-up, the message is found', async () => {
      const row = await dieWhileSending('died, released', 'held');
      assert.ok((await releaseEveryClaim(t.db)) >= 1);
      const sent = await sendThroughWorker('died, released', row);
      assert.deepEqual(createdFor('died, released'), [sent.twilio_sid]);
      assert.equal(fake.messageRequests.length, 1, 'not sent a second time');
      assert.equal(lookups().length, 1);
    });

    test('a worker that died mid-send: its lease ran out, the message is found', async () => {
      const row = await dieWhileSending('died, lease over', 'run out');
      const sent = await sendThroughWorker('died, lease over', row);
      assert.deepEqual(createdFor('died, lease over'), [sent.twilio_sid]);
      assert.equal(fake.messageRequests.length, 1, 'not sent a second time');
      assert.equal(sent.attempts, 2);
    });

    test('a template is not credited with another message of ours still on its way', async () => {
      // A reply to the same person went out, and its SID is not recorded yet (its worker
      // is between Twilio's answer and the commit): it must not be taken for the template.
      const reply = await dieWhileSending('your proof was shared', 'held');
      fake.answerNothingNext(1, { created: false });
      const template = await enqueueOutbound(t.db, {
        kind: 'reminder',
        inboundMessageId: null,
        userId: null,
        to: TO,
        from: FROM,
        body: 'Reminder: your task is due at 18:00',
        content: { sid: `HX${'a'.repeat(32)}`, variables: { '1': '18:00' } },
      });
      assert.ok(template);
      const sent = await sendThroughWorker('unused', template);
      const replySids = createdFor('your proof was shared');
      assert.equal(replySids.length, 1);
      assert.notEqual(sent.twilio_sid, replySids[0], 'the reply is not the template');
      assert.ok(fake.messages.has(sent.twilio_sid as string));
      assert.equal(lookups().length, 1);
      await t.db.query(`UPDATE outbound_messages SET status = 'canceled' WHERE id = $1`, [
        reply.id,
      ]);
    });

    test('a message Twilio accepted whose SID could not be recorded is found, not sent again', async () => {
      // Twilio answers; then the transaction that records the SID fails (the database
      // went away at that moment). The failure carries the note to the row.
      const twilio = sender();
      let answered = false;
      const send: SendMessage = Object.assign(
        async (message: OutgoingMessage) => {
          const result = await twilio(message);
          answered = true;
          return result;
        },
        { findCreated: twilio.findCreated },
      );
      const db = wrapTransactions(t.db, async (tx) => {
        if (answered) {
          answered = false;
          throw new Error('the database went away while recording the SID');
        }
        return tx;
      });
      const sent = await sendThroughWorker('recording failed', undefined, { db, send });
      assert.deepEqual(createdFor('recording failed'), [sent.twilio_sid]);
      assert.equal(fake.messageRequests.length, 1, 'not sent a second time');
      assert.ok(sent.outcome_unknown_since);
      assert.equal(sent.attempts, 2);
    });

    test('a message answered at once is never looked up', async () => {
      const sent = await sendThroughWorker('plain');
      assert.equal(sent.outcome_unknown_since, null);
      assert.equal(lookups().length, 0);
    });
  });
}

describe('which failed sends have an unknown outcome', () => {
  test('a refused connection: known (nothing reached Twilio)', async () => {
    // A port that was free a moment ago: connecting to it is refused.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const send = createTwilioSender({
      accountSid: 'AC00000000000000000000000000000000',
      authToken: 'token',
      apiBaseUrl: `http://127.0.0.1:${port}`,
      statusCallbackUrl: null,
      timeoutMs: TIMEOUT_MS,
    });
    const error = await send({ to: TO, from: FROM, body: 'x' }).catch((e: unknown) => e);
    assert.ok(error instanceof TwilioSendError, String(error));
    assert.equal(error.outcomeUnknown, false);
    assert.equal(error.permanent, false);
  });

  test('a request sent and never answered: unknown', async () => {
    const fake = await startFakeTwilio();
    try {
      fake.answerNothingNext(1, { created: false });
      const send = createTwilioSender({
        accountSid: fake.accountSid,
        authToken: fake.authToken,
        apiBaseUrl: fake.apiBaseUrl,
        statusCallbackUrl: null,
        timeoutMs: TIMEOUT_MS,
      });
      const error = await send({ to: TO, from: FROM, body: 'x' }).catch((e: unknown) => e);
      assert.ok(error instanceof TwilioSendError, String(error));
      assert.equal(error.outcomeUnknown, true);
    } finally {
      await fake.close();
    }
  });
});

describe('a data folder of the version before', () => {
  test('its claims are released at start-up, before it is migrated', async () => {
    // openDatabase releases the embedded database's claims before migrate() runs, so the
    // release must work on the schema of the version before (no outcome_unknown_since).
    const db = await openPglite({ dataDir: null });
    try {
      await migrate(
        db,
        loadMigrations().filter((m) => m.version < 26),
      );
      await db.query(
        `INSERT INTO outbound_messages (kind, to_number, from_number, body, status, locked_until)
         VALUES ('send', $1, $2, 'in flight', 'submitting', now() + interval '1 minute')`,
        [TO, FROM],
      );
      assert.equal(await releaseEveryClaim(db), 1);
      await migrate(db);
      const [row] = await db.query<{ status: string; outcome_unknown_since: Date | null }>(
        'SELECT status, outcome_unknown_since FROM outbound_messages',
      );
      assert.deepEqual(row, { status: 'pending', outcome_unknown_since: null });
    } finally {
      await db.close();
    }
  });
});
