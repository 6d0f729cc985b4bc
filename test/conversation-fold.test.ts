import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createConversationFoldJob } from '../src/jobs/conversation-fold.js';
import { engines, type TestDatabase } from './helpers/databases.js';
import { quietLog, storeMessages, waitFor } from './helpers/worker.js';

// The periodic fold keeps conversation_changes small when nobody reads the inbox: what
// writes appended ends up in the summaries without a GET /conversations.

for (const engine of engines) {
  describe(`conversation fold job (${engine.name})`, { skip: engine.skip }, () => {
    let database: TestDatabase;
    before(async () => {
      database = await engine.create();
    });
    after(async () => {
      await database?.destroy();
    });

    test('folds the changes into the summaries without an inbox read', async () => {
      const { db } = database;
      await storeMessages(db, [
        { from: '+15550250001', body: 'one' },
        { from: '+15550250001', body: 'two' },
        { from: '+15550250002', body: 'three' },
      ]);
      const pending = async () =>
        (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM conversation_changes'))[0]
          ?.n ?? 0;
      assert.ok((await pending()) > 0, 'the writes appended changes');

      const job = createConversationFoldJob(db, { pollMs: 20, log: quietLog });
      job.start();
      try {
        await waitFor(async () => (await pending()) === 0);
      } finally {
        await job.stop();
      }
      const rows = await db.query<{ number: string; total: number }>(
        'SELECT number, total FROM conversation_inbound ORDER BY number',
      );
      assert.deepEqual(rows, [
        { number: '+15550250001', total: 2 },
        { number: '+15550250002', total: 1 },
      ]);
    });
  });
}
