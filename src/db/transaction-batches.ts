import type { Database, Queryable } from './executor.js';

/** Work for one transaction: committed with the others of its batch, or alone. */
export type TransactionWork<T> = (tx: Queryable) => Promise<T>;

export interface BatchPlacement {
  /**
   * Works that lock rows by a key (the inbound job: its sender's user row) run in this
   * order within a batch, so two processes' batches take those locks in the same order and
   * cannot deadlock on them (they would wait, not abort with 40P01 a second later).
   */
  lockOrder?: string;
}

export interface TransactionBatches {
  /**
   * Runs `work` in a transaction, shared with the works that are waiting at the same time;
   * resolves once that transaction committed, rejects with the work's own error.
   */
  run<T>(work: TransactionWork<T>, placement?: BatchPlacement): Promise<T>;
}

interface Waiting {
  lockOrder: string;
  work: TransactionWork<unknown>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** Works per shared transaction at most (the inbound worker runs WORKER_CONCURRENCY at once). */
const DEFAULT_MAX_BATCH = 32;

/**
 * Group commit for job transactions. The works that ask for a transaction while another
 * batch is running (or in the same event-loop turn) run one after another in the next
 * single transaction: one BEGIN and one COMMIT, one WAL flush, for all of them, where each
 * paid its own before (bench:loop: two of the ~8 statements of a processed text message).
 * One batch at a time, so the batches of one process never wait for each other's locks.
 *
 * All or nothing, as each work was alone: a work that throws rolls the whole batch back,
 * and then every work of it runs again in a transaction of its own, so one failing work
 * (a lost claim, a bad row) never undoes or fails the others, and its own error is the one
 * it sees. Works must therefore be safe to run again after a rollback, as a job retried is.
 * A batch of one is a plain transaction.
 */
export function transactionBatches(
  db: Database,
  options: { maxBatch?: number } = {},
): TransactionBatches {
  const maxBatch = Math.max(1, options.maxBatch ?? DEFAULT_MAX_BATCH);
  const waiting: Waiting[] = [];
  let running = false;

  const alone = async (entry: Waiting) => {
    try {
      entry.resolve(await db.transaction(entry.work));
    } catch (error) {
      entry.reject(error);
    }
  };

  const runBatch = async (batch: Waiting[]) => {
    if (batch.length === 1) {
      await alone(batch[0] as Waiting);
      return;
    }
    // Stable: works with the same key keep their arrival order.
    batch.sort((a, b) => (a.lockOrder < b.lockOrder ? -1 : a.lockOrder > b.lockOrder ? 1 : 0));
    let results: unknown[];
    try {
      results = await db.transaction(async (tx) => {
        const done: unknown[] = [];
        for (const entry of batch) done.push(await entry.work(tx));
        return done;
      });
    } catch {
      // Which work failed, and whether the others would have committed, only running them
      // apart tells (a failed statement aborts the whole transaction).
      for (const entry of batch) await alone(entry);
      return;
    }
    batch.forEach((entry, i) => entry.resolve(results[i]));
  };

  const drain = async () => {
    while (waiting.length > 0) await runBatch(waiting.splice(0, maxBatch));
    running = false;
  };

  return {
    run<T>(work: TransactionWork<T>, placement: BatchPlacement = {}): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        waiting.push({
          lockOrder: placement.lockOrder ?? '',
          work,
          resolve: resolve as (value: unknown) => void,
          reject,
        });
        if (running) return;
        running = true;
        // After this turn: the jobs claimed together reach their transactions together.
        setImmediate(() => void drain());
      });
    },
  };
}

/**
 * `db` whose transactions go through `transactionBatches` (see there): for a job module
 * that hands a Database to a query function opening its own short transaction, e.g. the
 * outbound job's markOutboundSubmitted, whose sends finish together. Everything else is
 * `db`'s own.
 */
export function withTransactionBatches(
  db: Database,
  options: { maxBatch?: number } = {},
): Database {
  const batches = transactionBatches(db, options);
  return {
    engine: db.engine,
    maxConcurrency: db.maxConcurrency,
    query: (sql, params) => db.query(sql, params),
    exec: (sql) => db.exec(sql),
    transaction: (work) => batches.run(work),
    listen: (channel, onNotify) => db.listen(channel, onNotify),
    close: () => db.close(),
  };
}
