import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { engines, type TestDatabase } from './helpers/databases.js';

// Migration 0020: a status change writes a live event only where a page shows the new state
// (or the state it leaves). The trigger runs inside the UPDATE, so the rows are there, or
// not, as soon as the statement returns: nothing to wait for.

for (const engine of engines) {
  describe(`live events for status changes (${engine.name})`, { skip: engine.skip }, () => {
    let database: TestDatabase;
    before(async () => {
      database = await engine.create();
    });
    after(async () => {
      await database?.destroy();
    });

    /** The statuses announced for one row of `kind`, in order. */
    const eventsOf = async (kind: string, rowId: number) =>
      (
        await database.db.query<{ action: string }>(
          'SELECT action FROM live_events WHERE kind = $1 AND row_id = $2 ORDER BY id',
          [kind, rowId],
        )
      ).map((row) => row.action);

    test("an inbound message's 'processing' writes no event; processed and failed do", async () => {
      const db = database.db;
      const [message] = await db.query<{ id: string }>(
        `INSERT INTO messages (message_sid, from_number, to_number, sender)
         VALUES ('SM0020a', 'whatsapp:+15550200001', 'whatsapp:+15550000000', '+15550200001')
         RETURNING id`,
      );
      const id = Number(message?.id);
      const setStatus = (status: string) =>
        db.query('UPDATE messages SET processing_status = $2 WHERE id = $1', [id, status]);

      assert.deepEqual(await eventsOf('message', id), ['insert']);
      await setStatus('processing');
      assert.deepEqual(await eventsOf('message', id), ['insert'], 'processing: no event');
      await setStatus('pending'); // a retry after an outage
      assert.deepEqual(await eventsOf('message', id), ['insert'], 'back to pending: no event');
      await setStatus('processing');
      await setStatus('failed');
      assert.deepEqual(await eventsOf('message', id), ['insert', 'update'], 'failed: an event');
      await setStatus('pending'); // the admin's reprocess: the page showed 'failed'
      assert.deepEqual(await eventsOf('message', id), ['insert', 'update', 'update']);
      await setStatus('processing');
      await setStatus('processed');
      assert.deepEqual(await eventsOf('message', id), ['insert', 'update', 'update', 'update']);
    });

    test("a send's 'submitting' and 'sending' write no event; Twilio's answers do", async () => {
      const db = database.db;
      const [row] = await db.query<{ id: string }>(
        `INSERT INTO outbound_messages (kind, to_number, from_number, body)
         VALUES ('send', 'whatsapp:+15550200002', 'whatsapp:+15550000000', 'Hello')
         RETURNING id`,
      );
      const id = Number(row?.id);
      const setStatus = (status: string) =>
        db.query('UPDATE outbound_messages SET status = $2 WHERE id = $1', [id, status]);

      await setStatus('submitting');
      await setStatus('pending'); // Twilio answered 5xx: tried again later
      await setStatus('submitting');
      assert.deepEqual(await eventsOf('outbound', id), ['insert'], 'claim churn: no event');
      await setStatus('queued');
      assert.deepEqual(await eventsOf('outbound', id), ['insert', 'update'], 'queued: an event');
      await setStatus('sending');
      assert.equal((await eventsOf('outbound', id)).length, 2, 'sending: no event');
      await setStatus('sent');
      await setStatus('delivered');
      await setStatus('read');
      assert.equal((await eventsOf('outbound', id)).length, 5, 'sent, delivered, read: one each');
    });

    test('a failed send retried announces the retry, the page showed the failure', async () => {
      const db = database.db;
      const [row] = await db.query<{ id: string }>(
        `INSERT INTO outbound_messages (kind, to_number, from_number, body, status)
         VALUES ('send', '+15550200003', '+15550000000', 'Hello', 'failed')
         RETURNING id`,
      );
      const id = Number(row?.id);
      await db.query("UPDATE outbound_messages SET status = 'pending' WHERE id = $1", [id]);
      assert.deepEqual(await eventsOf('outbound', id), ['insert', 'update']);
    });
  });
}
