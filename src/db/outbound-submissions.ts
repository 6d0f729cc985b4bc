import type { Database } from './executor.js';
import {
  type OutboundSubmission,
  recordOutboundSubmitted,
  recordOutboundsSubmitted,
} from './outbound.js';
import { setBatches } from './transaction-batches.js';

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

/** Sends per shared statement at most (a process sends up to 256 at once). */
const DEFAULT_MAX_BATCH = 64;

/**
 * Group commit for the outbound worker's SIDs (src/db/transaction-batches.ts). The sends
 * that finish in the same event-loop turn, or while the previous batch is being recorded,
 * are recorded together by recordOutboundsSubmitted: one transaction of two statements for
 * all of them, where each paid a transaction of two before (issue 14). If a batch fails,
 * each of its sends is recorded again alone, so one bad row never fails the others and a
 * send's own error is the one it sees.
 */
export function outboundSubmissions(
  db: Database,
  options: { maxBatch?: number } = {},
): OutboundSubmissions {
  const batches = setBatches<OutboundSubmission, boolean>(
    db,
    {
      together: recordOutboundsSubmitted,
      alone: (tx, { claim, result }) => recordOutboundSubmitted(tx, claim, result),
    },
    { maxBatch: options.maxBatch ?? DEFAULT_MAX_BATCH },
  );
  return { record: (claim, result) => batches.run({ claim, result }) };
}
