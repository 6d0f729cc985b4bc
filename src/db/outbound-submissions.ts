import type { Database } from './executor.js';
import {
  type OutboundSubmission,
  markOutboundSubmitted,
  markOutboundsSubmitted,
} from './outbound.js';

export interface OutboundSubmissions {
  /**
   * markOutboundSubmitted, shared with the sends that record their SIDs at the same time;
   * resolves once recorded and committed: false if the claim was lost.
   */
  record(
    claim: OutboundSubmission['claim'],
    result: OutboundSubmission['result'],
  ): Promise<boolean>;
}

interface Waiting extends OutboundSubmission {
  resolve(kept: boolean): void;
  reject(error: unknown): void;
}

/** Sends per shared statement at most (a process sends up to 256 at once). */
const DEFAULT_MAX_BATCH = 64;

/**
 * Group commit for the outbound worker's SIDs. The sends that finish in the same event-loop
 * turn, or while the previous batch is being recorded, are recorded together by
 * markOutboundsSubmitted: one transaction of two statements for all of them, where each
 * paid a transaction of two before (issue 14). One batch at a time.
 *
 * If a batch fails, each of its sends is recorded again alone (markOutboundSubmitted), so
 * one bad row never fails the others and a send's own error is the one it sees. A send
 * alone takes the same path as before.
 */
export function outboundSubmissions(
  db: Database,
  options: { maxBatch?: number } = {},
): OutboundSubmissions {
  const maxBatch = Math.max(1, options.maxBatch ?? DEFAULT_MAX_BATCH);
  const waiting: Waiting[] = [];
  let running = false;

  const alone = async (entry: Waiting) => {
    try {
      entry.resolve(await markOutboundSubmitted(db, entry.claim, entry.result));
    } catch (error) {
      entry.reject(error);
    }
  };

  const recordBatch = async (batch: Waiting[]) => {
    if (batch.length === 1) {
      await alone(batch[0] as Waiting);
      return;
    }
    let kept: boolean[];
    try {
      kept = await markOutboundsSubmitted(db, batch);
    } catch {
      // Which send the database refused, only recording them apart tells (the failed
      // statement rolled back every row of the batch).
      for (const entry of batch) await alone(entry);
      return;
    }
    batch.forEach((entry, i) => entry.resolve(kept[i] === true));
  };

  const drain = async () => {
    while (waiting.length > 0) await recordBatch(waiting.splice(0, maxBatch));
    running = false;
  };

  return {
    record(claim, result) {
      return new Promise<boolean>((resolve, reject) => {
        waiting.push({ claim, result, resolve, reject });
        if (running) return;
        running = true;
        // After this turn: the sends whose replies arrived together are recorded together.
        setImmediate(() => void drain());
      });
    },
  };
}
