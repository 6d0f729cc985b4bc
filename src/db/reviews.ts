import type { TaskRow } from '../domain/task.js';
import type { UserRow } from '../domain/user.js';
import type { Queryable } from './executor.js';
import { type QueueTable, defineQueueTable } from './queue-table.js';
import { taskColumns } from './tasks.js';
import { userColumns } from './users.js';

/**
 * Proof reviews (migration 0017): one row per proof awaiting a peer's or the model's
 * decision, and one review_requests row per member asked. Groups and memberships are read
 * from group_members directly: this module needs only "who else is in the group".
 */

export type ReviewMethod = 'peer' | 'model';
export type ReviewStatus = 'pending' | 'approved' | 'rejected';
export type DecidedBy = 'peer' | 'model' | 'timeout' | 'admin';

export interface ReviewRow {
  id: number;
  created_at: Date;
  feed_id: number;
  task_id: number | null;
  user_id: number;
  group_id: number | null;
  message_id: number | null;
  owner_address: string;
  from_number: string;
  image_key: string | null;
  image_url: string | null;
  method: ReviewMethod;
  status: ReviewStatus;
  timeout_at: Date;
  decided_at: Date | null;
  decided_by: DecidedBy | null;
  decided_by_user_id: number | null;
  reason: string | null;
  model_status: string | null;
  model_verdict: unknown;
  model_error: string | null;
}

const reviewColumns = `id, created_at, feed_id, task_id, user_id, group_id, message_id,
  owner_address, from_number, image_key, image_url, method, status, timeout_at, decided_at,
  decided_by, decided_by_user_id, reason, model_status, model_verdict, model_error`;

/** A claimed model review job. */
export interface ClaimedModelReview extends ReviewRow {
  attempts: number;
  claims: number;
}

/** proof_reviews as the model review job's queue: rows whose model_status is pending. */
export const modelReviewQueue: QueueTable<ClaimedModelReview> =
  defineQueueTable<ClaimedModelReview>({
    name: 'model_review',
    table: 'proof_reviews',
    channel: 'taskwire_model_review',
    status: { column: 'model_status', pending: 'pending', running: 'running', failed: 'failed' },
    columns: `${reviewColumns.replace(/\s+/g, ' ')}, attempts`,
    errorColumns: { message: 'model_error' },
  });

export interface NewReview {
  feedId: number;
  taskId: number;
  userId: number;
  groupId: number | null;
  messageId: number;
  ownerAddress: string;
  fromNumber: string;
  imageKey: string | null;
  imageUrl: string | null;
  method: ReviewMethod;
  timeoutAt: Date;
  /** `pending`: the model review job runs first; null: peers are asked at once. */
  modelStatus: 'pending' | 'done' | null;
  modelVerdict?: unknown;
}

/** Records a review; null when the post already has one (a re-processed message). */
export async function insertReview(db: Queryable, review: NewReview): Promise<ReviewRow | null> {
  const rows = await db.query<ReviewRow>(
    `INSERT INTO proof_reviews (feed_id, task_id, user_id, group_id, message_id, owner_address,
                                from_number, image_key, image_url, method, timeout_at,
                                model_status, model_verdict)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb)
     ON CONFLICT (feed_id) DO NOTHING
     RETURNING ${reviewColumns}`,
    [
      review.feedId,
      review.taskId,
      review.userId,
      review.groupId,
      review.messageId,
      review.ownerAddress,
      review.fromNumber,
      review.imageKey,
      review.imageUrl,
      review.method,
      review.timeoutAt,
      review.modelStatus,
      review.modelVerdict === undefined ? null : JSON.stringify(review.modelVerdict),
    ],
  );
  if (rows[0] && review.modelStatus === 'pending') await modelReviewQueue.notify(db);
  return rows[0] ?? null;
}

export async function findReview(db: Queryable, id: number): Promise<ReviewRow | null> {
  const rows = await db.query<ReviewRow>(
    `SELECT ${reviewColumns} FROM proof_reviews WHERE id = $1`,
    [id],
  );
  return rows[0] ?? null;
}

