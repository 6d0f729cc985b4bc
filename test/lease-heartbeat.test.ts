import assert from 'node:assert/strict';
import { describe, mock, test } from 'node:test';
import { loadConfig } from '../src/config/config.js';
import { migrate } from '../src/db/migrate.js';
import { inboundQueue } from '../src/db/message-queue.js';
import { enqueueOutbound, outboundQueue } from '../src/db/outbound.js';
import type { Database } from '../src/db/executor.js';
import { ClaimLostError } from '../src/domain/processing-errors.js';
import {
  type ClaimedJob,
  type JobQueue,
  createQueueWorker,
  keepClaim,
} from '../src/jobs/queue-worker.js';
import { openDatabase } from '../src/start/database.js';
import { makeTempDir } from './helpers/databases.js';
import { TEST_API_TOKEN, TEST_AUTH_TOKEN } from './helpers/twilio-webhook.js';
import { storeMessages, workerOptions } from './helpers/worker.js';

/** Lets the promise callbacks queued by a timer that just fired run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('the lease heartbeat of a running job', () => {
  test('renews every third of the lease; a failed renewal is retried within a second; none overlap', async (t) => {
    mock.timers.enable({ apis: ['setTimeout'] });
    t.after(() => mock.timers.reset());
    const calls: string[] = [];
    let answer: () => Promise<boolean> = async () => true;
    const stop = keepClaim(
      () => {
        calls.push('renew');
        return answer();
      },
      30_000,
      () => calls.push('lost'),
    );
    t.after(stop);

    mock.timers.tick(9_999);
    await settle();
    assert.deepEqual(calls, [], 'nothing before a third of the lease');
    mock.timers.tick(1);
    await settle();
    assert.deepEqual(calls, ['renew']);

    // The database fails once: retried a second later, not ten.
    answer = async () => {
      throw new Error('connection terminated');
    };
    mock.timers.tick(10_000);
    await settle();
    assert.equal(calls.length, 2);
    answer = async () => true;
    mock.timers.tick(1_000);
    await settle();
    assert.equal(calls.length, 3, 'retried after a second');

    // A renewal that hangs (a stalled connection) is not joined by more of them.
    let unblock: (kept: boolean) => void = () => {};
    answer = () => new Promise<boolean>((resolve) => (unblock = resolve));
    mock.timers.tick(10_000);
    await settle();
    assert.equal(calls.length, 4);
    for (let i = 0; i < 5; i += 1) {
      mock.timers.tick(10_000);
      await settle();
    }
    assert.equal(calls.length, 4, 'one renewal in flight at a time');
    answer = async () => true;
    unblock(true);
    await settle();
    mock.timers.tick(10_000);
    await settle();
    assert.equal(calls.length, 5, 'the heartbeat goes on once it answers');
  });

  test('stops once a renewal finds the claim gone, and after stop() renews nothing', async (t) => {
    mock.timers.enable({ apis: ['setTimeout'] });
    t.after(() => mock.timers.reset());
    const lost: string[] = [];
    let renewals = 0;
    keepClaim(
      async () => {
        renewals += 1;
        return false;
      },
      3_000,
      () => lost.push('lost'),
    );
    for (let i = 0; i < 3; i += 1) {
      mock.timers.tick(1_000);
      await settle();
    }
    assert.equal(renewals, 1);
    assert.deepEqual(lost, ['lost']);

    let after = 0;
    const stop = keepClaim(
      async () => {
        after += 1;
        return true;
      },
      3_000,
      () => {},
    );
    stop();
    mock.timers.tick(10_000);
    await settle();
    assert.equal(after, 0);
  });
});

describe('the warning that a running job lost its claim', () => {
  const LEASE_MS = 3_000;
  const HEARTBEAT_MS = 1_000;

  /**
   * A worker over a fake queue holding one job: the test resolves the job's one renewal
   * (`renewal`) and the job itself (`finishJob`). The worker reaches the database only
   * through the queue, which here needs none.
   */
  function oneJobWorker() {
    const warnings: string[] = [];
    const control = {
      renewals: 0,
      renewal: (_kept: boolean) => {},
      finishJob: (_error?: Error) => {},
    };
    let claimed = false;
    const queue: JobQueue<ClaimedJob> = {
      name: 'fake',
      channel: 'taskwire_fake_queue',
      async claim() {
        if (claimed) return [];
        claimed = true;
        return [{ id: 1, attempts: 1, claims: 1 }];
      },
      markFailed: async () => undefined,
      extendLease() {
        control.renewals += 1;
        return new Promise<boolean>((resolve) => (control.renewal = resolve));
      },
    };
    const worker = createQueueWorker(
      {} as Database,
      queue,
      () =>
        new Promise<void>((resolve, reject) => {
          control.finishJob = (error) => (error ? reject(error) : resolve());
        }),
      workerOptions({
        leaseMs: LEASE_MS,
        log: { info() {}, error() {}, warn: (_obj, msg) => warnings.push(msg) },
      }),
    );
    return { worker, warnings, control };
  }

  const claimWarnings = (warnings: string[]) => warnings.filter((w) => /claim lost/.test(w));

  test('is not given when the renewal met the job’s own final commit, answered before the job’s', async (t) => {
    mock.timers.enable({ apis: ['setTimeout'] });
    t.after(() => mock.timers.reset());
    const { worker, warnings, control } = oneJobWorker();
    const run = worker.runUntilIdle();
    await settle();
    mock.timers.tick(HEARTBEAT_MS);
    await settle();
    assert.equal(control.renewals, 1, 'a renewal is in flight');
    // The job's final transaction commits (the row is no longer processing): the renewal
    // finds nothing to renew, and its answer comes before the commit's reaches the job.
    control.renewal(false);
    await settle();
    control.finishJob();
    assert.equal(await run, 1);
    mock.timers.tick(10 * LEASE_MS);
    await settle();
    assert.deepEqual(claimWarnings(warnings), []);
    assert.equal(control.renewals, 1, 'the heartbeat stopped');
  });

  test('is given once the job is still running a heartbeat after the renewal found the claim gone', async (t) => {
    mock.timers.enable({ apis: ['setTimeout'] });
    t.after(() => mock.timers.reset());
    const { worker, warnings, control } = oneJobWorker();
    const run = worker.runUntilIdle();
    await settle();
    mock.timers.tick(HEARTBEAT_MS);
    await settle();
    control.renewal(false);
    await settle();
    mock.timers.tick(HEARTBEAT_MS - 1);
    await settle();
    assert.deepEqual(claimWarnings(warnings), [], 'not before a heartbeat');
    mock.timers.tick(1);
    await settle();
    assert.deepEqual(claimWarnings(warnings), [
      'claim lost while running (the lease ran out); its result will be discarded',
    ]);
    // Its final transaction then finds the claim gone, as a job that lost it does.
    control.finishJob(new ClaimLostError(1));
    await run;
    assert.deepEqual(claimWarnings(warnings), [
      'claim lost while running (the lease ran out); its result will be discarded',
      'claim lost before completion; result discarded',
    ]);
    assert.equal(control.renewals, 1);
  });
});

