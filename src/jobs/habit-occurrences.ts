import type { Database } from '../db/executor.js';
import { openNextHabitDue } from '../services/habits.js';
import { createPeriodicJob, drainBatch } from './periodic-job.js';
import type { WorkerLog } from './queue-worker.js';

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

  async function runDue(): Promise<number> {
    const done = await drainBatch(
      () => db.transaction((tx) => openNextHabitDue(tx, clock(), options.offsets)),
      batchSize,
    );
    if (done > 0) options.log.info({ habits: done }, 'habit occurrences created');
    return done;
  }

  const job = createPeriodicJob({
    name: 'habit occurrence',
    pollMs: options.pollMs,
    log: options.log,
    // A full batch means more has opened: go on at once rather than after pollMs.
    run: async () => (await runDue()) === batchSize,
  });

  return {
    start: () => void job.start(),
    runDue,
    stop: () => job.stop(),
  };
}
