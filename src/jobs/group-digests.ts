import type { Database } from '../db/executor.js';
import { type GroupNewsSettings, runDigestsDue } from '../services/group-news.js';
import { createPeriodicJob } from './periodic-job.js';
import type { WorkerLog } from './queue-worker.js';

export interface GroupDigestJobOptions {
  /** How often to look for digests that have come due (a minute is plenty: they are daily). */
  pollMs: number;
  log: WorkerLog;
  settings: GroupNewsSettings;
  /** The current time; tests inject a clock and call `runDue()` themselves. */
  clock?: () => Date;
}

export interface GroupDigestJob {
  start(): void;
  /** Decides every digest due by the clock's now; resolves to the digests decided. */
  runDue(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * The daily share digests and the Sunday digest of every group, at the group's evening hour
 * in its zone (src/services/group-news.ts). Each digest is claimed by a unique row (group,
 * member, kind, local date) in the transaction that records its message, so any number of
 * processes may run this job and each member still gets each digest once.
 */
export function createGroupDigestJob(db: Database, options: GroupDigestJobOptions): GroupDigestJob {
  const clock = options.clock ?? (() => new Date());

  async function runDue(): Promise<number> {
    const done = await runDigestsDue(db, options.settings, clock());
    if (done > 0) options.log.info({ digests: done }, 'group digests decided');
    return done;
  }

  const job = createPeriodicJob({
    name: 'group digest',
    pollMs: options.pollMs,
    log: options.log,
    // One run decides every digest due: the next is a poll later.
    run: async () => {
      await runDue();
      return false;
    },
  });

  return {
    start: () => void job.start(),
    runDue,
    stop: () => job.stop(),
  };
}
