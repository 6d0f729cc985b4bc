import assert from 'node:assert/strict';
import { type EventLoopUtilization, performance } from 'node:perf_hooks';
import { after, afterEach, before, beforeEach, describe, mock, test } from 'node:test';
import { type ClaimedMessage, inboundQueue, requeueMessage } from '../src/db/message-queue.js';
import { findMessageById } from '../src/db/messages.js';
import { PermanentJobError } from '../src/domain/processing-errors.js';
import { type CopyMedia, processInboundJob } from '../src/jobs/process-inbound.js';
import { watchEventLoopLoad } from '../src/start/event-loop-load.js';
import { createInboundStore } from '../src/start/inbound-store.js';
import { parseInboundParams } from '../src/twilio/inbound-params.js';
import { type ClaimedJob, type JobQueue, createQueueWorker } from '../src/jobs/queue-worker.js';
import { engines, pglite, postgres, type TestDatabase } from './helpers/databases.js';
import { whatsAppParams } from './helpers/twilio-webhook.js';
import { newWorker, storeMessages, waitFor, workerOptions } from './helpers/worker.js';

const photo = (n: number) => ({
  url: `https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME${n}`,
  contentType: 'image/jpeg',
});

const copyOk: CopyMedia = async (item, target) => ({
  key: `messages/${target.messageSid}/${target.index}.jpg`,
  size: 100 + target.index,
  content_type: item.content_type,
  url: `http://storage.test/notes/messages/${target.messageSid}/${target.index}.jpg`,
});

