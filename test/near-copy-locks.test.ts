import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  BAND_LOCK_MAX_DISTANCE,
  lockNearCopyChecks,
  type NearCopyLocks,
  nearCopyLocks,
  PROOF_DHASH_BANDS,
} from '../src/db/proofs.js';
import { lockWaiters, postgres, type TestDatabase } from './helpers/databases.js';
import { HEX, hashes } from './helpers/hashes.js';
import { waitFor } from './helpers/worker.js';

// Near-copy checks lock the bands of their photo's difference hash, not the whole
// deployment (src/db/proofs.ts, nearCopyLocks): two photos within the distance must
// contend for a lock (else both checks find nothing and both post), two unrelated photos
// must not (else every proof in the deployment waits for every other one's commit).

/** Keys as `space/value`, with the mode taken. */
const keys = (locks: NearCopyLocks) =>
  locks.space.map((space, i) => ({
    key: `${space}/${locks.value[i]}`,
    exclusive: locks.exclusive[i] as boolean,
  }));

/** Whether two checks holding these locks would wait for each other. */
const conflict = (a: NearCopyLocks, b: NearCopyLocks): boolean => {
  const held = new Map(keys(a).map(({ key, exclusive }) => [key, exclusive]));
  return keys(b).some(({ key, exclusive }) => held.has(key) && (exclusive || held.get(key)));
};

test('near copies within the distance always contend for a lock (generated, worst case spread)', () => {
  const { hash, flip } = hashes(14);
  for (let d = 1; d <= BAND_LOCK_MAX_DISTANCE; d += 1) {
    for (let i = 0; i < 300; i += 1) {
      const original = hash();
      // Up to d bits apart, as evenly over the bands as possible (the pigeonhole's worst case).
      const copy = flip(original, 1 + (i % d), true);
      const a = nearCopyLocks(HEX(original), d);
      const b = nearCopyLocks(HEX(copy), d);
      assert.ok(conflict(a, b), `d=${d}: ${HEX(original)} and ${HEX(copy)} must wait`);
      assert.ok(conflict(b, a));
    }
  }
});

test('unrelated photos share no exclusive lock; the deployment-wide one is shared', () => {
  const { hash } = hashes(15);
  let conflicts = 0;
  for (let i = 0; i < 1000; i += 1) {
    if (conflict(nearCopyLocks(HEX(hash()), 6), nearCopyLocks(HEX(hash()), 6))) conflicts += 1;
  }
  // By chance a band of one is within a bit of the other's: 4 × 17 / 65536 ≈ 0.1 %.
  assert.ok(conflicts <= 5, `${conflicts} of 1000 unrelated pairs would wait`);
  const locks = nearCopyLocks('0123456789abcdef', 6);
  assert.equal(locks.space[0], null, 'the deployment-wide lock first');
  assert.equal(locks.exclusive[0], false);
  assert.equal(
    locks.space.length,
    1 + PROOF_DHASH_BANDS * 17,
    'own value and 16 neighbours a band',
  );
});

test('keys come in one order (no deadlock between checks) and above the band limit one lock waits for all', () => {
  const locks = nearCopyLocks('fedcba9876543210', 6);
  const order = locks.space
    .slice(1)
    .map((space, i) => ({ space: space as number, value: locks.value[i + 1] as number }));
  const sorted = [...order].sort((x, y) => x.space - y.space || x.value - y.value);
  assert.deepEqual(order, sorted);
  assert.deepEqual(nearCopyLocks('fedcba9876543210', BAND_LOCK_MAX_DISTANCE + 1), {
    space: [null],
    value: [null],
    exclusive: [true],
  });
});

describe('near-copy locks in Postgres', { skip: postgres.skip }, () => {
  let database: TestDatabase;
  before(async () => {
    database = await postgres.create();
  });
  after(async () => {
    await database?.destroy();
  });

  /** Opens a transaction holding `locks` until `release()`; resolves once they are held. */
  const hold = async (locks: NearCopyLocks) => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let held!: () => void;
    const holding = new Promise<void>((resolve) => (held = resolve));
    const done = database.db.transaction(async (tx) => {
      await lockNearCopyChecks(tx, locks);
      held();
      await released;
    });
    await holding;
    return { release, done };
  };

  test('an unrelated photo is checked while another check holds its locks', async () => {
    const first = await hold(nearCopyLocks('0000000000000000', 6));
    try {
      // Every band 16 bits away: no lock in common, so this commits without waiting (a
      // lock wait would fail it after 5 s).
      await database.db.transaction(async (tx) => {
        await tx.query(`SET LOCAL lock_timeout = '5s'`);
        await lockNearCopyChecks(tx, nearCopyLocks('ffffffffffffffff', 6));
      });
    } finally {
      first.release();
      await first.done;
    }
  });

  test('a near copy waits for the check holding the locks, and goes on once it commits', async () => {
    const first = await hold(nearCopyLocks('0000000000000000', 6));
    let secondDone = false;
    // Six bits apart, one or two in each band.
    const second = database.db
      .transaction((tx) => lockNearCopyChecks(tx, nearCopyLocks('0001000300010003', 6)))
      .then(() => {
        secondDone = true;
      });
    await waitFor(async () => ((await lockWaiters(database.db, 'advisory')) > 0 ? true : null));
    assert.equal(secondDone, false, 'still waiting while the first holds its locks');
    first.release();
    await first.done;
    await second;
  });

  test('a check above the band limit waits for band checks, and they for it', async () => {
    const band = await hold(nearCopyLocks('0000000000000000', 6));
    const wide = database.db.transaction((tx) =>
      lockNearCopyChecks(tx, nearCopyLocks('ffffffffffffffff', BAND_LOCK_MAX_DISTANCE + 4)),
    );
    await waitFor(async () => ((await lockWaiters(database.db, 'advisory')) > 0 ? true : null));
    band.release();
    await band.done;
    await wide;
  });
});