describe('opening the embedded database', () => {
  test('releases every claim a dead process left on both queues, however long their lease', async (t) => {
    const temp = makeTempDir();
    t.after(() => temp.remove());
    const config = loadConfig(
      { DATA_DIR: temp.dir, API_TOKEN: TEST_API_TOKEN, TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN },
      { cwd: temp.dir },
    );
    const first = await openDatabase(config);
    const db = first.db;
    await migrate(db);
    const [messageId] = await storeMessages(db, [{ body: 'hello' }]);
    await enqueueOutbound(db, {
      kind: 'send',
      inboundMessageId: null,
      userId: null,
      to: 'whatsapp:+15550001234',
      from: 'whatsapp:+14155238886',
      body: 'hi',
    });
    const hour = 60 * 60_000;
    const [claimed] = await inboundQueue.claim(db, 10, hour);
    assert.equal(claimed?.id, messageId);
    assert.equal((await outboundQueue.claim(db, 10, hour)).length, 1);
    // As after SIGKILL: the claims stay behind (released here only to reopen in-process).
    await first.release();

    const second = await openDatabase(config);
    t.after(() => second.release());
    const [message] = await second.db.query<{ processing_status: string; attempts: number }>(
      'SELECT processing_status, attempts FROM messages WHERE id = $1',
      [messageId],
    );
    assert.deepEqual(message, { processing_status: 'pending', attempts: 1 });
    const again = await inboundQueue.claim(second.db, 10, hour);
    assert.equal(again.length, 1, 'claimable at once');
    assert.equal(again[0]?.attempts, 2, 'the killed attempt counts');
    assert.equal((await outboundQueue.claim(second.db, 10, hour)).length, 1);
  });
});
