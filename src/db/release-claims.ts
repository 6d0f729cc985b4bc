import type { Queryable } from './executor.js';
import { inboundQueue } from './message-queue.js';
import { outboundQueue } from './outbound.js';

/**
 * Hands back every claim on both queues: inbound messages being processed and outbound
 * messages being submitted go back to `pending`, due now. Only for the embedded database,
 * by the process that has just taken DATA_DIR's lock: no other process can hold a claim
 * there, so every claim found was left by a process that died (SIGKILL, power loss), and
 * its work need not wait for the lease to run out. The attempt it was on stays counted,
 * so a message that kills its process every time still ends `failed`. Tables a data folder
 * not yet migrated lacks have nothing to release. Returns how many claims were released.
 */
export async function releaseEveryClaim(db: Queryable): Promise<number> {
  let released = 0;
  for (const queue of [inboundQueue, outboundQueue]) {
    const [table] = await db.query<{ exists: boolean }>(
      'SELECT to_regclass($1) IS NOT NULL AS exists',
      [queue.table],
    );
    if (table?.exists) released += await queue.releaseEveryClaim(db);
  }
  return released;
}