/** The task a photo is pending review for: active → pending_review. Null if not active. */
export async function holdTaskForReview(db: Queryable, taskId: number): Promise<TaskRow | null> {
  const rows = await db.query<TaskRow>(
    `UPDATE tasks SET status = 'pending_review' WHERE id = $1 AND status = 'active'
     RETURNING ${taskColumns}`,
    [taskId],
  );
  return rows[0] ?? null;
}

/** Approval: pending_review → completed. Null when it is not pending (deleted, decided). */
export async function completeReviewedTask(
  db: Queryable,
  taskId: number,
  at: Date,
): Promise<TaskRow | null> {
  const rows = await db.query<TaskRow>(
    `UPDATE tasks SET status = 'completed', completed_at = $2
     WHERE id = $1 AND status = 'pending_review'
     RETURNING ${taskColumns}`,
    [taskId, at],
  );
  return rows[0] ?? null;
}

/** Rejection: pending_review → active again, so another photo can prove it. */
export async function reopenReviewedTask(db: Queryable, taskId: number): Promise<TaskRow | null> {
  const rows = await db.query<TaskRow>(
    `UPDATE tasks SET status = 'active' WHERE id = $1 AND status = 'pending_review'
     RETURNING ${taskColumns}`,
    [taskId],
  );
  return rows[0] ?? null;
}

export async function setFeedStatus(db: Queryable, feedId: number, status: string): Promise<void> {
  await db.query('UPDATE feed SET status = $2 WHERE id = $1', [feedId, status]);
}

/** The other members of a group (not `exceptUserId`), in the order they joined. */
export async function otherMembers(
  db: Queryable,
  groupId: number,
  exceptUserId: number,
): Promise<UserRow[]> {
  return db.query<UserRow>(
    `SELECT ${userColumns.replace(/(\w+)/g, 'u.$1')}
     FROM group_members m JOIN users u ON u.id = m.user_id
     WHERE m.group_id = $1 AND m.user_id <> $2
     ORDER BY m.joined_at, u.id`,
    [groupId, exceptUserId],
  );
}

export async function isGroupMember(
  db: Queryable,
  groupId: number | null,
  userId: number,
): Promise<boolean> {
  if (groupId === null) return false;
  const rows = await db.query('SELECT 1 FROM group_members WHERE group_id = $1 AND user_id = $2', [
    groupId,
    userId,
  ]);
  return rows.length > 0;
}

