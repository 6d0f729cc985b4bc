// NOTIFYs sent after commits, at most one per interval (see createNotifier).

export interface Notifier {
  /** Asks for a NOTIFY: sent now, or at the end of the current interval. */
  notify(): void;
  /** Sends a NOTIFY still scheduled, and waits for the one being sent. */
  flush(): Promise<void>;
}

/**
 * Throttles NOTIFYs to one per `intervalMs`, leading and trailing edge: the first request
 * after a quiet interval is sent at once (an idle worker starts without delay), requests
 * within the interval collapse into one sent at its end (the last rows of a burst are
 * announced too). The NOTIFY is its own statement, sent after the commit it announces, not
 * part of that transaction: a transaction that notifies holds Postgres's notification lock
 * (one for the whole server) from its commit until its WAL flush, so notifying commits run
 * one flush after another instead of sharing one. A NOTIFY that fails is not retried: it
 * only wakes workers early, and they poll for due work anyway.
 */
export function createNotifier(send: () => Promise<void>, intervalMs: number): Notifier {
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
