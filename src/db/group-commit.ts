/**
 * Group commit for the webhook's hot path. Each caller submits one item and gets its own
 * result once the statement that wrote it has committed, so an acknowledgement still
 * means "durable". Items submitted during one turn of the event loop go to the database
 * together in one statement, and while `maxInFlight` statements are running, newly
 * submitted items wait and then go together: one round trip and one commit for many
 * webhooks under load. The only added delay is the rest of the current event-loop turn
 * (no timer).
 */
export interface GroupCommitOptions<Item, Result> {
  /** Statements allowed to run at once. */
  maxInFlight: number;
  /** Largest number of items written by one statement. */
  maxBatch: number;
  /** Writes the items and returns one result per item, in order. */
  write(items: Item[]): Promise<Result[]>;
  /**
   * Whether a failed statement of several items is tried again one item at a time, so an
   * item the database refuses fails alone instead of failing every item it shared the
   * statement with. Say no for failures no item causes (the database unreachable): each
   * item would only fail again. Without it, a failed statement fails all its items.
   */
  retryAlone?(error: unknown): boolean;
}

interface Pending<Item, Result> {
  item: Item;
  resolve(result: Result): void;
  reject(error: unknown): void;
}

export interface GroupCommitter<Item, Result> {
  submit(item: Item): Promise<Result>;
  /** Resolves once everything submitted so far has been written. */
  drain(): Promise<void>;
  /** True while items are waiting or being written. */
  busy(): boolean;
  /** Items waiting or being written (lets others yield to ingestion during a burst). */
  pending(): number;
}

export function createGroupCommitter<Item, Result>(
  options: GroupCommitOptions<Item, Result>,
): GroupCommitter<Item, Result> {
  const queue: Pending<Item, Result>[] = [];
  let inFlight = 0;
  // Items of the statements in flight.
  let itemsInFlight = 0;
  let pumpScheduled = false;
  let idleWaiters: (() => void)[] = [];

  const pump = (): void => {
    pumpScheduled = false;
    while (inFlight < options.maxInFlight && queue.length > 0) {
      const batch = queue.splice(0, options.maxBatch);
      inFlight += 1;
      itemsInFlight += batch.length;
      void run(batch);
    }
    if (inFlight === 0 && queue.length === 0 && idleWaiters.length > 0) {
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const wake of waiters) wake();
    }
  };

  // Flushing at once would send the first webhook of a burst alone, and on PGlite (whose
  // queries run synchronously on this thread) every webhook alone: no other request is
  // parsed while a statement runs. Flushing once the current turn's I/O callbacks have
  // run lets every webhook that arrived in this turn share the statement.
  const schedulePump = (): void => {
    if (pumpScheduled) return;
    pumpScheduled = true;
    setImmediate(pump);
  };

  const run = async (batch: Pending<Item, Result>[]): Promise<void> => {
    // Items of this batch not settled yet (written again one by one, they settle in turn).
    let unsettled = batch.length;
    const settled = () => {
      unsettled -= 1;
      itemsInFlight -= 1;
    };
    try {
      const results = await options.write(batch.map((pending) => pending.item));
      batch.forEach((pending, index) => pending.resolve(results[index] as Result));
    } catch (error) {
      if (batch.length > 1 && options.retryAlone?.(error)) await writeEachAlone(batch, settled);
      else for (const pending of batch) pending.reject(error);
    } finally {
      inFlight -= 1;
      itemsInFlight -= unsettled;
      // Items that queued up while this statement ran have waited long enough.
      pump();
    }
  };

  // One after the other, in this statement's slot: a rare path, and it must not take more
  // connections than maxInFlight.
  const writeEachAlone = async (
    batch: Pending<Item, Result>[],
    settled: () => void,
  ): Promise<void> => {
    for (const pending of batch) {
      try {
        const [result] = await options.write([pending.item]);
        settled();
        pending.resolve(result as Result);
      } catch (error) {
        settled();
        pending.reject(error);
      }
    }
  };

  return {
    submit(item) {
      return new Promise<Result>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        schedulePump();
      });
    },
    drain() {
      if (inFlight === 0 && queue.length === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
    busy: () => inFlight > 0 || queue.length > 0,
    pending: () => itemsInFlight + queue.length,
  };
}