export async function insertReviewRequest(
  db: Queryable,
  request: {
    reviewId: number;
    reviewerId: number;
    outboundId: number | null;
    skipped: string | null;
  },
): Promise<void> {
  await db.query(
    `INSERT INTO review_requests (review_id, reviewer_id, outbound_message_id, skipped)
     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
    [request.reviewId, request.reviewerId, request.outboundId, request.skipped],
  );
}

/** The review a WhatsApp quoted reply answers: the request whose message has that SID. */
export async function reviewIdByRequestSid(db: Queryable, sid: string): Promise<number | null> {
  const rows = await db.query<{ review_id: number }>(
    `SELECT r.review_id FROM review_requests r
     JOIN outbound_messages o ON o.id = r.outbound_message_id
     WHERE o.twilio_sid = $1`,
    [sid],
  );
  return rows[0] ? Number(rows[0].review_id) : null;
}

/** Pending reviews this person was asked about, newest first. */
export async function pendingRequestsOf(db: Queryable, reviewerId: number): Promise<number[]> {
  const rows = await db.query<{ id: number }>(
    `SELECT p.id FROM review_requests r JOIN proof_reviews p ON p.id = r.review_id
     WHERE r.reviewer_id = $1 AND p.status = 'pending' AND r.skipped IS NULL
     ORDER BY p.id DESC`,
    [reviewerId],
  );
  return rows.map((row) => Number(row.id));
}

export interface Decision {
  status: 'approved' | 'rejected';
  by: DecidedBy;
  userId: number | null;
  reason: string | null;
  at: Date;
}

/**
 * Records the decision if none was made yet: one UPDATE on the pending row, so of two
 * decisions at once the second waits for the first's row lock, then finds the row decided
 * and changes nothing. Null when it was decided already.
 */
export async function decideReviewRow(
  db: Queryable,
  id: number,
  decision: Decision,
): Promise<ReviewRow | null> {
  const rows = await db.query<ReviewRow>(
    `UPDATE proof_reviews
     SET status = $2, decided_by = $3, decided_by_user_id = $4, reason = $5, decided_at = $6,
         model_status = CASE WHEN model_status IN ('pending', 'running') THEN 'done'
                             ELSE model_status END,
         locked_until = NULL
     WHERE id = $1 AND status = 'pending'
     RETURNING ${reviewColumns}`,
    [id, decision.status, decision.by, decision.userId, decision.reason, decision.at],
  );
  return rows[0] ?? null;
}

/** Locks the next pending review whose time ran out (SKIP LOCKED: one instance takes it). */
export async function lockNextTimedOutReview(db: Queryable, now: Date): Promise<number | null> {
  const rows = await db.query<{ id: number }>(
    `SELECT id FROM proof_reviews
     WHERE status = 'pending' AND timeout_at <= $1
     ORDER BY timeout_at, id
     LIMIT 1
     FOR UPDATE SKIP LOCKED`,
    [now],
  );
  return rows[0] ? Number(rows[0].id) : null;
}

/** The model job's last step on a held claim: done, with what the model said. */
export async function finishModelReview(
  db: Queryable,
  claim: { id: number; claims: number },
  verdict: unknown,
  timeoutAt: Date | null,
): Promise<boolean> {
  const rows = await db.query(
    `UPDATE proof_reviews
     SET model_status = 'done', model_verdict = $3::jsonb, locked_until = NULL,
         timeout_at = COALESCE($4, timeout_at)
     WHERE ${modelReviewQueue.held()}
     RETURNING id`,
    [claim.id, claim.claims, JSON.stringify(verdict), timeoutAt],
  );
  return rows.length > 0;
}

/** A review as the admin API lists it: with the owner's name and the task. */
export interface ReviewListRow extends ReviewRow {
  username: string;
  task_description: string | null;
  due_time: Date | null;
}

export async function listReviews(
  db: Queryable,
  query: { status: ReviewStatus | null; groupId: number | null; limit: number; offset: number },
): Promise<{ items: ReviewListRow[]; total: number }> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (query.status !== null) {
    params.push(query.status);
    where.push(`p.status = $${params.length}`);
  }
  if (query.groupId !== null) {
    params.push(query.groupId);
    where.push(`p.group_id = $${params.length}`);
  }
  const clause = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
  const [count] = await db.query<{ total: number }>(
    `SELECT count(*)::int AS total FROM proof_reviews p ${clause}`,
    params,
  );
  const items = await db.query<ReviewListRow>(
    `SELECT ${reviewColumns.replace(/(\w+)/g, 'p.$1')}, u.username,
            t.description AS task_description, t.due_time
     FROM proof_reviews p
     JOIN users u ON u.id = p.user_id
     LEFT JOIN tasks t ON t.id = p.task_id
     ${clause}
     ORDER BY p.id DESC
     LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
    [...params, query.limit, query.offset],
  );
  return { items, total: count?.total ?? 0 };
}

export async function findTask(db: Queryable, taskId: number | null): Promise<TaskRow | null> {
  if (taskId === null) return null;
  const rows = await db.query<TaskRow>(`SELECT ${taskColumns} FROM tasks WHERE id = $1`, [taskId]);
  return rows[0] ?? null;
}

export async function findUser(db: Queryable, userId: number | null): Promise<UserRow | null> {
  if (userId === null) return null;
  const rows = await db.query<UserRow>(`SELECT ${userColumns} FROM users WHERE id = $1`, [userId]);
  return rows[0] ?? null;
}
