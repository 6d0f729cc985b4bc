import { isDataError, sqlState } from '../db/data-errors.js';
import type { Database } from '../db/executor.js';
import { createGroupCommitter } from '../db/group-commit.js';
import { inboundQueue } from '../db/message-queue.js';
import { insertMessages } from '../db/messages.js';
import { AppError } from '../domain/errors.js';
import type { InboundMessage } from '../domain/message.js';
import type { InboundMessageStore } from '../services/receive-inbound.js';
import { createNotifier } from './throttled-notify.js';

export interface BatchedInboundStore extends InboundMessageStore {
  /** Resolves once every submitted webhook is written and the last NOTIFY sent. */
  drain(): Promise<void>;
  /** True while webhooks wait to be written or are being written. */
  busy(): boolean;
  /**
   * True while a burst is being stored: at least BURST_PENDING webhooks wait to be written
   * or are being written (see service.ts, which holds claims back then).
   */
  bursting(): boolean;
}

/**
 * Webhooks waiting for their commit from which this process counts as taking a burst.
 * A steady stream leaves one or two at a time (at 200/s, 200 × ~10 ms until the commit);
 * 50 senders at once keep dozens waiting. Measured with bench:loop and bench:ingest: with
 * 8, claims wait only during bursts, and 100/s is answered in 15 ms (p50) instead of 44.
 */
export const BURST_PENDING = 8;

/** At most one NOTIFY per this many milliseconds, however many batches commit. */
const NOTIFY_INTERVAL_MS = 100;

/**
 * Stores webhooks through group commit: under load, concurrent webhooks share one INSERT
 * and one commit; each is acknowledged only after its own row is committed. Workers in
 * every process are woken by a NOTIFY sent after the commit (see createNotifier).
 */
export function createInboundStore(db: Database): BatchedInboundStore {
  // Two statements at once: one fills while the other commits. More only splits the same
  // webhooks into smaller batches (measured: 8 in flight made most statements single-row)
  // and leaves connections free for the workers and the admin API.
  const maxInFlight = Math.min(2, db.maxConcurrency);
  const notifier = createNotifier(() => inboundQueue.notify(db), NOTIFY_INTERVAL_MS);
  const committer = createGroupCommitter<InboundMessage, { id: number | null }>({
    maxInFlight,
    maxBatch: 500,
    write: async (messages) => {
      const outcomes = await insertMessages(db, messages);
      // None for a batch of re-deliveries: there is nothing new to process.
      if (outcomes.some((outcome) => outcome.id !== null)) notifier.notify();
      return outcomes;
    },
    // A value Postgres refuses fails the whole INSERT; written again one by one, the
    // other webhooks of the batch are stored and only the offending one fails.
    retryAlone: isDataError,
  });
  return {
    store: (message) =>
      committer.submit(message).catch((error: unknown) => {
        // Written alone and still refused: the message's own fault. A 4xx, not a 500
        // that would look like an outage (Twilio retries neither).
        if (isDataError(error)) {
          throw new AppError(
            'unprocessable',
            `The database refused this message's parameters (SQLSTATE ${sqlState(error)}); ` +
              'it was not stored.',
            { cause: error },
          );
        }
        throw error;
      }),
    async drain() {
      await committer.drain();
      await notifier.flush();
    },
    busy: () => committer.busy(),
    bursting: () => committer.pending() >= BURST_PENDING,
  };
}
