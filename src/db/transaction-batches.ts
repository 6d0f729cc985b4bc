import { isConnectionError } from './connection-errors.js';
import type { Database, Queryable } from './executor.js';

/** Inputs per shared transaction at most. */
const DEFAULT_MAX_BATCH = 32;

/**
 * How a set batch (see setBatches) handles its inputs: all of them in one transaction, set
 * by set (one statement for all where the per-input code would run one each), or one
 * alone.
 */
export interface SetBatchSpec<Input, Result> {
  /**
   * Every input of a batch in `tx`, results in the inputs' order; RUN_ALONE for an input
   * it leaves alone, which then runs `alone` once the batch committed (e.g. work that would
   * take its locks in another order than the batch's). Throwing rolls the batch back; each
   * input then runs `alone`, so one failing input never undoes or fails another.
   */
  together(tx: Queryable, inputs: Input[]): Promise<(Result | typeof RUN_ALONE)[]>;
  /** One input in a transaction of its own: a batch of one, and the fallback. */
  alone(tx: Queryable, input: Input): Promise<Result>;
  /**
   * Inputs that lock rows by a key (the inbound job: its sender's user row) reach
   * `together` sorted by it, so two processes' batches take those locks in the same order
   * and wait for each other rather than deadlock (an abort with 40P01 a second later).
   */
  lockOrder?(input: Input): string;
}

/** What `together` answers for an input it did not handle: run it alone afterwards. */
export const RUN_ALONE: unique symbol = Symbol('run alone');

export interface SetBatches<Input, Result> {
  /**
   * Handles `input` in a transaction shared with the inputs waiting at the same time;
   * resolves once that transaction committed, rejects with the input's own error.
   */
  run(input: Input): Promise<Result>;
}

interface Waiting<Input> {
  input: Input;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/**
 * Group commit, and set-at-a-time work, for job transactions. The inputs that arrive
 * while another batch is running (or in the same event-loop turn) are handled together in
 * the next single transaction: one BEGIN and one COMMIT, one WAL flush, for all of them,
 * and as few statements as `together` manages. One batch at a time, so the batches of one
 * process never wait for each other's locks.
 *
 * All or nothing, as each input was alone: an error rolls the whole batch back, and then
 * every input of it runs again in a transaction of its own, so one failing input (a lost
 * claim, a bad row) never undoes or fails the others, and its own error is the one it
 * sees. Inputs must therefore be safe to handle again after a rollback, as a job retried
 * is. A batch of one runs `alone`.
 */
export function setBatches<Input, Result>(
  db: Database,
  spec: SetBatchSpec<Input, Result>,
  options: { maxBatch?: number } = {},
): SetBatches<Input, Result> {
  const maxBatch = Math.max(1, options.maxBatch ?? DEFAULT_MAX_BATCH);
  const waiting: Waiting<Input>[] = [];
  let running = false;

  const alone = async (entry: Waiting<Input>) => {
    try {
      entry.resolve(await db.transaction((tx) => spec.alone(tx, entry.input)));
    } catch (error) {
      entry.reject(error);
    }
  };

  const runBatch = async (batch: Waiting<Input>[]) => {
    if (batch.length === 1) {
      await alone(batch[0] as Waiting<Input>);
      return;
    }
    const key = spec.lockOrder;
    if (key) {
      // Stable: inputs with the same key keep their arrival order.
      batch.sort((a, b) => {
        const [x, y] = [key(a.input), key(b.input)];
        return x < y ? -1 : x > y ? 1 : 0;
      });
    }
    let results: (Result | typeof RUN_ALONE)[];
    try {
      results = await db.transaction((tx) =>
        spec.together(
          tx,
          batch.map((entry) => entry.input),
        ),
      );
    } catch (error) {
      // The database went away: every input would meet the same, and each one's job is
      // retried as after an outage (src/jobs/queue-worker.ts), not run alone N times now.
      if (isConnectionError(error)) {
        for (const entry of batch) entry.reject(error);
        return;
      }
      // Which input failed, and whether the others would have committed, only handling
      // them apart tells (a failed statement aborts the whole transaction).
      for (const entry of batch) await alone(entry);
      return;
    }
    const left: Waiting<Input>[] = [];
    batch.forEach((entry, i) => {
      const result = results[i];
      if (result === RUN_ALONE) left.push(entry);
      else entry.resolve(result);
    });
    for (const entry of left) await alone(entry);
  };

  const drain = async () => {
    while (waiting.length > 0) await runBatch(waiting.splice(0, maxBatch));
    running = false;
  };

  return {
    run(input: Input): Promise<Result> {
      return new Promise<Result>((resolve, reject) => {
        waiting.push({ input, resolve: resolve as (value: unknown) => void, reject });
        if (running) return;
        running = true;
        // After this turn: the jobs claimed together reach their transactions together.
        setImmediate(() => void drain());
      });
    },
  };
}
