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

/** `$n` shifted by `base`: the check's parameters follow those of a statement it joins. */
type Param = (n: number) => string;
const shifted =
  (base: number): Param =>
  (n) =>
    `$${base + n}`;

/** The advisory-lock key of near-copy checks ('proof' in ASCII), the same in every process. */
const NEAR_COPY_LOCK = String(0x70726f6f66);

/**
 * The first key of a band lock (two-key form, a key space of its own): 'pro' in ASCII and
 * the band in the low byte; the second key is the band's value.
 */
const BAND_LOCK_SPACE = 0x70726f00;

/**
 * The largest distance whose checks lock bands rather than every check: within 7 bits a
 * near copy has a band within 1 bit of ours (17 values per band: 68 band locks and the
 * deployment-wide one, 69 in all). At 8–11 bits it would be 137 values per band, 549 locks
 * a check. Postgres's lock table is shared by all connections and sized for
 * max_locks_per_transaction (64) times max_connections on average: 69 is fine while photo
 * checks are a few of the connections (two per process, PHOTO_TRANSACTIONS), 549 would not
 * be, so those checks take the deployment-wide lock instead.
 */
export const BAND_LOCK_MAX_DISTANCE = 7;

/**
 * The advisory locks a near-copy check takes, in the order it takes them: first the
 * deployment-wide lock (row `space` null), then band locks in key order. Every check takes
 * them in this order, so two checks wait for each other but never deadlock.
 */
export interface NearCopyLocks {
  space: (number | null)[];
  value: (number | null)[];
  /** Exclusive (true) or shared. */
  exclusive: boolean[];
}

/**
 * The locks that serialise a photo's near-copy check with the checks of its possible near
 * copies, and only with those. Exact bytes need no lock (the unique index on
 * feed.proof_sha256 refuses the second post), but two near copies have different bytes:
 * checked at once in two transactions, neither would see the other's post. So a check
 * holds, until its transaction ends:
 *
 * - each of its own band values, exclusively, and every value within the band radius of
 *   them (floor(distance / 4) bits, as the banded lookup), shared. Two photos within the
 *   distance have some band within that radius of each other (BANDED_MAX_DISTANCE), so one
 *   holds a value exclusively that the other wants, and the second check waits for the
 *   first transaction; under READ COMMITTED its lookup, a later statement, then sees the
 *   first one's post. Photos that are no near copies rarely share a value: their checks
 *   run at the same time.
 * - the deployment-wide lock, shared. Taken exclusively, it waits for every check: so do
 *   checks above BAND_LOCK_MAX_DISTANCE, and every check of a version before band locks
 *   (during a rolling upgrade the two still exclude each other).
 */
export function nearCopyLocks(dhash: string, maxDistance: number): NearCopyLocks {
  const locks: NearCopyLocks = { space: [null], value: [null], exclusive: [true] };
  if (maxDistance > BAND_LOCK_MAX_DISTANCE) return locks;
  locks.exclusive[0] = false;
  bandCandidates(dhash, maxDistance).forEach((values, band) => {
    // valuesWithinBits lists the band's own value first.
    const [own, ...near] = values as [number, ...number[]];
    const keys = [
      { value: own, exclusive: true },
      ...near.map((value) => ({ value, exclusive: false })),
    ].sort((a, b) => a.value - b.value);
    for (const key of keys) {
      locks.space.push(BAND_LOCK_SPACE + band);
      locks.value.push(key.value);
      locks.exclusive.push(key.exclusive);
    }
  });
  return locks;
}

// Takes the locks of $1..$3 (NearCopyLocks) in their order; a scan of unnest yields its
// rows in array order, and each row's lock is taken as the row is produced.
const takeLocksSql = ($: Param) => `(SELECT count(CASE
         WHEN l.space IS NULL AND l.exclusive THEN pg_advisory_xact_lock(${NEAR_COPY_LOCK}::bigint)::text
         WHEN l.space IS NULL THEN pg_advisory_xact_lock_shared(${NEAR_COPY_LOCK}::bigint)::text
         WHEN l.exclusive THEN pg_advisory_xact_lock(l.space, l.value)::text
         ELSE pg_advisory_xact_lock_shared(l.space, l.value)::text END)
       FROM unnest(${$(1)}::int[], ${$(2)}::int[], ${$(3)}::boolean[]) AS l(space, value, exclusive))`;

