import type { Database, Queryable } from './executor.js';
import { type Claim, type Failure, type QueueTable, defineQueueTable } from './queue-table.js';

/** NOTIFY channel announcing outbound messages waiting to be sent. */
const OUTBOUND_CHANNEL = 'taskwire_outbound';

export type OutboundKind =
  | 'reply'
  | 'greeting'
  | 'send'
  | 'reminder'
  | 'expiry'
  | 'assignment'
  // A proof shared with the group, a daily share digest, the Sunday digest (issue 16).
  | 'share'
  | 'share_digest'
  | 'weekly_digest'
  // A proof review request to a member, and the decision told to its owner (issue 16).
  | 'review_request'
  | 'review_result';

export interface OutboundRow {
  id: number;
  created_at: Date;
  kind: OutboundKind;
  inbound_message_id: number | null;
  user_id: number | null;
  to_number: string;
  from_number: string;
  body: string;
  media_urls: string[];
  twilio_sid: string | null;
  status: string;
  error_code: number | null;
  error_message: string | null;
  attempts: number;
  sent_at: Date | null;
  status_updated_at: Date | null;
  /** Delivered to the local development outbox instead of Twilio (TWILIO_ACCOUNT_SID unset). */
  outbox: boolean;
  /** The task a reminder or expiry notice is about. */
  task_id: number | null;
  /** A WhatsApp Content template sent instead of `body` (outside the 24-hour window). */
  content_sid: string | null;
  content_variables: Record<string, string> | null;
  /**
   * The start of the first attempt whose outcome is unknown (Twilio may have created the
   * message without our hearing back): see src/services/earlier-send.ts. Null otherwise.
   */
  outcome_unknown_since: Date | null;
}

export interface ClaimedOutbound extends OutboundRow {
  claims: number;
}

const columns = `id, created_at, kind, inbound_message_id, user_id, to_number, from_number, body,
  media_urls, twilio_sid, status, error_code, error_message, attempts, sent_at, status_updated_at,
  outbox, task_id, content_sid, content_variables, outcome_unknown_since`;

/** The outbound_messages table as a queue (see src/db/queue-table.ts): replies, greetings, sends. */
export const outboundQueue: QueueTable<ClaimedOutbound> = defineQueueTable<ClaimedOutbound>({
  name: 'outbound',
  table: 'outbound_messages',
  channel: OUTBOUND_CHANNEL,
  status: { column: 'status', pending: 'pending', running: 'submitting', failed: 'failed' },
  columns,
  errorColumns: { message: 'error_message', code: 'error_code', updatedAt: 'status_updated_at' },
  // A send that timed out may have been created by Twilio (the failure says since when);
  // a worker that died mid-send too, since a time not known: since the row was made.
  outcomeUnknown: {
    column: 'outcome_unknown_since',
    abandoned: 'COALESCE(q.outcome_unknown_since, q.created_at)',
  },
});

export interface NewOutbound {
  kind: OutboundKind;
  inboundMessageId: number | null;
  userId: number | null;
  to: string;
  from: string;
  body: string;
  mediaUrls?: string[];
  taskId?: number | null;
  /**
   * Send this Content template (with these variables) instead of `body`. A null `sid` keeps
   * `body` and records the variables of the template it may be switched to at send time (a
   * digest whose window closed while it waited: src/services/send-time.ts).
   */
  content?: { sid: string | null; variables: Record<string, string> } | null;
}

/**
 * Whether recording a message to send also NOTIFYs the senders (default). Not inside an
 * inbound message's transaction: a notifying commit takes Postgres's notification lock,
 * which makes such commits wait for each other's disk flush, and processInboundJob wakes the
 * senders once that transaction committed (`repliesQueued`, src/jobs/process-inbound.ts).
 */
export interface Announce {
  announce?: boolean;
}

/**
 * Records a message to send. A reply or greeting for an inbound message is recorded at
 * most once (unique index), so a retried job cannot queue a second one. Null when it
 * already existed.
 */
