import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  type ClaimedOutbound,
  applyStatusCallback,
  outboundQueue,
  enqueueOutbound,
  markOutboundSubmitted,
} from '../src/db/outbound.js';
import { sendOutboundJob } from '../src/jobs/send-outbound.js';
import { type TestDatabase, engines } from './helpers/databases.js';

let sidSeq = 0;
const newSid = () =>
  `SM${process.pid.toString(16).padStart(8, '0')}${String((sidSeq += 1)).padStart(24, '0')}`;

for (const engine of engines) {
  describe(
    `a status callback that arrives before its SID is recorded [${engine.name}]`,
    { skip: engine.skip },
    () => {
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
            body: 'hello',
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
      const claimedMessage = async () => (await claimedMessages(1))[0] as ClaimedOutbound;

      const outbound = async (id: number) =>
        (
          await t.db.query<{ status: string; error_code: number | null; twilio_sid: string }>(
            'SELECT status, error_code, twilio_sid FROM outbound_messages WHERE id = $1',
            [id],
          )
        )[0];
      const early = (sid: string) =>
        t.db.query<{ status: string }>(
          'SELECT status FROM early_status_callbacks WHERE message_sid = $1 ORDER BY status',
          [sid],
        );

      test('Twilio calls back while the send is still being recorded: the callback is applied, not dropped', async () => {
        const job = await claimedMessage();
        const sid = newSid();
        // The real race: Twilio accepted the message and posted "delivered" before the
        // worker's UPDATE recording the SID ran.
        const send = sendOutboundJob({
          db: t.db,
          send: async () => {
            assert.equal(
              await applyStatusCallback(t.db, { sid, status: 'delivered', errorCode: null }),
              'kept',
            );
            return { sid, status: 'queued' };
          },
        });
        await send(job);
        assert.deepEqual(await outbound(job.id), {
          status: 'delivered',
          error_code: null,
          twilio_sid: sid,
        });
        assert.deepEqual(await early(sid), [], 'applied and removed');
        // Later callbacks go the usual way, still monotonic.
        assert.equal(
          await applyStatusCallback(t.db, { sid, status: 'sent', errorCode: null }),
          'stale',
        );
        assert.equal(
          await applyStatusCallback(t.db, { sid, status: 'read', errorCode: null }),
          'updated',
        );
      });

      test('of several early callbacks the most advanced wins, with its error code; one behind the send result changes nothing', async () => {
        const failing = await claimedMessage();
        const sid = newSid();
        for (const [status, errorCode] of [
          ['sent', null],
          ['undelivered', 30008],
          ['queued', null],
          ['sent', null],
        ] as const) {
          await applyStatusCallback(t.db, { sid, status, errorCode });
        }
        assert.deepEqual(await early(sid), [
          { status: 'queued' },
          { status: 'sent' },
          { status: 'undelivered' },
        ]);
        assert.ok(await markOutboundSubmitted(t.db, failing, { sid, status: 'accepted' }));
        assert.deepEqual(await outbound(failing.id), {
          status: 'undelivered',
          error_code: 30008,
          twilio_sid: sid,
        });

        const behind = await claimedMessage();
        const sid2 = newSid();
        await applyStatusCallback(t.db, { sid: sid2, status: 'accepted', errorCode: null });
        assert.ok(await markOutboundSubmitted(t.db, behind, { sid: sid2, status: 'queued' }));
        assert.equal((await outbound(behind.id))?.status, 'queued', 'never moves backwards');
        assert.deepEqual(await early(sid2), []);
      });

      test('a send whose claim was lost leaves the early callbacks alone', async () => {
        const job = await claimedMessage();
        const sid = newSid();
        await applyStatusCallback(t.db, { sid, status: 'delivered', errorCode: null });
        assert.equal(
          await markOutboundSubmitted(
            t.db,
            { id: job.id, claims: job.claims + 1 },
            { sid, status: 'queued' },
          ),
          false,
        );
        assert.deepEqual(await early(sid), [{ status: 'delivered' }]);
      });

      test('an unknown status for an unknown SID is dropped; unmatched callbacks older than a day are pruned', async () => {
        const sid = newSid();
        assert.equal(
          await applyStatusCallback(t.db, { sid, status: 'teleported', errorCode: null }),
          'unknown',
        );
        assert.deepEqual(await early(sid), []);

        const old = newSid();
        await applyStatusCallback(t.db, { sid: old, status: 'delivered', errorCode: null });
        await t.db.query(
          `UPDATE early_status_callbacks SET received_at = now() - interval '25 hours' WHERE message_sid = $1`,
          [old],
        );
        const recent = newSid();
        await applyStatusCallback(t.db, { sid: recent, status: 'sent', errorCode: null });
        assert.deepEqual(await early(old), [], 'pruned');
        assert.deepEqual(await early(recent), [{ status: 'sent' }]);
      });

      test('callbacks racing the recording of their SIDs: every one is applied', async () => {
        const jobs = await claimedMessages(30);
        const sids = jobs.map(() => newSid());
        await Promise.all(
          jobs.flatMap((job, i) => {
            const sid = sids[i] as string;
            const callback = () =>
              applyStatusCallback(t.db, { sid, status: 'delivered', errorCode: null });
            const record = () => markOutboundSubmitted(t.db, job, { sid, status: 'queued' });
            // Either may start first.
            return i % 2 === 0 ? [callback(), record()] : [record(), callback()];
          }),
        );
        for (const job of jobs)
          assert.equal((await outbound(job.id))?.status, 'delivered', `message ${job.id}`);
        const left = await t.db.query(
          'SELECT 1 FROM early_status_callbacks WHERE message_sid = ANY($1::text[])',
          [sids],
        );
        assert.equal(left.length, 0);
      });
    },
  );
}
