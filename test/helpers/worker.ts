import type { Database, Queryable } from '../../src/db/executor.js';
import { insertMessages } from '../../src/db/messages.js';
import { queueDepths } from '../../src/db/queue-stats.js';
import { type ClaimedMessage, inboundQueue } from '../../src/db/message-queue.js';
import {
  type ProcessJob,
  type WorkerOptions,
  createQueueWorker,
} from '../../src/jobs/queue-worker.js';
import { parseInboundParams } from '../../src/twilio/inbound-params.js';
import { whatsAppParams, type WhatsAppMessageOptions } from './twilio-webhook.js';

export const quietLog = { info() {}, warn() {}, error() {} };

export const workerOptions = (overrides: Partial<WorkerOptions> = {}): WorkerOptions => ({
  concurrency: 4,
  pollMs: 20,
  leaseMs: 60_000,
  maxAttempts: 3,
  backoffMs: 0,
  log: quietLog,
  ...overrides,
});

/** A worker over the inbound queue, as start/processing.ts creates it, with `handler` as its job. */
export const newWorker = (
  db: Database,
  handler: ProcessJob<ClaimedMessage>,
  overrides: Partial<WorkerOptions> = {},
) => createQueueWorker(db, inboundQueue, handler, workerOptions(overrides));

/**
 * `db` whose transactions see `wrap(tx)` instead of `tx`: a test's hook inside a job's
 * transaction (a barrier, a statement watched for), the job itself unchanged.
 */
export const wrapTransactions = (
  db: Database,
  wrap: (tx: Queryable) => Promise<Queryable>,
): Database => ({
  engine: db.engine,
  maxConcurrency: db.maxConcurrency,
  query: <Row>(sql: string, params?: readonly unknown[]) => db.query<Row>(sql, params),
  exec: (sql) => db.exec(sql),
  transaction: <T>(work: (tx: Queryable) => Promise<T>) =>
    db.transaction(async (tx) => work(await wrap(tx))),
  listen: (channel, onNotify) => db.listen(channel, onNotify),
  close: () => db.close(),
});

/** Stores inbound messages directly (as the webhook does) and returns their ids. */
export async function storeMessages(
  db: Database,
  options: WhatsAppMessageOptions[],
): Promise<number[]> {
  const outcomes = await insertMessages(
    db,
    options.map((o) => parseInboundParams(whatsAppParams(o))),
  );
  return outcomes.map((o) => o.id as number);
}

export async function waitFor<T>(
  check: () => Promise<T | undefined | null | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting for condition');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * Waits until both queues (inbound messages and outbound replies) have nothing due,
 * scheduled for a retry or running: from then on no duplicate work can still surface, so
 * counts taken afterwards are final. Use it instead of sleeping before "exactly once"
 * assertions.
 */
export async function waitForQueuesIdle(db: Database, timeoutMs = 15_000): Promise<void> {
  await waitFor(async () => {
    const depths = await queueDepths(db);
    return depths.every((queue) => queue.due + queue.scheduled + queue.running === 0);
  }, timeoutMs);
}
