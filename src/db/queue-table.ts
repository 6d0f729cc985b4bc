import type { Queryable } from './executor.js';

/**
 * A table that is its own job queue (`messages`, `outbound_messages`, and the ones later
 * issues add): a row IS its job, so the two can never disagree and no second write is
 * needed. Workers claim with FOR UPDATE SKIP LOCKED, so two workers (in one process or
 * many) never take the same row. A claim is a lease: if its worker dies, the row becomes
 * claimable again once `locked_until` passes. `claims` is the fencing token: only the
 * holder of the latest claim may finish or reschedule the row. Every queue's claim,
 * lease, failure, release and NOTIFY SQL is written here, once.
 *
 * A queue table has `id`, a status column, `attempts`, `claims`, `run_at` and
 * `locked_until`, and a column for the last error.
 */
export interface QueueTableSpec {
  /** Short name for logs and metrics, e.g. `inbound`. */
  name: string;
  table: string;
  /** NOTIFY channel announcing new work. */
  channel: string;
  /** The status column and its values: waiting, claimed, given up. */
  status: { column: string; pending: string; running: string; failed: string };
  /** Columns a claim returns (besides `claims`). */
  columns: string;
  /** Where a failure's message goes, and its numeric code and time when the table keeps them. */
  errorColumns: { message: string; code?: string; updatedAt?: string };
  /**
   * Where a row keeps since when the outcome of its job is unknown: a job that did
   * something outside the database (sent a message) without learning whether it took
   * effect. A failure says so (Failure.outcomeUnknownSince: the earliest time is kept); a
   * claim that ended without a word (its worker died: the lease ran out, or the embedded
   * database's claims were released at start-up) sets `abandoned`, SQL over the row's own
   * columns (`q.`), as the row is taken back. The outbound queue's next attempt then looks
   * at Twilio before it sends (src/services/earlier-send.ts).
   */
  outcomeUnknown?: { column: string; abandoned: string };
}

/** A claimed row as a queue hands it out: its id, attempt number and fencing token. */
export interface ClaimedRow {
  id: number;
  /** The attempt number of this claim (1 for the first). */
  attempts: number;
  /** This claim's fencing token. */
  claims: number;
}

/** What identifies one claim of one row. */
export interface Claim {
  id: number;
  claims: number;
}

export interface Failure {
  error: string;
  /** Give up: the row ends in the failed status. */
  final: boolean;
  /** When not final: how long until it is due again. */
  retryInMs: number;
  /** A numeric error code (Twilio's), for tables that keep one. */
  code?: number | null;
  /**
   * False when the attempt does not count towards the maximum (the database went away
   * mid-job: the job itself did not fail). Counted unless said otherwise.
   */
  counted?: boolean;
  /** When the attempt began, if it may have taken effect unseen (QueueTableSpec.outcomeUnknown). */
  outcomeUnknownSince?: Date | null;
}

export interface QueueTable<Row extends ClaimedRow> {
  name: string;
  table: string;
  channel: string;
  /** Claims up to `limit` due rows for `leaseMs`. */
  claim(db: Queryable, limit: number, leaseMs: number): Promise<Row[]>;
  /** Claims one waiting row by id, whether due or not; null when it is not waiting. */
  claimById(db: Queryable, id: number, leaseMs: number): Promise<Row | null>;
  /** Renews a running job's claim for another `leaseMs`; false once the claim is lost. */
  extendLease(db: Queryable, claim: Claim, leaseMs: number): Promise<boolean>;
  /**
   * Records a failed attempt: back to waiting, due after `retryInMs`, or failed for good
   * when `final`. The last error is kept either way. False when the claim was lost.
   */
  markFailed(db: Queryable, claim: Claim, failure: Failure): Promise<boolean>;
  /**
   * Hands back every claim at once (see src/db/release-claims.ts): running rows wait
   * again, due now; their attempts stay counted. Returns how many.
   */
  releaseEveryClaim(db: Queryable): Promise<number>;
  /** Wakes the workers listening on `channel` (at commit, inside a transaction). */
  notify(db: Queryable): Promise<void>;
  /** SQL condition that `$1`/`$2` (id, claims) are the current claim, on `alias.` columns. */
  held(alias?: string): string;
}

const interval = (param: string) => `make_interval(secs => ${param}::double precision / 1000)`;

