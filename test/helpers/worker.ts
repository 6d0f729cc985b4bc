import type { Database } from '../../src/db/executor.js';
import { insertMessages } from '../../src/db/messages.js';
import { queueDepths } from '../../src/db/queue-stats.js';
import {
  createInboundWorker,
  type WorkerOptions,
  type ProcessMessage,
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

export const newWorker = (
  db: Database,
  handler: ProcessMessage,
  overrides: Partial<WorkerOptions> = {},
) => createInboundWorker(db, handler, workerOptions(overrides));

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
