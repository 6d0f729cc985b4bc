import type { ProofRejection } from '../domain/message.js';
import type { Queryable } from './executor.js';

/**
 * Proof checks in SQL: the fingerprints of the photos feed posts were made from
 * (feed.proof_sha256, feed.proof_dhash; see 0007_proof_fingerprints.sql) and why a message
 * did not count as proof (messages.proof_rejection).
 */

/** A proof photo's hashes, as src/media/fingerprint.ts writes them (hex). */
export interface ProofFingerprint {
  sha256: string;
  dhash: string | null;
}

/**
 * A 16-hex-digit difference hash as the decimal text of a signed int8 (the same 64 bits),
 * for a `$n::bigint` parameter. Text, not a number: above 2^53 a JavaScript number would
 * round the low bits away. The column is never read back as a number for the same reason
 * (both drivers here turn int8 into numbers).
 */
export function dhashParam(dhash: string | null): string | null {
  if (dhash === null) return null;
  if (!/^[0-9a-f]{16}$/.test(dhash)) throw new TypeError('dhashParam: 16 hex digits expected');
  return BigInt.asIntN(64, BigInt(`0x${dhash}`)).toString();
}

/** The advisory-lock key of near-copy checks ('proof' in ASCII), the same in every process. */
const NEAR_COPY_LOCK = String(0x70726f6f66);

/**
 * Serialises near-copy checks until the transaction ends. Exact bytes need no lock (the
 * unique index on feed.proof_sha256 refuses the second post), but two near copies have
 * different bytes: checked at once in two transactions, neither would see the other's post.
 * With this lock the second check waits for the first transaction and, under READ
 * COMMITTED, then sees its post. Held only for the short accountability transaction.
 */
export async function lockNearCopyChecks(tx: Queryable): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1::bigint)', [NEAR_COPY_LOCK]);
}

/** An earlier feed post whose proof photo a new photo repeats. */
export interface EarlierProof {
  feed_id: number;
  created_at: Date;
  user_id: number;
  username: string;
  task_id: number | null;
  task_description: string | null;
  /** Differing bits of the two difference hashes; 0 for the same bytes. */
  distance: number;
  /** The very same bytes (else a near copy by the difference hash). */
  exact: boolean;
}

/**
 * The earlier proof a photo repeats: a post with the same bytes, else the post whose
 * difference hash is nearest within `maxDistance` bits (0: exact bytes only). Posts of
 * `excludeMessageId` itself do not count, so re-processing a message does not find its
 * own post.
 *
 * One query: the exact bytes are a lookup in the unique index; a Hamming distance cannot
 * use a B-tree, so near copies come from a scan of the small partial index on proof_dhash
 * (a few milliseconds for 100k posts; should that ever be too slow, split the hash in
 * maxDistance + 1 indexed bands: a copy within the distance matches one band exactly).
 */
export async function findEarlierProof(
  db: Queryable,
  proof: ProofFingerprint,
  options: { maxDistance: number; excludeMessageId: number },
): Promise<EarlierProof | null> {
  const rows = await db.query<EarlierProof>(
    `WITH hit AS (
       SELECT id, true AS exact, 0 AS distance FROM feed WHERE proof_sha256 = $1
       UNION ALL
       SELECT id, false, bit_count((proof_dhash # $2::bigint)::bit(64))::int
       FROM feed
       WHERE $2::bigint IS NOT NULL AND $3::int > 0 AND proof_dhash IS NOT NULL
         AND bit_count((proof_dhash # $2::bigint)::bit(64)) <= $3::int
     )
     SELECT f.id AS feed_id, f.created_at, f.user_id, u.username, f.task_id,
            t.description AS task_description, hit.distance, hit.exact
     FROM hit
     JOIN feed f ON f.id = hit.id
     JOIN users u ON u.id = f.user_id
     LEFT JOIN tasks t ON t.id = f.task_id
     WHERE f.message_id IS DISTINCT FROM $4::bigint
     ORDER BY hit.exact DESC, hit.distance, f.id
     LIMIT 1`,
    [proof.sha256, dhashParam(proof.dhash), options.maxDistance, options.excludeMessageId],
  );
  return rows[0] ?? null;
}

/** Records why a message did not count as proof, or clears it (null) when it did. */
export async function recordProofRejection(
  db: Queryable,
  messageId: number,
  rejection: ProofRejection | null,
): Promise<void> {
  await db.query('UPDATE messages SET proof_rejection = $2::jsonb WHERE id = $1', [
    messageId,
    rejection === null ? null : JSON.stringify(rejection),
  ]);
}
