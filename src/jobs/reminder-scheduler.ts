import type { Database } from '../db/executor.js';
import { backfillStages } from '../db/reminders.js';
import { retryWhileUnreachable } from '../db/startup-retry.js';
import { maskPhoneNumbers } from '../domain/redact.js';
import {
  type NoticeSettings,
  expireNextOverdueTask,
  sendNextDueReminder,
} from '../services/task-notices.js';
import { createPeriodicJob, drainBatch } from './periodic-job.js';
import type { WorkerLog } from './queue-worker.js';

export interface ReminderSchedulerOptions {
  /** How often to look for due stages and overdue tasks (WORKER_POLL_MS). */
  pollMs: number;
  log: WorkerLog;
  /** The current time; tests inject a clock and call `runDue()` themselves. */
  clock?: () => Date;
  /** Most tasks expired and stages decided in one run before yielding to the next. */
  batchSize?: number;
  /**
   * DATABASE_CONNECT_TIMEOUT_MS: how long start()'s backfill is retried while the database
   * is unreachable, as opening it was (default 0: once).
   */
  startupRetryMs?: number;
}

export interface ReminderScheduler {
  /** Gives active tasks their missing stages, then runs every `pollMs`. */
  start(): Promise<void>;
  /** Expires overdue tasks, then decides due reminder stages, as of the clock's now. */
  runDue(): Promise<{ expired: number; reminders: number }>;
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>;
}

/**
 * Reminders and expiry, driven by time rather than by a queue: every `pollMs` one run
 * expires the tasks whose due time passed, then decides the reminder stages whose time
 * came. Every step is one transaction that locks its row with SKIP LOCKED, so any number of
 * processes may run a scheduler: each stage and each expiry happens once.
 */
export function createReminderScheduler(
  db: Database,
  settings: NoticeSettings,
  options: ReminderSchedulerOptions,
): ReminderScheduler {
  const clock = options.clock ?? (() => new Date());
  const batchSize = options.batchSize ?? 100;

  async function runDue() {
    // Expiry first: after downtime, a task both overdue and with due stages expires and
    // its stages are cancelled, rather than reminding about a task already past due.
    const expired = await drainBatch(() => expireNextOverdueTask(db, settings, clock()), batchSize);
    const reminders = await drainBatch(() => sendNextDueReminder(db, settings, clock()), batchSize);
    if (expired + reminders > 0) {
      options.log.info({ expired, reminders }, 'reminders and expiry decided');
    }
    return { expired, reminders };
  }

  const job = createPeriodicJob({
    name: 'reminder',
    pollMs: options.pollMs,
    log: options.log,
    // A full batch means more is due: go on at once rather than after pollMs.
    run: async () => {
      const { expired, reminders } = await runDue();
      return expired === batchSize || reminders === batchSize;
    },
    // Active tasks get their missing stages before the first run.
    // A database away for a moment just then delays the start rather than failing it.
    prepare: async () => {
      await retryWhileUnreachable(() => backfillStages(db, settings.offsets, clock()), {
        budgetMs: options.startupRetryMs ?? 0,
        onRetry: (error, waitedMs) =>
          options.log.warn(
            { err: maskPhoneNumbers((error as Error).message ?? String(error)), waitedMs },
            'reminder backfill: database not reachable yet; retrying',
          ),
      });
    },
  });

  return { start: () => job.start(), runDue, stop: () => job.stop() };
}
