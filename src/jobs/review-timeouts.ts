import type { Database } from '../db/executor.js';
import { lockNextTimedOutReview } from '../db/reviews.js';
import type { GroupNewsSettings } from '../services/group-news.js';
import { approveNextTimedOut } from '../services/reviews.js';
import { createPeriodicJob, drainBatch } from './periodic-job.js';
import type { WorkerLog } from './queue-worker.js';

export interface ReviewTimeoutOptions {
  /** How often to look (WORKER_POLL_MS). */
  pollMs: number;
  log: WorkerLog;
  /** TZ, for the owner's message. */
  defaultTimezone: string;
  /** How an approved proof is shared with the group. */
  groupNews?: GroupNewsSettings;
  /** The current time; tests inject a clock and call `runDue()` themselves. */
  clock?: () => Date;
  batchSize?: number;
}

export interface ReviewTimeoutJob {
  start(): void;
  /** Approves the reviews whose REVIEW_TIMEOUT passed by the clock's now; how many. */
  runDue(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * A proof nobody decided on within REVIEW_TIMEOUT is approved: its task completed and its
 * points awarded, the owner told. Each review is one transaction that locks its row with
 * SKIP LOCKED and decides it only while still pending, so any number of instances approve
 * each once, and a member's late 👎 finds it decided.
 */
export function createReviewTimeoutJob(
  db: Database,
  options: ReviewTimeoutOptions,
): ReviewTimeoutJob {
  const clock = options.clock ?? (() => new Date());
  const batchSize = options.batchSize ?? 100;

  async function runDue(): Promise<number> {
    const done = await drainBatch(
      () => approveNextTimedOut(db, options, clock(), lockNextTimedOutReview),
      batchSize,
    );
    if (done > 0) options.log.info({ approved: done }, 'reviews approved on timeout');
    return done;
  }

  const job = createPeriodicJob({
    name: 'review timeout',
    pollMs: options.pollMs,
    log: options.log,
    run: async () => (await runDue()) === batchSize,
    // A failing run waits ten polls, each time (no growing back-off).
    retryMs: () => options.pollMs * 10,
  });

  return {
    start: () => void job.start(),
    runDue,
    stop: () => job.stop(),
  };
}