for (const engine of engines) {
  describe(`inbound processing queue [${engine.name}]`, { skip: engine.skip }, () => {
    let t: TestDatabase;
    before(async () => {
      t = await engine.create();
    });
    after(async () => t?.destroy());

    test('every stored message is processed once: media copied, processed=true, processed_at set', async () => {
      const [textId, photoId] = await storeMessages(t.db, [
        { body: 'hello' },
        { media: [photo(1), photo(2), photo(3)] },
      ]);
      const seen: number[] = [];
      const worker = newWorker(t.db, async (message) => {
        seen.push(message.id);
        await processInboundJob({ db: t.db, copyMedia: copyOk })(message);
      });
      await worker.runUntilIdle();
      assert.deepEqual(seen.sort(), [textId, photoId].sort());

      const text = await findMessageById(t.db, textId!);
      assert.equal(text?.processed, true);
      assert.equal(text?.processing_status, 'processed');
      assert.ok(text?.processed_at instanceof Date);
      assert.deepEqual(text?.storage_urls, []);

      const withPhotos = await findMessageById(t.db, photoId!);
      assert.equal(withPhotos?.processed, true);
      assert.equal(withPhotos?.storage_urls.length, 3);
      assert.match(withPhotos?.storage_urls[2] ?? '', /\/2\.jpg$/);
      assert.deepEqual(
        withPhotos?.stored_media.map((m) => m.index),
        [0, 1, 2],
      );
      assert.equal(await worker.runUntilIdle(), 0, 'nothing left to do');
    });

    test('a failing attempt is retried with the last error kept, then marked failed after the last attempt', async () => {
      const [id] = await storeMessages(t.db, [{ media: [photo(1)] }]);
      let calls = 0;
      const worker = newWorker(
        t.db,
        async (message) => {
          calls += 1;
          await processInboundJob({
            db: t.db,
            copyMedia: async () => {
              throw new Error(`Twilio answered 503 (call ${calls})`);
            },
          })(message);
        },
        { maxAttempts: 3, backoffMs: 0 },
      );
      await worker.runUntilIdle();
      assert.equal(calls, 3);
      const failed = await findMessageById(t.db, id!);
      assert.equal(failed?.processing_status, 'failed');
      assert.equal(failed?.processed, false);
      assert.equal(failed?.attempts, 3);
      assert.equal(failed?.error, 'Twilio answered 503 (call 3)');

      // Reprocess queues it again with a fresh set of attempts.
      const queued = await requeueMessage(t.db, id!);
      assert.equal(queued?.processing_status, 'pending');
      const fixed = newWorker(t.db, (message) =>
        processInboundJob({ db: t.db, copyMedia: copyOk })(message),
      );
      await fixed.runUntilIdle();
      const done = await findMessageById(t.db, id!);
      assert.equal(done?.processing_status, 'processed');
      assert.equal(done?.processed, true);
      assert.equal(done?.attempts, 1);
      assert.equal(done?.error, null);
    });

    test('a retry waits for its back-off', async () => {
      const [id] = await storeMessages(t.db, [{ body: 'retry later' }]);
      let calls = 0;
      const worker = newWorker(
        t.db,
        async () => {
          calls += 1;
          throw new Error('temporary');
        },
        { maxAttempts: 5, backoffMs: 60_000 },
      );
      await worker.runUntilIdle();
      assert.equal(calls, 1, 'not retried before its back-off');
      const rows = await t.db.query<{ status: string; wait: number }>(
        `SELECT processing_status AS status, extract(epoch FROM run_at - now())::float AS wait FROM messages WHERE id = $1`,
        [id],
      );
      assert.equal(rows[0]?.status, 'pending');
      assert.ok((rows[0]?.wait ?? 0) > 40, `retry scheduled ~60 s ahead, got ${rows[0]?.wait}`);
    });

    test('a permanent media failure fails that item only; the others are stored and the message is processed', async () => {
      const [id] = await storeMessages(t.db, [{ media: [photo(1), photo(2), photo(3)] }]);
      const worker = newWorker(t.db, (message) =>
        processInboundJob({
          db: t.db,
          copyMedia: async (item, target) => {
            if (target.index === 1) throw new PermanentJobError('media is larger than 16 MiB');
            return copyOk(item, target);
          },
        })(message),
      );
      await worker.runUntilIdle();
      const row = await findMessageById(t.db, id!);
      assert.equal(row?.processing_status, 'processed');
      assert.equal(row?.storage_urls.length, 2);
      assert.equal(row?.stored_media[1]?.error, 'media is larger than 16 MiB');
      assert.ok(row?.stored_media[0]?.key && row?.stored_media[2]?.key);
      assert.match(row?.error ?? '', /media 1: media is larger/);
    });

    test('a claim whose lease expired is taken over, and the old holder cannot complete it', async () => {
      const [id] = await storeMessages(t.db, [{ body: 'slow' }]);
      const first = await inboundQueue.claim(t.db, 10, 1);
      const mine = first.find((m) => m.id === id) as ClaimedMessage;
      assert.ok(mine);
      await new Promise((resolve) => setTimeout(resolve, 20));
      const second = await inboundQueue.claim(t.db, 10, 60_000);
      const theirs = second.find((m) => m.id === id) as ClaimedMessage;
      assert.ok(theirs, 'expired lease is claimable again');
      assert.equal(theirs.attempts, 2);
      await assert.rejects(processInboundJob({ db: t.db, copyMedia: copyOk })(mine), /claim lost/);
      await processInboundJob({ db: t.db, copyMedia: copyOk })(theirs);
      assert.equal((await findMessageById(t.db, id!))?.processing_status, 'processed');
    });

    test('a running worker picks up a new message at once and stop() returns', async () => {
      const worker = newWorker(
        t.db,
        (message) => processInboundJob({ db: t.db, copyMedia: copyOk })(message),
        {
          pollMs: 60_000,
        },
      );
      await worker.start();
      try {
        // Stored as the webhook stores it: through the inbound store, whose NOTIFY after the
        // commit is the only thing that can wake the worker in time (pollMs is a minute).
        const inboundStore = createInboundStore(t.db);
        const { id } = await inboundStore.store(
          parseInboundParams(whatsAppParams({ body: 'wake up' })),
        );
        await inboundStore.drain();
        await waitFor(async () => (await findMessageById(t.db, id!))?.processed, 5000);
      } finally {
        await worker.stop(1000);
      }
    });

    test('stop() hands back a message cut off mid-processing, to be retried', async () => {
      const [id] = await storeMessages(t.db, [{ body: 'long job' }]);
      let release: () => void = () => {};
      const started = new Promise<void>((resolve) => {
        release = resolve;
      });
      const worker = newWorker(t.db, async () => {
        release();
        await new Promise((resolve) => setTimeout(resolve, 5_000));
      });
      await worker.start();
      await started;
      await worker.stop(50);
      const row = await findMessageById(t.db, id!);
      assert.equal(row?.processing_status, 'pending');
      assert.equal(row?.error, 'interrupted by shutdown');
      assert.equal(row?.attempts, 0, 'a run cut off by shutdown is not counted as an attempt');
    });
  });
}

