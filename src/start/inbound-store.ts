import { isDataError, sqlState } from '../db/data-errors.js';
import type { Database } from '../db/executor.js';
import { createGroupCommitter } from '../db/group-commit.js';
import { inboundQueue } from '../db/message-queue.js';
import { insertMessages } from '../db/messages.js';
import { AppError } from '../domain/errors.js';
import type { InboundMessage } from '../domain/message.js';
import type { InboundMessageStore } from '../services/receive-inbound.js';

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

interface Notifier {
  /** Asks for a NOTIFY: sent now, or at the end of the current interval. */
  notify(): void;
  /** Sends a NOTIFY still scheduled, and waits for the one being sent. */
  flush(): Promise<void>;
}

/**
 * Throttles NOTIFYs to one per `intervalMs`, leading and trailing edge: the first request
 * after a quiet interval is sent at once (an idle worker starts without delay), requests
 * within the interval collapse into one sent at its end (the last rows of a burst are
 * announced too). The NOTIFY is its own statement, not part of the INSERT: a transaction
 * that notifies holds Postgres's notification-queue lock through its commit's WAL flush,
 * which stops concurrent inserts from sharing one flush. A NOTIFY that fails is not
 * retried: it only wakes workers early, and they poll for due work anyway.
 */
function createNotifier(send: () => Promise<void>, intervalMs: number): Notifier {
  let lastSentAt = Number.NEGATIVE_INFINITY;
  let timer: NodeJS.Timeout | null = null;
  let sending: Promise<void> = Promise.resolve();

  const fire = (): void => {
    timer = null;
    lastSentAt = performance.now();
    const previous = sending;
    sending = Promise.all([previous, send().catch(() => {})]).then(() => {});
  };

  return {
    notify() {
      if (timer) return;
      const wait = lastSentAt + intervalMs - performance.now();
      if (wait <= 0) fire();
      else timer = setTimeout(fire, wait);
    },
    async flush() {
      if (timer) {
        clearTimeout(timer);
        fire();
      }
      await sending;
    },
  };
}