export function defineQueueTable<Row extends ClaimedRow>(spec: QueueTableSpec): QueueTable<Row> {
  const { table, columns } = spec;
  const status = spec.status.column;
  const { pending, running, failed } = spec.status;
  const qualified = `${columns.replace(/(\w+)/g, 'q.$1')}, q.claims`;
  const held = (alias?: string) => {
    const q = alias ? `${alias}.` : '';
    return `${q}id = $1 AND ${q}claims = $2 AND ${q}${status} = '${running}'`;
  };
  // A row claimed while its status is still `running` was abandoned by its last claim.
  const unknown = spec.outcomeUnknown;
  const abandonedSet = unknown
    ? `, ${unknown.column} = CASE WHEN q.${status} = '${running}' THEN ${unknown.abandoned}
         ELSE q.${unknown.column} END`
    : '';
  const claimSet = `${status} = '${running}', attempts = q.attempts + 1, claims = q.claims + 1,
    locked_until = now() + ${interval('$2')}`;

  const claimSql = `
UPDATE ${table} AS q
SET ${claimSet}${abandonedSet}
FROM (
  SELECT id FROM ${table}
  WHERE ${status} IN ('${pending}', '${running}')
    AND run_at <= now()
    AND (${status} = '${pending}' OR locked_until < now())
  ORDER BY run_at, id
  LIMIT $1
  FOR UPDATE SKIP LOCKED
) AS due
WHERE q.id = due.id
RETURNING ${qualified}`;

  const claimByIdSql = `
UPDATE ${table} AS q SET ${claimSet}
WHERE q.id = $1 AND q.${status} = '${pending}'
RETURNING ${qualified}`;

  const extendSql = `
UPDATE ${table} SET locked_until = now() + ${interval('$3')}
WHERE ${held()}
RETURNING id`;

  const { message, code, updatedAt } = spec.errorColumns;
  const failSql = `
UPDATE ${table}
SET ${status} = CASE WHEN $3 THEN '${failed}' ELSE '${pending}' END,
    run_at = now() + ${interval('$4')},
    attempts = attempts - CASE WHEN $6 THEN 0 ELSE 1 END,
    locked_until = NULL, ${message} = $5${code ? `, ${code} = $7::int` : ''}${
      updatedAt ? `, ${updatedAt} = now()` : ''
    }${unknown ? `, ${unknown.column} = LEAST(${unknown.column}, $${code ? 8 : 7}::timestamptz)` : ''}
WHERE ${held()}
RETURNING id`;

  const releaseSql = (markAbandoned: boolean) => `
UPDATE ${table} AS q SET ${status} = '${pending}', locked_until = NULL, run_at = now()${
    unknown && markAbandoned ? `, ${unknown.column} = ${unknown.abandoned}` : ''
  }
WHERE ${status} = '${running}'
RETURNING id`;

  return {
    name: spec.name,
    table,
    channel: spec.channel,
    held,
    claim: (db, limit, leaseMs) => db.query<Row>(claimSql, [limit, leaseMs]),
    async claimById(db, id, leaseMs) {
      const rows = await db.query<Row>(claimByIdSql, [id, leaseMs]);
      return rows[0] ?? null;
    },
    async extendLease(db, claim, leaseMs) {
      const rows = await db.query(extendSql, [claim.id, claim.claims, leaseMs]);
      return rows.length > 0;
    },
    async markFailed(db, claim, failure) {
      const params: unknown[] = [
        claim.id,
        claim.claims,
        failure.final,
        failure.retryInMs,
        failure.error,
        failure.counted !== false,
      ];
      if (code) params.push(failure.code ?? null);
      if (unknown) params.push(failure.outcomeUnknownSince ?? null);
      const rows = await db.query(failSql, params);
      return rows.length > 0;
    },
    async releaseEveryClaim(db) {
      // Claims are released before migrations run (src/start/database.ts): a data folder
      // of an earlier version may lack the column, and its claims are released unmarked.
      const marked =
        unknown !== undefined &&
        (
          await db.query(
            `SELECT 1 FROM pg_attribute
             WHERE attrelid = to_regclass($1) AND attname = $2 AND NOT attisdropped`,
            [table, unknown.column],
          )
        ).length > 0;
      return (await db.query(releaseSql(marked))).length;
    },
    async notify(db) {
      await db.query(`SELECT pg_notify($1, '')`, [spec.channel]);
    },
  };
}