const lockParams = (locks: NearCopyLocks): unknown[] => [locks.space, locks.value, locks.exclusive];

/** Takes the near-copy check's locks (nearCopyLocks) until the transaction ends. */
export async function lockNearCopyChecks(tx: Queryable, locks: NearCopyLocks): Promise<void> {
  await tx.query(`SELECT ${takeLocksSql(shifted(0))} AS locks`, lockParams(locks));
}

/**
 * lockNearCopyChecks as a column of a statement that does more, taken when `condition`
 * (SQL) holds, else null (always null without locks); evaluated once per row it appears in. Its parameters follow the
 * statement's `base` own ones. The near-copy check itself must be a later statement:
 * under READ COMMITTED a statement's snapshot is taken when it starts, so only a statement
 * that starts after the locks were granted sees the post of the transaction that held them.
 */
export function nearCopyLockSql(
  condition: string,
  locks: NearCopyLocks | null,
  base: number,
): { sql: string; params: unknown[] } {
  if (!locks) return { sql: 'NULL::text', params: [] };
  return {
    sql: `CASE WHEN ${condition} THEN ${takeLocksSql(shifted(base))}::text END`,
    params: lockParams(locks),
  };
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
 * How feed_proof_band0..3 (0010_proof_dhash_bands.sql) split the 64-bit difference hash:
 * band k is bits 16k..16k+15 of the unsigned hash.
 */
export const PROOF_DHASH_BANDS = 4;
const BAND_BITS = 16;

/**
 * The largest distance checked through the bands; above it, by reading every hash. Within
 * d bits, some band of a near copy differs in at most floor(d / 4) bits, so a check looks
 * up, per band, every value that close: 1 value for d ≤ 3, 17 for d ≤ 7, 137 for d ≤ 11,
 * 697 for d ≤ 15. With uniformly spread hashes each value holds posts / 65536 rows, so the
 * check reads about 0.006 %, 0.1 %, 0.8 % and 4 % of the posts; at 4 % (and more lookups
 * than candidates) the scan of the small feed_proof_dhash index is as fast (BENCHMARKS.md).
 * Difference hashes of copies differ in a handful of bits, the default threshold is 6.
 */
export const BANDED_MAX_DISTANCE = 11;

/** How a near-copy check finds its candidates: the default picks by the distance. */
export type NearCopyScan = 'auto' | 'banded' | 'full';

/**
 * Every `bits`-bit value within `radius` differing bits of `value` (itself included), in
 * no particular order: sum over i ≤ radius of C(bits, i) values.
 */
export function valuesWithinBits(value: number, bits: number, radius: number): number[] {
  const out: number[] = [];
  const flip = (from: number, current: number, left: number): void => {
    out.push(current);
    if (left === 0) return;
    for (let bit = from; bit < bits; bit += 1) flip(bit + 1, current ^ (1 << bit), left - 1);
  };
  flip(0, value, Math.min(radius, bits));
  return out;
}

/**
 * Per band, the band values a hash within `maxDistance` bits of `dhash` can have in that
 * band, at least one of which it has (see BANDED_MAX_DISTANCE): the `$n::int[]` parameters
 * of the banded check, band 0 first.
 */
export function bandCandidates(dhash: string, maxDistance: number): number[][] {
  const hash = BigInt(`0x${dhash}`);
  const radius = Math.floor(maxDistance / PROOF_DHASH_BANDS);
  return Array.from({ length: PROOF_DHASH_BANDS }, (_, band) =>
    valuesWithinBits(Number((hash >> BigInt(band * BAND_BITS)) & 0xffffn), BAND_BITS, radius),
  );
}

// The near copies within $3 bits, as (id, distance): the two ways to find them, equal in
// their answers (test/proof-bands.test.ts). $2 is the hash, never null here.
const nearCopiesFullScan = ($: Param) => `
       SELECT id, bit_count((proof_dhash # ${$(2)}::bigint)::bit(64))::int AS distance
       FROM feed
       WHERE proof_dhash IS NOT NULL
         AND bit_count((proof_dhash # ${$(2)}::bigint)::bit(64)) <= ${$(3)}::int`;

// One index-only scan per band, each `= ANY` of that band's candidate values ($5..$8); a
// post found through two bands is one row after UNION.
const nearCopiesBanded = ($: Param) =>
  Array.from(
    { length: PROOF_DHASH_BANDS },
    (_, band) => `
       SELECT id, bit_count((proof_dhash # ${$(2)}::bigint)::bit(64))::int AS distance
       FROM feed
       WHERE proof_dhash IS NOT NULL AND proof_band${band} = ANY(${$(5 + band)}::int[])
         AND bit_count((proof_dhash # ${$(2)}::bigint)::bit(64)) <= ${$(3)}::int`,
  ).join('\n       UNION');

// $1 the bytes' SHA-256; the post to leave out is $4, or $2 when there is no near-copy part.
const earlierProofSql = ($: Param, nearCopies: string | null) =>
  `WITH hit AS (
     SELECT id, true AS exact, 0 AS distance FROM feed WHERE proof_sha256 = ${$(1)}
     ${
       nearCopies === null
         ? ''
         : `UNION ALL
     SELECT id, false, distance FROM (${nearCopies}
     ) near`
     }
   )
   SELECT f.id AS feed_id, f.created_at, f.user_id, u.username, f.task_id,
          t.description AS task_description, hit.distance, hit.exact
   FROM hit
   JOIN feed f ON f.id = hit.id
   JOIN users u ON u.id = f.user_id
   LEFT JOIN tasks t ON t.id = f.task_id
   WHERE f.message_id IS DISTINCT FROM ${nearCopies === null ? $(2) : $(4)}::bigint
   ORDER BY hit.exact DESC, hit.distance, f.id
   LIMIT 1`;

export interface EarlierProofOptions {
  maxDistance: number;
  excludeMessageId: number;
  scan?: NearCopyScan;
}

/**
 * findEarlierProof's query, its parameters numbered from `$${base + 1}` so that it can be
 * a CTE of a statement with `base` parameters of its own (see publishProofCompletingTask,
 * src/db/tasks.ts): its rows are EarlierProof rows, at most one.
 */
export function earlierProofQuery(
  proof: ProofFingerprint,
  options: EarlierProofOptions,
  base = 0,
): { sql: string; params: unknown[] } {
  const $ = shifted(base);
  const dhash = dhashParam(proof.dhash);
  const common = [proof.sha256, dhash, options.maxDistance, options.excludeMessageId];
  const scan = options.scan ?? 'auto';
  if (dhash === null || options.maxDistance <= 0) {
    return {
      sql: earlierProofSql($, null),
      params: [proof.sha256, options.excludeMessageId],
    };
  }
  if (scan === 'full' || (scan === 'auto' && options.maxDistance > BANDED_MAX_DISTANCE)) {
    return { sql: earlierProofSql($, nearCopiesFullScan($)), params: common };
  }
  const bands = bandCandidates(proof.dhash as string, options.maxDistance);
  return { sql: earlierProofSql($, nearCopiesBanded($)), params: [...common, ...bands] };
}

/**
 * The earlier proof a photo repeats: a post with the same bytes, else the post whose
 * difference hash is nearest within `maxDistance` bits (0: exact bytes only), the lowest
 * feed id among equals. Posts of `excludeMessageId` itself do not count, so re-processing
 * a message does not find its own post.
 *
 * One query: the exact bytes are a lookup in the unique index. A Hamming distance cannot
 * use a B-tree, so near copies come from the band indexes up to BANDED_MAX_DISTANCE (a
 * cost that grows with the posts sharing a band value, not with all posts), and from a
 * scan of the small partial index on proof_dhash above it. `scan` forces one way, for the
 * tests and the benchmark that compare them; the answer is the same either way.
 */
export async function findEarlierProof(
  db: Queryable,
  proof: ProofFingerprint,
  options: EarlierProofOptions,
): Promise<EarlierProof | null> {
  const { sql, params } = earlierProofQuery(proof, options);
  const rows = await db.query<EarlierProof>(sql, params);
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
