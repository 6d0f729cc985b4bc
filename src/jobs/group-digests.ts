import type { Database } from '../db/executor.js';
import { maskPhoneNumbers } from '../domain/redact.js';
import { type GroupNewsSettings, runDigestsDue } from '../services/group-news.js';
import type { WorkerLog } from './queue-worker.js';

/** The longest wait between failing runs, in poll intervals. */
const MAX_BACKOFF_POLLS = 30;

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
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> | null = null;
  let stopped = true;
  let failures = 0;

  async function runDue(): Promise<number> {
    const done = await runDigestsDue(db, options.settings, clock());
    if (done > 0) options.log.info({ digests: done }, 'group digests decided');
    return done;
  }

  function schedule(delayMs: number) {
    if (stopped) return;
    timer = setTimeout(() => {
      timer = null;
      running = runDue()
        .then(
          () => {
            failures = 0;
            return options.pollMs;
          },
          (error: unknown) => {
            // While the database is away: one attempt and one log line per 2, 4 … 30 polls.
            failures += 1;
            const retryInMs = options.pollMs * Math.min(2 ** (failures - 1), MAX_BACKOFF_POLLS);
            options.log.error(
              {
                err: maskPhoneNumbers(error instanceof Error ? error.message : String(error)),
                retryInMs,
              },
              'group digest run failed; retrying',
            );
            return retryInMs;
          },
        )
        .then((next) => {
          running = null;
          schedule(next);
        });
    }, delayMs);
    timer.unref();
  }

  return {
    start() {
      stopped = false;
      schedule(0);
    },
    runDue,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await running;
    },
  };
}