export async function enqueueOutbound(
  db: Queryable,
  message: NewOutbound,
  options: Announce = {},
): Promise<OutboundRow | null> {
  // The NOTIFY rides on the INSERT (one round trip, not two; bench:loop: one statement of
  // ~9 per processed message): sent only when a row was inserted and, inside a transaction,
  // delivered at commit, when the row is visible.
  const rows = await db.query<OutboundRow & { notified?: unknown }>(
    `WITH inserted AS (
       INSERT INTO outbound_messages (kind, inbound_message_id, user_id, to_number, from_number,
                                      body, media_urls, task_id, content_sid, content_variables)
       VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10::jsonb)
       ON CONFLICT (inbound_message_id, kind) WHERE inbound_message_id IS NOT NULL DO NOTHING
       RETURNING ${columns}
     )
     SELECT inserted.*, CASE WHEN $12::boolean THEN pg_notify($11, '')::text END AS notified
     FROM inserted`,
    [
      message.kind,
      message.inboundMessageId,
      message.userId,
      message.to,
      message.from,
      message.body,
      JSON.stringify(message.mediaUrls ?? []),
      message.taskId ?? null,
      message.content?.sid ?? null,
      message.content ? JSON.stringify(message.content.variables) : null,
      OUTBOUND_CHANNEL,
      options.announce ?? true,
    ],
  );
  const [row] = rows;
  if (!row) return null;
  const { notified: _notified, ...inserted } = row;
  return inserted;
}

/**
 * Twilio (or the development outbox) accepted the message: keep its SID and status, and
 * apply any status callback that arrived for the SID before it was recorded (see
 * early_status_callbacks; the most advanced one, only if it is ahead of `result.status`).
 * False if the claim was lost; the early callbacks are then left for the SID's owner.
 */
export async function markOutboundSubmitted(
  db: Database,
  claim: { id: number; claims: number },
  result: { sid: string; status: string; outbox?: boolean },
): Promise<boolean> {
  return db.transaction((tx) => recordOutboundSubmitted(tx, claim, result));
}

/** markOutboundSubmitted's work, in the caller's transaction `tx`. */
export async function recordOutboundSubmitted(
  tx: Queryable,
  claim: { id: number; claims: number },
  result: { sid: string; status: string; outbox?: boolean },
): Promise<boolean> {
  await lockStatusOf(tx, result.sid);
  const rows = await tx.query(
    `WITH best AS (
         SELECT e.status, e.error_code FROM early_status_callbacks e
         WHERE e.message_sid = $3
         ORDER BY ${rankOf('e.status')} DESC, e.received_at DESC
         LIMIT 1
       ),
       updated AS (
         UPDATE outbound_messages o
         SET status = CASE WHEN ${rankOf('best.status')} > ${rankOf('$4::text')} THEN best.status
                           ELSE $4::text END,
             error_code = CASE WHEN ${rankOf('best.status')} > ${rankOf('$4::text')}
                               THEN best.error_code END,
             twilio_sid = $3, sent_at = now(), status_updated_at = now(), locked_until = NULL,
             error_message = NULL, outbox = $5
         FROM (SELECT 1) AS one LEFT JOIN best ON true
         WHERE ${outboundQueue.held('o')}
         RETURNING o.id
       ),
       applied AS (
         DELETE FROM early_status_callbacks
         WHERE message_sid = $3 AND EXISTS (SELECT 1 FROM updated)
       )
       SELECT id FROM updated`,
    [claim.id, claim.claims, result.sid, result.status, result.outbox === true],
  );
  return rows.length > 0;
}

export interface OutboundSubmission {
  claim: { id: number; claims: number };
  result: { sid: string; status: string; outbox?: boolean };
}

/**
 * recordOutboundSubmitted for several sends at once, in `tx`, with two statements whatever
 * their number: one takes every SID's status lock, one records them all (with their early
 * status callbacks). One result per submission, in order: whether its claim was kept. A
 * row the database refuses (a SID recorded twice) fails the whole call, so the caller runs
 * them alone then (src/db/outbound-submissions.ts).
 */
export async function recordOutboundsSubmitted(
  tx: Queryable,
  submissions: readonly OutboundSubmission[],
): Promise<boolean[]> {
  await lockStatusesOf(
    tx,
    submissions.map((s) => s.result.sid),
  );
  // The same statement as markOutboundSubmitted's, over the rows of `submitted`; the
  // status lock statement above has ended, so this one's snapshot sees every early
  // callback committed before the locks were granted.
  const kept = await tx.query<{ id: number }>(
    `WITH submitted AS (
         SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[], $5::boolean[])
           AS s (id, claims, sid, status, outbox)
       ),
       best AS (
         SELECT DISTINCT ON (e.message_sid) e.message_sid, e.status, e.error_code
         FROM early_status_callbacks e
         WHERE e.message_sid = ANY ($3::text[])
         ORDER BY e.message_sid, ${rankOf('e.status')} DESC, e.received_at DESC
       ),
       updated AS (
         UPDATE outbound_messages o
         SET status = CASE WHEN ${rankOf('best.status')} > ${rankOf('s.status')} THEN best.status
                           ELSE s.status END,
             error_code = CASE WHEN ${rankOf('best.status')} > ${rankOf('s.status')}
                               THEN best.error_code END,
             twilio_sid = s.sid, sent_at = now(), status_updated_at = now(), locked_until = NULL,
             error_message = NULL, outbox = s.outbox
         FROM submitted s LEFT JOIN best ON best.message_sid = s.sid
         WHERE ${heldBy('o', 's')}
         RETURNING o.id, o.twilio_sid
       ),
       applied AS (
         DELETE FROM early_status_callbacks e USING updated u WHERE e.message_sid = u.twilio_sid
       )
       SELECT id FROM updated`,
    [
      submissions.map((s) => s.claim.id),
      submissions.map((s) => s.claim.claims),
      submissions.map((s) => s.result.sid),
      submissions.map((s) => s.result.status),
      submissions.map((s) => s.result.outbox === true),
    ],
  );
  const keptIds = new Set(kept.map((row) => row.id));
  return submissions.map((s) => keptIds.has(s.claim.id));
}

