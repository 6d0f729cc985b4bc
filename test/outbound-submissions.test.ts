import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Database, Queryable } from '../src/db/executor.js';
import {
  type ClaimedOutbound,
  applyStatusCallback,
  enqueueOutbound,
  outboundQueue,
} from '../src/db/outbound.js';
import { outboundSubmissions } from '../src/db/outbound-submissions.js';
import { ClaimLostError } from '../src/domain/processing-errors.js';
import { sendOutboundJob } from '../src/jobs/send-outbound.js';
import { type TestDatabase, engines } from './helpers/databases.js';

let sidSeq = 0;
const newSid = () =>
  `SMbatch${process.pid.toString(16).padStart(8, '0')}${String((sidSeq += 1)).padStart(19, '0')}`;

/** `db` that counts its statements (inside transactions too) and its transactions. */
function counting(db: Database) {
  const counted = { statements: 0, transactions: 0 };
  const countQueries = (q: Queryable): Queryable => ({
    query: <Row>(sql: string, params?: readonly unknown[]) => {
      counted.statements += 1;
      return q.query<Row>(sql, params);
    },
    exec: (sql: string) => q.exec(sql),
  });
  const wrapped: Database = {
    ...countQueries(db),
    engine: db.engine,
    maxConcurrency: db.maxConcurrency,
    transaction: (work) => {
      counted.transactions += 1;
      return db.transaction((tx) => work(countQueries(tx)));
    },
    listen: (channel, onNotify) => db.listen(channel, onNotify),
    close: () => db.close(),
  };
  return { counted, db: wrapped };
}

