import { maskPhoneNumbers } from '../domain/redact.js';
import type { WorkerLog } from './queue-worker.js';

/** The longest wait between failing runs, in poll intervals. */
const MAX_BACKOFF_POLLS = 30;

/**
 * One batch of a job whose every step is one transaction that claims one due row with SKIP
 * LOCKED: `claimOne` runs, one call after another, until it finds nothing more or
 * `batchSize` calls did something. Resolves to how many did; a full batch (`=== batchSize`)
 * means more may be due, and the periodic job's `run` says so to go on at once. One row per
 * transaction keeps each lock short and lets any number of processes share the work.
 */
export async function drainBatch(
  claimOne: () => Promise<boolean>,
  batchSize: number,
): Promise<number> {
  let done = 0;
  while (done < batchSize && (await claimOne())) done += 1;
  return done;
}

export interface PeriodicJobOptions {
  /** Names the job in its failure log line: `<name> run failed; retrying`. */
  name: string;
  /** The wait between runs that found nothing more to do. */
  pollMs: number;
  log: WorkerLog;
  /** One run; resolves to true when more may be due at once (a full batch). */
  run: () => Promise<boolean>;
  /** Done once by start() before the first run (e.g. a backfill); its failure rejects start(). */
  prepare?: () => Promise<void>;
  /** The wait after the `failures`-th failing run in a row; by default 1, 2, 4 … 30 polls. */
  retryMs?: (failures: number) => number;
}

export interface PeriodicJob {
  /** Runs at once, then every `pollMs` (at once again after a full batch). */
  start(): Promise<void>;
  /** Runs at once rather than at the end of the current wait. */
  wake(): void;
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>;
}

/**
 * The run loop the time-driven jobs share: one run at a time, the next `pollMs` after the
 * last (at once after a full batch), and a back-off while runs keep failing (the database is
 * away): one attempt, and one log line, per 2, 4, … up to 30 poll intervals rather than every
 * poll. The timer is unref'd: a job never keeps the process alive on its own.
 */
export function createPeriodicJob(options: PeriodicJobOptions): PeriodicJob {
  const retryMs =
    options.retryMs ??
    ((failures: number) => options.pollMs * Math.min(2 ** (failures - 1), MAX_BACKOFF_POLLS));
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> | null = null;
  let stopped = true;
  // Runs that failed in a row; reset by one that succeeds.
  let failures = 0;
  // A wake() that came in during a run: the next run starts at once.
  let woken = false;

  function schedule(delayMs: number) {
    if (stopped) return;
    timer = setTimeout(() => {
      timer = null;
      woken = false;
      running = options
        .run()
        .then(
          (more) => {
            failures = 0;
            return more ? 0 : options.pollMs;
          },
          (error: unknown) => {
            failures += 1;
            const retryInMs = retryMs(failures);
            options.log.error(
              {
                err: maskPhoneNumbers(error instanceof Error ? error.message : String(error)),
                retryInMs,
              },
              `${options.name} run failed; retrying`,
            );
            return retryInMs;
          },
        )
        .then((next) => {
          running = null;
          schedule(woken ? 0 : next);
        });
    }, delayMs);
    timer.unref();
  }

  return {
    async start() {
      stopped = false;
      await options.prepare?.();
      schedule(0);
    },
    wake() {
      if (stopped) return;
      if (running) {
        woken = true;
      } else if (timer) {
        clearTimeout(timer);
        schedule(0);
      }
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await running;
    },
  };
}
