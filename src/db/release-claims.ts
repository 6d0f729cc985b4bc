import type { Queryable } from './executor.js';

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
  const [tables] = await db.query<{ messages: boolean; outbound: boolean }>(
    `SELECT to_regclass('messages') IS NOT NULL AS messages,
            to_regclass('outbound_messages') IS NOT NULL AS outbound`,
  );
  let released = 0;
  if (tables?.messages) {
    const rows = await db.query(
      `UPDATE messages SET processing_status = 'pending', locked_until = NULL, run_at = now()
       WHERE processing_status = 'processing'
       RETURNING id`,
    );
    released += rows.length;
  }
  if (tables?.outbound) {
    const rows = await db.query(
      `UPDATE outbound_messages SET status = 'pending', locked_until = NULL, run_at = now()
       WHERE status = 'submitting'
       RETURNING id`,
    );
    released += rows.length;
  }
  return released;
}
