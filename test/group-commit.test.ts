import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createGroupCommitter } from '../src/db/group-commit.js';
import { INBOUND_CHANNEL, findMessageBySid } from '../src/db/messages.js';
import { BURST_PENDING, createInboundStore } from '../src/start/inbound-store.js';
import { parseInboundParams } from '../src/twilio/inbound-params.js';
import { engines, type TestDatabase } from './helpers/databases.js';
import { newMessageSid, whatsAppParams } from './helpers/twilio-webhook.js';
import { waitFor } from './helpers/worker.js';

/** A committer over a fake write that records every batch and can be held open. */
function recordingCommitter(maxInFlight: number) {
  const batches: number[][] = [];
  let running = 0;
  let mostRunning = 0;
  let hold: Promise<void> = Promise.resolve();
  const committer = createGroupCommitter<number, number>({
    maxInFlight,
    maxBatch: 100,
    async write(items) {
      batches.push(items);
      running += 1;
      mostRunning = Math.max(mostRunning, running);
      await hold;
      running -= 1;
      if (items.includes(-1)) throw new Error('write failed');
      return items.map((item) => item * 10);
    },
  });
  return {
    committer,
    batches,
    mostRunning: () => mostRunning,
    holdWrites() {
      let release = () => {};
      hold = new Promise<void>((resolve) => {
        release = resolve;
      });
      return release;
    },
  };
}

describe('group commit', () => {
  test('items submitted together are written by one statement, each caller gets its own result', async () => {
    const { committer, batches } = recordingCommitter(2);
    const results = await Promise.all([1, 2, 3, 4, 5].map((item) => committer.submit(item)));
    assert.deepEqual(results, [10, 20, 30, 40, 50]);
    assert.deepEqual(batches, [[1, 2, 3, 4, 5]]);
  });

  test('never runs more statements than allowed; what arrives meanwhile goes in the next one', async () => {
    const recording = recordingCommitter(1);
    const release = recording.holdWrites();
    const first = recording.committer.submit(1);
    await waitFor(async () => recording.batches.length === 1);
    const later = [2, 3, 4].map((item) => recording.committer.submit(item));
    release();
    assert.deepEqual(await Promise.all([first, ...later]), [10, 20, 30, 40]);
    assert.deepEqual(recording.batches, [[1], [2, 3, 4]]);
    assert.equal(recording.mostRunning(), 1);
  });

  test('pending() counts the items being written and those waiting, and only them', async () => {
    const recording = recordingCommitter(1);
    assert.equal(recording.committer.pending(), 0);
    const release = recording.holdWrites();
    const first = [1, 2].map((item) => recording.committer.submit(item));
    await waitFor(async () => recording.batches.length === 1);
    const waiting = [3, 4, 5].map((item) => recording.committer.submit(item));
    assert.equal(recording.committer.pending(), 5);
    release();
    await Promise.all(first);
    await Promise.all(waiting);
    assert.equal(recording.committer.pending(), 0);
    // A failed statement's items stop counting too.
    await assert.rejects(recording.committer.submit(-1));
    assert.equal(recording.committer.pending(), 0);
  });

  test('pending() counts down item by item while a refused batch is written again one by one', async () => {
    const gates: (() => void)[] = [];
    const open = () => (gates.shift() as () => void)();
    const committer = createGroupCommitter<number, number>({
      maxInFlight: 1,
      maxBatch: 100,
      async write(items) {
        if (items.length > 1) throw new Error('refused together');
        await new Promise<void>((resolve) => gates.push(resolve));
        if (items[0] === -1) throw new Error('refused alone');
        return items.map((item) => item * 10);
      },
      retryAlone: () => true,
    });
    const results = [1, -1, 2].map((item) => committer.submit(item).catch(() => 'refused'));
    for (const [index, left] of [3, 2, 1].entries()) {
      await waitFor(async () => gates.length === 1);
      assert.equal(committer.pending(), left);
      open();
      await results[index];
    }
    assert.deepEqual(await Promise.all(results), [10, 'refused', 20]);
    assert.equal(committer.pending(), 0);
  });

  test('a failed statement fails its own items only, and drain() waits for everything', async () => {
    const recording = recordingCommitter(1);
    const release = recording.holdWrites();
    const ok = recording.committer.submit(1);
    await waitFor(async () => recording.batches.length === 1);
    const failing = [recording.committer.submit(-1), recording.committer.submit(2)];
    assert.equal(recording.committer.busy(), true);
    const drained = recording.committer.drain();
    release();
    await drained;
    assert.equal(recording.committer.busy(), false);
    assert.equal(await ok, 10);
    for (const result of await Promise.allSettled(failing)) {
      assert.equal(result.status, 'rejected');
    }
  });
});

for (const engine of engines) {
  describe(`inbound store [${engine.name}]`, { skip: engine.skip }, () => {
    let t: TestDatabase;
    let notifications = 0;
    let unlisten: () => Promise<void> = async () => {};
    before(async () => {
      t = await engine.create();
      unlisten = await t.db.listen(INBOUND_CHANNEL, () => {
        notifications += 1;
      });
    });
    after(async () => {
      await unlisten();
      await t?.destroy();
    });

    const message = (messageSid = newMessageSid()) =>
      parseInboundParams(whatsAppParams({ messageSid, body: 'done' }));

    test('concurrent webhooks share a statement, a duplicate MessageSid stores one row', async () => {
      const store = createInboundStore(t.db);
      const sid = newMessageSid();
      const outcomes = await Promise.all([
        store.store(message(sid)),
        store.store(message(sid)),
        store.store(message()),
      ]);
      assert.equal(outcomes.filter((outcome) => outcome.id !== null).length, 2);
      assert.equal(outcomes[1]?.id, null, 'the second copy of a sid is a re-delivery');
      assert.equal((await findMessageBySid(t.db, sid))?.id, outcomes[0]?.id);
      await store.drain();
    });

    test('workers are notified after new rows, also for the last rows of a burst, not for re-deliveries', async () => {
      const store = createInboundStore(t.db);
      const before = notifications;
      const sid = newMessageSid();
      await store.store(message(sid));
      await waitFor(async () => notifications > before);

      // Right after the first NOTIFY: this one is announced at the end of the interval.
      const countAfterFirst = notifications;
      await store.store(message());
      await waitFor(async () => notifications > countAfterFirst);

      // A re-delivery creates nothing, so nothing is announced.
      await store.drain();
      await waitFor(async () => !store.busy());
      const settled = notifications;
      await store.store(message(sid));
      await store.drain();
      // A NOTIFY sent by drain() would be delivered by now on either engine.
      await t.db.query('SELECT 1');
      assert.equal(notifications, settled);
    });

    test('bursting() from BURST_PENDING webhooks waiting for their commit, not below', async () => {
      const store = createInboundStore(t.db);
      const few = Array.from({ length: BURST_PENDING - 1 }, () => store.store(message()));
      assert.equal(store.busy(), true);
      assert.equal(store.bursting(), false, 'a few webhooks at once are a steady stream');
      const last = store.store(message());
      assert.equal(store.bursting(), true);
      await Promise.all([...few, last]);
      assert.equal(store.bursting(), false);
      await store.drain();
    });
  });
}
