import { foldConversationChanges } from '../db/conversations.js';
import type { Queryable } from '../db/executor.js';
import { createPeriodicJob } from './periodic-job.js';
import type { WorkerLog } from './queue-worker.js';

export interface ConversationFoldJobOptions {
  /** How often to fold; the inbox folds whatever is left when it is read. */
  pollMs: number;
  log: WorkerLog;
}

export interface ConversationFoldJob {
  start(): void;
  stop(): Promise<void>;
}

/**
 * Folds conversation_changes (migration 0024) into the inbox's summaries now and then, so
 * the change table holds only what happened since the last fold even when nobody opens the
 * inbox, and a deleted person's number does not wait there for the next inbox read. Folds
 * wait for one another (an advisory lock) and writers wait for none, so every process may
 * run this job.
 */
export function createConversationFoldJob(
  db: Queryable,
  options: ConversationFoldJobOptions,
): ConversationFoldJob {
  const job = createPeriodicJob({
    name: 'conversation fold',
    pollMs: options.pollMs,
    log: options.log,
    // One fold takes every change committed so far: the next is a poll later.
    run: async () => {
      await foldConversationChanges(db);
      return false;
    },
  });
  return { start: () => void job.start(), stop: () => job.stop() };
}