/**
 * outboundQueue.held for a claim read from the row `claim` of a set (held() takes its claim
 * from $1 and $2): the row is still the one this claim took.
 */
const heldBy = (row: string, claim: string): string =>
  `${row}.id = ${claim}.id AND ${row}.claims = ${claim}.claims AND ${row}.status = 'submitting'`;

/**
 * The texts of the other outbound messages to any of `to` queued since `since`: a message
 * Twilio created with one of them is theirs, not a template's of the row `exceptId`.
 */
export async function otherTextsTo(
  db: Queryable,
  query: { to: string[]; exceptId: number; since: Date },
): Promise<Set<string>> {
  const rows = await db.query<{ body: string }>(
    `SELECT DISTINCT body FROM outbound_messages
     WHERE to_number = ANY($1::text[]) AND id <> $2 AND created_at >= $3`,
    [query.to, query.exceptId, query.since],
  );
  return new Set(rows.map((row) => row.body));
}

/** Which of these Twilio SIDs an outbound message already has recorded. */
export async function recordedSids(db: Queryable, sids: readonly string[]): Promise<Set<string>> {
  if (sids.length === 0) return new Set();
  const rows = await db.query<{ twilio_sid: string }>(
    'SELECT twilio_sid FROM outbound_messages WHERE twilio_sid = ANY($1::text[])',
    [sids],
  );
  return new Set(rows.map((row) => row.twilio_sid));
}

/** Records a failed send (outboundQueue.markFailed). */
export const markOutboundFailed = (
  db: Queryable,
  claim: Claim,
  failure: Failure,
): Promise<boolean> => outboundQueue.markFailed(db, claim, failure);

// How far along a message is. Twilio's status callbacks can arrive late or out of order;
// a status only replaces one of a lower rank, so the status never moves backwards.
const statusRank: Record<string, number> = {
  pending: 0,
  submitting: 1,
  accepted: 2,
  scheduled: 2,
  queued: 3,
  sending: 4,
  sent: 5,
  delivered: 6,
  undelivered: 6,
  failed: 6,
  canceled: 6,
  read: 7,
};

/** SQL for the rank of the status in `expression` (-1 for none or an unknown one). */
const rankOf = (expression: string): string =>
  `(CASE ${expression} ${Object.entries(statusRank)
    .map(([status, rank]) => `WHEN '${status}' THEN ${rank}`)
    .join(' ')} ELSE -1 END)`;

/** How long a status callback for a SID not (yet) recorded is kept for it. */
const EARLY_STATUS_CALLBACK_TTL_HOURS = 24;

// Advisory locks of this class, keyed by a hash of the SID, order a status callback for an
// unrecorded SID and the recording of that SID: whichever comes second sees the other.
// The lock must be a statement of its own, before the one that reads early_status_callbacks:
// under READ COMMITTED a statement reads with the snapshot it started with, so one that
// waits for the lock inside itself (a CTE calling pg_advisory_xact_lock, in autocommit)
// does not see the callback committed while it waited, and that callback would be lost
// (checked on Postgres 15: 0 rows seen, 1 by the next statement; issue 14, H11).
const STATUS_LOCK_CLASS = 7_413_222;

const lockStatusOf = (tx: Queryable, sid: string) =>
  tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [STATUS_LOCK_CLASS, sid]);