describe('two workers on Postgres', { skip: postgres.skip }, () => {
  test('50 messages are each processed exactly once', async () => {
    const t = await postgres.create();
    try {
      const ids = await storeMessages(
        t.db,
        Array.from({ length: 50 }, (_, i) => ({
          body: `m${i}`,
          media: i % 3 === 0 ? [photo(i)] : [],
        })),
      );
      const counts = new Map<number, number>();
      const handler = async (message: ClaimedMessage) => {
        counts.set(message.id, (counts.get(message.id) ?? 0) + 1);
        await new Promise((resolve) => setTimeout(resolve, 5));
        await processInboundJob({ db: t.db, copyMedia: copyOk })(message);
      };
      const a = newWorker(t.db, handler, { concurrency: 5 });
      const b = newWorker(t.db, handler, { concurrency: 5 });
      await Promise.all([a.runUntilIdle(), b.runUntilIdle()]);
      assert.equal(counts.size, 50);
      assert.ok(
        [...counts.values()].every((n) => n === 1),
        'no message processed twice',
      );
      const rows = await t.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM messages WHERE processed AND id = ANY($1::bigint[])`,
        [ids],
      );
      assert.equal(rows[0]?.n, 50);
    } finally {
      await t.destroy();
    }
  });
});

describe('claiming', () => {
  /** A queue that never has work; `onClaim` sees each claim's slot count. */
  const emptyQueue = (onClaim: (limit: number) => void): JobQueue<ClaimedJob> => ({
    name: 'fake',
    channel: 'taskwire_fake_queue',
    async claim(_db, limit) {
      onClaim(limit);
      return [];
    },
    markFailed: async () => undefined,
    extendLease: async () => true,
  });

  test('a burst of wake-ups leads to one claim for all free slots, not one claim per wake-up', async () => {
    const t = await pglite.create();
    const claims: number[] = [];
    const queue = emptyQueue((limit) => claims.push(limit));
    const worker = createQueueWorker(
      t.db,
      queue,
      async () => {},
      workerOptions({ pollMs: 60_000 }),
    );
    try {
      await worker.start();
      await waitFor(async () => claims.length === 1);
      // As when a batch of 50 stored webhooks wakes the worker once each.
      for (let i = 0; i < 50; i += 1) worker.wake();
      await waitFor(async () => claims.length === 2);
      // Give a claim per wake-up every chance to show up: several turns of the event loop.
      for (let i = 0; i < 10; i += 1) await new Promise((resolve) => setImmediate(resolve));
      await t.db.query('SELECT 1');
      assert.deepEqual(claims, [4, 4], 'one claim at start, one for the burst, each for 4 slots');
    } finally {
      await worker.stop(100);
      await t.destroy();
    }
  });

  test('while webhooks are being stored claims wait, then go ahead; never longer than pollMs', async () => {
    const t = await pglite.create();
    const claimTimes: number[] = [];
    const queue = emptyQueue(() => claimTimes.push(performance.now()));
    let storing = true;
    let checks = 0;
    const patient = createQueueWorker(
      t.db,
      queue,
      async () => {},
      workerOptions({ pollMs: 60_000 }),
    );
    patient.yieldTo(() => {
      checks += 1;
      return storing;
    });
    try {
      await patient.start();
      await waitFor(async () => claimTimes.length === 1);
      const checked = checks;
      for (let i = 0; i < 5; i += 1) patient.wake();
      // The woken worker asks again every 10 ms or so: once it has asked five times and been
      // told each time that webhooks are being stored, it must have held every claim back.
      await waitFor(async () => checks >= checked + 5);
      assert.equal(claimTimes.length, 1, 'no claim while webhooks are being stored');
      storing = false;
      await waitFor(async () => claimTimes.length === 2);
    } finally {
      await patient.stop(100);
    }

    // A store that never goes idle delays claims by at most pollMs each: work still moves.
    claimTimes.length = 0;
    storing = true;
    const bounded = createQueueWorker(t.db, queue, async () => {}, workerOptions({ pollMs: 50 }));
    bounded.yieldTo(() => storing);
    try {
      await bounded.start();
      await waitFor(async () => claimTimes.length >= 3, 5_000);
    } finally {
      await bounded.stop(100);
      await t.destroy();
    }
  });
});

describe('event-loop load', () => {
  // The real utilization depends on how loaded the machine is, so the logic is tested on a
  // stand-in for Node's counters: cumulative milliseconds the loop was idle and active.
  let idle = 0;
  let active = 0;
  const spend = (activeMs: number, idleMs: number) => {
    active += activeMs;
    idle += idleMs;
  };
  beforeEach(() => {
    idle = 0;
    active = 0;
    mock.timers.enable({ apis: ['setInterval'] });
    const share = (i: number, a: number) => ({ idle: i, active: a, utilization: a / (i + a || 1) });
    mock.method(
      performance,
      'eventLoopUtilization',
      (current?: EventLoopUtilization, previous?: EventLoopUtilization) =>
        current
          ? share(current.idle - (previous?.idle ?? 0), current.active - (previous?.active ?? 0))
          : share(idle, active),
    );
  });
  afterEach(() => {
    mock.restoreAll();
    mock.timers.reset();
  });

  test('saturated after an interval spent mostly running code, not after one spent waiting', () => {
    const load = watchEventLoopLoad({ intervalMs: 50, threshold: 0.7 });
    try {
      assert.equal(load.saturated(), false, 'nothing measured yet');
      // Work back to back, as a flood of webhooks keeps the loop busy.
      spend(45, 5);
      mock.timers.tick(50);
      assert.equal(load.utilization(), 0.9);
      assert.equal(load.saturated(), true);
      // Waiting (as on a slow database) leaves the loop idle: only the last interval counts.
      spend(5, 45);
      mock.timers.tick(50);
      assert.equal(load.utilization(), 0.1);
      assert.equal(load.saturated(), false);
      // The threshold itself counts as saturated.
      spend(35, 15);
      mock.timers.tick(50);
      assert.equal(load.saturated(), true);
    } finally {
      load.stop();
    }
    // Stopped: no more measurements.
    spend(0, 50);
    mock.timers.tick(50);
    assert.equal(load.saturated(), true);
  });
});