for (const engine of engines) {
  describe(`SIDs recorded together [${engine.name}]`, { skip: engine.skip }, () => {
    let t: TestDatabase;
    before(async () => {
      t = await engine.create();
    });
    after(async () => {
      await t?.destroy();
    });

    /** `count` outbound messages, claimed as a worker does before calling Twilio. */
    async function claimedMessages(count: number): Promise<ClaimedOutbound[]> {
      const ids: number[] = [];
      for (let i = 0; i < count; i += 1) {
        const row = await enqueueOutbound(t.db, {
          kind: 'send',
          inboundMessageId: null,
          userId: null,
          to: 'whatsapp:+15550001234',
          from: 'whatsapp:+14155238886',
          body: `hello ${i}`,
        });
        assert.ok(row);
        ids.push(row.id);
      }
      const claimed = await outboundQueue.claim(t.db, 1000, 60_000);
      return ids.map((id) => {
        const job = claimed.find((c) => c.id === id);
        assert.ok(job, `message ${id} claimed`);
        return job;
      });
    }

    const outbound = async (id: number) =>
      (
        await t.db.query<{ status: string; twilio_sid: string | null }>(
          'SELECT status, twilio_sid FROM outbound_messages WHERE id = $1',
          [id],
        )
      )[0];
    const earlyLeft = async (sids: string[]) =>
      (
        await t.db.query<{ message_sid: string }>(
          'SELECT message_sid FROM early_status_callbacks WHERE message_sid = ANY($1::text[])',
          [sids],
        )
      ).map((row) => row.message_sid);

    test('20 sends at once: one transaction of two statements; the early callback applied, only the lost claim lost', async () => {
      const jobs = await claimedMessages(20);
      const sids = jobs.map(() => newSid());
      const earlySid = sids[3] as string;
      assert.equal(
        await applyStatusCallback(t.db, { sid: earlySid, status: 'delivered', errorCode: null }),
        'kept',
      );
      const lostAt = 11;
      const c = counting(t.db);
      const submissions = outboundSubmissions(c.db);
      const kept = await Promise.all(
        jobs.map((job, i) =>
          submissions.record(
            { id: job.id, claims: i === lostAt ? job.claims + 1 : job.claims },
            { sid: sids[i] as string, status: 'queued' },
          ),
        ),
      );
      assert.deepEqual(
        kept,
        jobs.map((_, i) => i !== lostAt),
      );
      assert.deepEqual(c.counted, { statements: 2, transactions: 1 }, 'was 40 and 20');
      for (const [i, job] of jobs.entries()) {
        const row = await outbound(job.id);
        if (i === lostAt) {
          assert.deepEqual(row, { status: 'submitting', twilio_sid: null }, 'left to its owner');
        } else {
          assert.deepEqual(row, {
            status: i === 3 ? 'delivered' : 'queued',
            twilio_sid: sids[i],
          });
        }
      }
      assert.deepEqual(await earlyLeft(sids), []);
    });

    test('the outbound job: sends that finish together share the recording, a lost claim fails only its own send', async () => {
      const jobs = await claimedMessages(20);
      const sidOf = new Map(jobs.map((job) => [job.body, newSid()]));
      const earlySid = sidOf.get(jobs[0]?.body as string) as string;
      await applyStatusCallback(t.db, { sid: earlySid, status: 'read', errorCode: null });
      const c = counting(t.db);
      const send = sendOutboundJob({
        db: c.db,
        send: async (message) => ({ sid: sidOf.get(message.body) as string, status: 'queued' }),
      });
      const lost = jobs[7] as ClaimedOutbound;
      const outcomes = await Promise.allSettled(
        jobs.map((job) => send(job === lost ? { ...job, claims: job.claims + 1 } : job)),
      );
      for (const [i, outcome] of outcomes.entries()) {
        if (jobs[i] === lost) {
          assert.equal(outcome.status, 'rejected');
          assert.ok(outcome.status === 'rejected' && outcome.reason instanceof ClaimLostError);
        } else {
          assert.equal(outcome.status, 'fulfilled', `send ${i}`);
        }
      }
      assert.ok(c.counted.transactions < jobs.length, `${c.counted.transactions} transactions`);
      assert.equal((await outbound(jobs[0]?.id as number))?.status, 'read');
      assert.equal((await outbound(jobs[1]?.id as number))?.status, 'queued');
      assert.equal((await outbound(lost.id))?.twilio_sid, null);
    });

    test('a batch the database refuses is recorded send by send: only the bad one fails', async () => {
      const jobs = await claimedMessages(5);
      const sids = jobs.map(() => newSid());
      // Two sends with one SID: the unique SID refuses the second, and with it the batch.
      sids[4] = sids[1] as string;
      const submissions = outboundSubmissions(t.db);
      const outcomes = await Promise.allSettled(
        jobs.map((job, i) => submissions.record(job, { sid: sids[i] as string, status: 'sent' })),
      );
      assert.deepEqual(
        outcomes.map((o) => o.status),
        ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected'],
      );
      for (const outcome of outcomes.slice(0, 4)) {
        assert.deepEqual(outcome, { status: 'fulfilled', value: true });
      }
      for (const [i, job] of jobs.slice(0, 4).entries()) {
        assert.deepEqual(await outbound(job.id), { status: 'sent', twilio_sid: sids[i] });
      }
      assert.deepEqual(await outbound(jobs[4]?.id as number), {
        status: 'submitting',
        twilio_sid: null,
      });
    });

    test('callbacks racing the batched recording of their SIDs: every one is applied', async () => {
      const jobs = await claimedMessages(30);
      const sids = jobs.map(() => newSid());
      const submissions = outboundSubmissions(t.db);
      const kept = await Promise.all(
        jobs.flatMap((job, i) => {
          const sid = sids[i] as string;
          const callback = () =>
            applyStatusCallback(t.db, { sid, status: 'delivered', errorCode: null }).then(
              () => true,
            );
          const record = () => submissions.record(job, { sid, status: 'queued' });
          // Either may start first.
          return i % 2 === 0 ? [callback(), record()] : [record(), callback()];
        }),
      );
      assert.ok(kept.every(Boolean));
      for (const job of jobs)
        assert.equal((await outbound(job.id))?.status, 'delivered', `message ${job.id}`);
      assert.deepEqual(await earlyLeft(sids), []);
    });
  });
}
