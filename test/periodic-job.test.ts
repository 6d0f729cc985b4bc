import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPeriodicJob, drainBatch } from '../src/jobs/periodic-job.js';
import { waitFor } from './helpers/worker.js';

// The run loop under the reminder scheduler, habit occurrences, review timeouts and group
// digests (src/jobs/periodic-job.ts); those jobs' own tests cover what each run does.

const recordingLog = () => {
  const errors: { fields: Record<string, unknown>; message: string }[] = [];
  return {
    errors,
    log: {
      info: () => {},
      warn: () => {},
      error: (fields: object, message: string) =>
        errors.push({ fields: fields as Record<string, unknown>, message }),
    },
  };
};

test('failing runs back off 1, 2, 4 polls with one log line each; a success resets the count', async () => {
  const { errors, log } = recordingLog();
  let runs = 0;
  const job = createPeriodicJob({
    name: 'test',
    pollMs: 5,
    log,
    run: async () => {
      runs += 1;
      // Fails three times, succeeds once, then fails again.
      if (runs <= 3 || runs === 5) throw new Error('database unavailable for +15550001234');
      return false;
    },
  });
  await job.start();
  await waitFor(async () => errors.length >= 4, 10_000);
  await job.stop();
  assert.deepEqual(
    errors.slice(0, 4).map((entry) => entry.fields.retryInMs),
    [5, 10, 20, 5],
  );
  assert.equal(errors[0]?.message, 'test run failed; retrying');
  assert.doesNotMatch(String(errors[0]?.fields.err), /5550001234/);
});

test('retryMs replaces the back-off; a full batch runs again at once; wake() runs before the poll is up', async () => {
  const { errors, log } = recordingLog();
  let runs = 0;
  const job = createPeriodicJob({
    name: 'fixed',
    pollMs: 60_000,
    log,
    retryMs: () => 1,
    run: async () => {
      runs += 1;
      if (runs === 1) throw new Error('once');
      // Run 2 says more is due, so run 3 follows at once; then a minute's poll.
      return runs === 2;
    },
  });
  let prepared = false;
  await job.start();
  await waitFor(async () => runs >= 3, 10_000);
  assert.equal(errors[0]?.fields.retryInMs, 1);
  job.wake();
  await waitFor(async () => runs >= 4, 10_000);
  await job.stop();

  const withPrepare = createPeriodicJob({
    name: 'prepared',
    pollMs: 60_000,
    log,
    prepare: async () => {
      prepared = true;
    },
    run: async () => {
      assert.ok(prepared, 'prepare runs before the first run');
      return false;
    },
  });
  await withPrepare.start();
  assert.ok(prepared);
  await withPrepare.stop();
});

test('drainBatch claims until a claim finds nothing or the batch is full, and counts what it did', async () => {
  // Five rows are due; each claim takes one.
  let due = 5;
  let claims = 0;
  const claimOne = async () => {
    claims += 1;
    if (due === 0) return false;
    due -= 1;
    return true;
  };

  // A full batch stops at its size, leaving the rest for the next run, without claiming more.
  assert.equal(await drainBatch(claimOne, 3), 3);
  assert.equal(due, 2);
  assert.equal(claims, 3);

  // The rest: two claims that found a row, then one that found none ends the batch.
  assert.equal(await drainBatch(claimOne, 3), 2);
  assert.equal(due, 0);
  assert.equal(claims, 6);

  // A failing claim rejects the batch (the periodic job backs off).
  await assert.rejects(
    drainBatch(async () => {
      throw new Error('database unavailable');
    }, 3),
    /database unavailable/,
  );
});