// Several SIDs' locks in one statement, in the order of their keys (the sorted subquery is
// not flattened, so each lock is taken as its row leaves the sort: EXPLAIN VERBOSE, and on
// Postgres 15 a batch waiting on one key held the lower keys only), so two processes'
// batches take shared keys in the same order and wait for each other instead of
// deadlocking. DISTINCT: SIDs of one hash are one lock.
const lockStatusesOf = (tx: Queryable, sids: readonly string[]) =>
  tx.query(
    `SELECT pg_advisory_xact_lock($1, key)
     FROM (SELECT DISTINCT hashtext(sid) AS key FROM unnest($2::text[]) AS sid ORDER BY key)
       AS sorted`,
    [STATUS_LOCK_CLASS, sids],
  );

/**
 * Applies a status update to the message with its SID, in one statement (one snapshot):
 * 'updated', 'stale' (the message is further along already) or null (no such SID).
 */
async function updateBySid(
  db: Queryable,
  update: { sid: string; status: string; errorCode: number | null },
): Promise<'updated' | 'stale' | null> {
  const [row] = await db.query<{ updated: boolean; known: boolean }>(
    `WITH updated AS (
       UPDATE outbound_messages
       SET status = $2, error_code = COALESCE($3, error_code), status_updated_at = now()
       WHERE twilio_sid = $1 AND ${rankOf('status')} < $4
       RETURNING id
     )
     SELECT EXISTS (SELECT 1 FROM updated) AS updated,
            EXISTS (SELECT 1 FROM outbound_messages WHERE twilio_sid = $1) AS known`,
    [update.sid, update.status, update.errorCode, statusRank[update.status] ?? -1],
  );
  if (row?.updated) return 'updated';
  return row?.known ? 'stale' : null;
}

/**
 * Applies a status callback. Returns 'updated', 'stale' (an older status arrived late),
 * 'kept' (no outbound message has that SID yet: Twilio answered the send, the SID is not
 * recorded yet; kept and applied when it is) or 'unknown' (an unknown status for an
 * unknown SID, dropped).
 */
export async function applyStatusCallback(
  db: Database,
  update: { sid: string; status: string; errorCode: number | null },
): Promise<'updated' | 'stale' | 'kept' | 'unknown'> {
  // The common case, a SID recorded long ago, takes no lock.
  const applied = await updateBySid(db, update);
  if (applied !== null) return applied;
  if (statusRank[update.status] === undefined) return 'unknown';
  return db.transaction(async (tx) => {
    await lockStatusOf(tx, update.sid);
    // The SID may have been recorded since the first look; with the lock held it cannot
    // be recorded until this callback is kept.
    const recorded = await updateBySid(tx, update);
    if (recorded !== null) return recorded;
    await tx.query(
      `DELETE FROM early_status_callbacks
       WHERE received_at < now() - make_interval(hours => $1)`,
      [EARLY_STATUS_CALLBACK_TTL_HOURS],
    );
    await tx.query(
      `INSERT INTO early_status_callbacks (message_sid, status, error_code) VALUES ($1, $2, $3)
       ON CONFLICT (message_sid, status) DO UPDATE
       SET error_code = COALESCE(EXCLUDED.error_code, early_status_callbacks.error_code)`,
      [update.sid, update.status, update.errorCode],
    );
    return 'kept';
  });
}

export async function listOutbound(
  db: Queryable,
  query: { limit: number; offset: number; inboundMessageId?: number | null },
): Promise<{ items: OutboundRow[]; total: number }> {
  const filter = query.inboundMessageId ? 'WHERE inbound_message_id = $3' : '';
  const params: unknown[] = [query.limit, query.offset];
  if (query.inboundMessageId) params.push(query.inboundMessageId);
  const items = await db.query<OutboundRow>(
    `SELECT ${columns} FROM outbound_messages ${filter} ORDER BY id DESC LIMIT $1 OFFSET $2`,
    params,
  );
  const [count] = await db.query<{ total: number }>(
    `SELECT count(*)::int AS total FROM outbound_messages ${query.inboundMessageId ? 'WHERE inbound_message_id = $1' : ''}`,
    query.inboundMessageId ? [query.inboundMessageId] : [],
  );
  return { items, total: count?.total ?? 0 };
}

export async function findOutbound(db: Queryable, id: number): Promise<OutboundRow | null> {
  const rows = await db.query<OutboundRow>(
    `SELECT ${columns} FROM outbound_messages WHERE id = $1`,
    [id],
  );
  return rows[0] ?? null;
}

/** Claims one pending outbound message by id (the CLI's and the library's immediate send). */
export const claimOutboundById = (
  db: Queryable,
  id: number,
  leaseMs: number,
): Promise<ClaimedOutbound | null> => outboundQueue.claimById(db, id, leaseMs);
