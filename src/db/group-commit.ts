/**
 * Group commit for the webhook's hot path. Each caller submits one item and gets its own
 * result once the statement that wrote it has committed, so an acknowledgement still
 * means "durable". While `maxInFlight` statements are running, newly submitted items wait
 * and then go to the database together in one statement: one round trip and one commit
 * for many webhooks under load, and no added delay when the database is idle (no timer).
 */
export interface GroupCommitOptions<Item, Result> {
  /** Statements allowed to run at once (the pool size; 1 for PGlite). */
  maxInFlight: number;
  /** Largest number of items written by one statement. */
  maxBatch: number;
  /** Writes the items and returns one result per item, in order. */
  write(items: Item[]): Promise<Result[]>;
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
}

export function createGroupCommitter<Item, Result>(
  options: GroupCommitOptions<Item, Result>,
): GroupCommitter<Item, Result> {
  const queue: Pending<Item, Result>[] = [];
  let inFlight = 0;
  let idleWaiters: (() => void)[] = [];

  const pump = (): void => {
    while (inFlight < options.maxInFlight && queue.length > 0) {
      const batch = queue.splice(0, options.maxBatch);
      inFlight += 1;
      void run(batch);
    }
    if (inFlight === 0 && queue.length === 0 && idleWaiters.length > 0) {
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const wake of waiters) wake();
    }
  };

  const run = async (batch: Pending<Item, Result>[]): Promise<void> => {
    try {
      const results = await options.write(batch.map((pending) => pending.item));
      batch.forEach((pending, index) => pending.resolve(results[index] as Result));
    } catch (error) {
      for (const pending of batch) pending.reject(error);
    } finally {
      inFlight -= 1;
      pump();
    }
  };

  return {
    submit(item) {
      return new Promise<Result>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        pump();
      });
    },
    drain() {
      if (inFlight === 0 && queue.length === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
  };
}
