import type { Database } from '../db/executor.js';
import { maskPhoneNumbers } from '../domain/redact.js';
import { openNextHabitDue } from '../services/habits.js';
import type { WorkerLog } from './queue-worker.js';

/** The longest wait between failing runs, in poll intervals. */
const MAX_BACKOFF_POLLS = 30;

export interface HabitOccurrenceJobOptions {
  /** How often to look for habits whose next occurrence has opened (WORKER_POLL_MS). */
  pollMs: number;
  log: WorkerLog;
  /** REMINDER_OFFSETS: the stages each occurrence gets, like any task. */
  offsets: readonly number[];
  /** The current time; tests inject a clock and call `runDue()` themselves. */
  clock?: () => Date;
  /** Most habits handled in one run before yielding to the next. */
  batchSize?: number;
}

export interface HabitOccurrenceJob {
  start(): void;
  /** Creates every occurrence that has opened by the clock's now; resolves to the habits seen. */
  runDue(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Habit occurrences, created ahead of their due time: when an occurrence's local day (a
 * quota's week) starts, it becomes a `tasks` row, reminded and expired like any task. Each
 * habit is one transaction that claims it with SKIP LOCKED, creates its occurrence and moves
 * it on; the unique (habit, local date, slot) key makes a second creation a no-op, so any
 * number of processes may run this job.
 */
export function createHabitOccurrenceJob(
  db: Database,
  options: HabitOccurrenceJobOptions,
): HabitOccurrenceJob {
  const clock = options.clock ?? (() => new Date());
  const batchSize = options.batchSize ?? 100;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> | null = null;
  let stopped = true;
  let failures = 0;

  async function runDue(): Promise<number> {
    let done = 0;
    while (
      done < batchSize &&
      (await db.transaction((tx) => openNextHabitDue(tx, clock(), options.offsets)))
    ) {
      done += 1;
    }
    if (done > 0) options.log.info({ habits: done }, 'habit occurrences created');
    return done;
  }

  function schedule(delayMs: number) {
    if (stopped) return;
    timer = setTimeout(() => {
      timer = null;
      running = runDue()
        .then(
          (done) => {
            failures = 0;
            return done === batchSize ? 0 : options.pollMs;
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
              'habit occurrence run failed; retrying',
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
