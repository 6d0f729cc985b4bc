import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Database } from '../src/db/executor.js';
import { inboundQueue } from '../src/db/message-queue.js';
import { findMessageById } from '../src/db/messages.js';
import { processInboundJob } from '../src/jobs/process-inbound.js';
import { createQueueWorker } from '../src/jobs/queue-worker.js';
import { engines, type TestDatabase } from './helpers/databases.js';
import { storeMessages, waitFor, workerOptions } from './helpers/worker.js';

// The queue worker while its database goes away (issue 12): a job the outage cut short is
// retried soon and its run is not counted as an attempt; claims back off meanwhile.

/** An error shaped as node-postgres and node:net raise them for a lost connection. */
const connectionLost = () =>
  Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', errno: -104 });

/** The real database, until `reachable` is set false: then every statement fails. */
function flaky(db: Database) {
  const state = { reachable: true };
  const guarded: Database = {
    engine: db.engine,
    maxConcurrency: db.maxConcurrency,
    query: async <Row>(sql: string, params?: readonly unknown[]) => {
      if (!state.reachable) throw connectionLost();
      return db.query<Row>(sql, params);
    },
    exec: async (sql) => {
      if (!state.reachable) throw connectionLost();
      return db.exec(sql);
    },
    transaction: async (work) => {
      if (!state.reachable) throw connectionLost();
      return db.transaction(work);
    },
    listen: (channel, onNotify) => db.listen(channel, onNotify),
    close: () => db.close(),
  };
  return { db: guarded, state };
}

/** Log lines with their fields, for a test to wait on. */
function recordingLog() {
  const lines: Array<{ msg: string; fields: Record<string, unknown> }> = [];
  const push = (fields: object, msg: string) =>
    lines.push({ msg, fields: fields as Record<string, unknown> });
  return { lines, log: { info: push, warn: push, error: push } };
}

for (const engine of engines) {
  describe(
    `the queue worker while the database is unreachable [${engine.name}]`,
    { skip: engine.skip },
    () => {
      let t: TestDatabase;
      before(async () => {
        t = await engine.create();
      });
      after(async () => {
        await t?.destroy();
      });

      test('a job the outage cut short runs again soon, and that run is not counted as an attempt', async () => {
        const [id] = await storeMessages(t.db, [{ body: 'cut short' }]);
        const { db, state } = flaky(t.db);
        const { lines, log } = recordingLog();
        const process = processInboundJob({ db, copyMedia: async () => ({}) });
        let runs = 0;
        // One attempt only, and a back-off of an hour: only an uncounted, soon retry can
        // bring this message to `processed`.
        const worker = createQueueWorker(
          db,
          inboundQueue,
          async (message) => {
            runs += 1;
            if (runs === 1) {
              state.reachable = false;
              throw connectionLost();
            }
            await process(message);
          },
          workerOptions({
            maxAttempts: 1,
            backoffMs: 3_600_000,
            outageRetryMs: 10,
            pollMs: 10,
            log,
          }),
        );
        await worker.start();
        try {
          // The failure cannot be recorded while the database is away; it is tried again.
          await waitFor(async () =>
            lines.some((line) => line.msg.startsWith('the database went away mid-job')),
          );
          await waitFor(async () =>
            lines.some((line) => line.msg.startsWith('could not claim messages')),
          );
          state.reachable = true;
          const row = await waitFor(async () => {
            const found = await findMessageById(t.db, id!);
            return found?.processing_status === 'processed' ? found : null;
          });
          assert.equal(runs, 2);
          assert.equal(row.attempts, 1, 'the run the outage cut short is not counted');
          assert.equal(row.error, null);
        } finally {
          await worker.stop(1000);
        }
      });

      test('a connection error while the database answers is an ordinary failed attempt', async () => {
        // Such as Twilio's media host resetting the connection: the database is fine.
        const [id] = await storeMessages(t.db, [{ body: 'twilio reset' }]);
        const worker = createQueueWorker(
          t.db,
          inboundQueue,
          async () => {
            throw connectionLost();
          },
          workerOptions({ maxAttempts: 1, outageRetryMs: 10 }),
        );
        await worker.runUntilIdle();
        const row = await findMessageById(t.db, id!);
        assert.equal(row?.processing_status, 'failed');
        assert.equal(row?.attempts, 1);
        assert.match(row?.error ?? '', /ECONNRESET/);
      });

      test('failed claims back off: each waits twice as long as the last, and claims resume once it is back', async () => {
        const { db, state } = flaky(t.db);
        const { lines, log } = recordingLog();
        state.reachable = false;
        const worker = createQueueWorker(
          db,
          inboundQueue,
          processInboundJob({ db, copyMedia: async () => ({}) }),
          workerOptions({ pollMs: 10, log }),
        );
        await worker.start();
        try {
          const waits = () =>
            lines
              .filter((line) => line.msg.startsWith('could not claim messages'))
              .map((line) => line.fields.retryInMs);
          await waitFor(async () => waits().length >= 4);
          assert.deepEqual(waits().slice(0, 4), [10, 20, 40, 80]);
          state.reachable = true;
          const [id] = await storeMessages(t.db, [{ body: 'after the outage' }]);
          await waitFor(
            async () => (await findMessageById(t.db, id!))?.processing_status === 'processed',
          );
        } finally {
          await worker.stop(1000);
        }
      });
    },
  );
}
