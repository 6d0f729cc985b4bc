import type { UserRow } from '../domain/user.js';
import type { Queryable } from './executor.js';
import { type Announce, outboundQueue } from './outbound.js';
import { userColumns } from './users.js';

/** A group's sharing rules, as sharing and the digests need them. */
export interface ShareGroupRow {
  id: number;
  name: string;
  /** null: the deployment's TZ. */
  timezone: string | null;
  share: 'instant' | 'digest' | 'off';
  /** null: SHARE_DIGEST_HOUR. */
  digest_hour: number | null;
}

const groupColumns = 'g.id, g.name, g.timezone, g.share, g.digest_hour';

/**
 * The SQL condition "the person with id `authorId` (an SQL expression: a column or a
 * parameter) shares their proofs with their groups" (users.share_proofs, migration 0022).
 * Every reader that withholds an author's proofs — the news told, the daily digest, the
 * send-time check, the group feed and its photos — asks it here, so they cannot come to
 * disagree on whom sharing off silences. Always true or false, never null.
 */
export const authorShares = (authorId: string): string =>
  `EXISTS (SELECT 1 FROM users sharing_author
           WHERE sharing_author.id = ${authorId} AND sharing_author.share_proofs)`;

/**
 * The group a feed post belongs to: its own group_id, else its task's, else the default
 * group (a post from before groups, or written before the post carried its group).
 */
export async function groupOfPost(db: Queryable, feedId: number): Promise<ShareGroupRow | null> {
  const rows = await db.query<ShareGroupRow>(
    `SELECT ${groupColumns}
     FROM feed f
     LEFT JOIN tasks t ON t.id = f.task_id
     JOIN groups g ON g.id = COALESCE(f.group_id, t.group_id,
                                      (SELECT id FROM groups WHERE is_default))
     WHERE f.id = $1`,
    [feedId],
  );
  return rows[0] ?? null;
}

/** A published post's author, task, photo key and the number its proof was sent to. */
export async function postForSharing(
  db: Queryable,
  feedId: number,
): Promise<{
  user_id: number;
  task_id: number | null;
  image_key: string | null;
  to_number: string | null;
} | null> {
  const rows = await db.query<{
    user_id: number;
    task_id: number | null;
    image_key: string | null;
    to_number: string | null;
  }>(
    `SELECT f.user_id, f.task_id, f.image_key, m.to_number
     FROM feed f LEFT JOIN messages m ON m.id = f.message_id
     WHERE f.id = $1`,
    [feedId],
  );
  return rows[0] ?? null;
}

/** Every group whose members may get digests (share not `off`), in id order. */
export const groupsWithDigests = (db: Queryable): Promise<ShareGroupRow[]> =>
  db.query<ShareGroupRow>(
    `SELECT ${groupColumns} FROM groups g WHERE g.share <> 'off' ORDER BY g.id`,
  );

/**
 * The members of a group who have not seen a post yet, in id order: not its author, and not
 * those who were sent the request to review it (src/services/reviews.ts) — they saw the
 * photo then, and the news would be theirs twice. Nobody, when the author turned sharing
 * off (users.share_proofs).
 */
export const membersToTell = (
  db: Queryable,
  groupId: number,
  post: { feedId: number; authorId: number },
): Promise<UserRow[]> =>
  db.query<UserRow>(
    `SELECT ${userColumns} FROM users u
     WHERE id IN (SELECT user_id FROM group_members WHERE group_id = $1)
       AND id <> $2
       AND ${authorShares('$2')}
       AND NOT EXISTS (SELECT 1 FROM review_requests rr
                       JOIN proof_reviews pr ON pr.id = rr.review_id
                       WHERE pr.feed_id = $3 AND rr.reviewer_id = u.id AND rr.skipped IS NULL)
     ORDER BY id`,
    [groupId, post.authorId, post.feedId],
  );

export type ShareStatus = 'sent' | 'pending' | 'digested' | 'skipped';

export interface NewShare {
  userId: number;
  status: 'sent' | 'pending' | 'skipped';
  reason?: string | null;
}

/**
 * Records, in one statement for all the members, that each is to hear (or was decided not
 * to hear) of a post; `sent` and `skipped` rows are decided at `at`. Resolves to the members
 * whose row is new: one that exists already (unique per post and person) is kept as it was,
 * so nobody is told twice.
 */
export async function insertShares(
  db: Queryable,
  post: { feedId: number; groupId: number },
  shares: readonly NewShare[],
  at: Date,
): Promise<Set<number>> {
  if (shares.length === 0) return new Set();
  const rows = await db.query<{ user_id: number }>(
    `INSERT INTO shares (feed_id, user_id, group_id, status, reason, decided_at)
     SELECT $1, s.user_id, $2, s.status, s.reason,
            CASE WHEN s.status = 'pending' THEN NULL ELSE $3::timestamptz END
     FROM unnest($4::bigint[], $5::text[], $6::text[]) AS s(user_id, status, reason)
     ON CONFLICT (feed_id, user_id) DO NOTHING
     RETURNING user_id`,
    [
      post.feedId,
      post.groupId,
      at,
      shares.map((share) => share.userId),
      shares.map((share) => share.status),
      shares.map((share) => share.reason ?? null),
    ],
  );
  return new Set(rows.map((row) => Number(row.user_id)));
}

/**
 * Queues one instant share message per recipient (all with the same text and photo) and
 * links each `sent` share row to its message: one statement, and one NOTIFY for the
 * outbound workers, delivered at commit, unless `announce` is false (see Announce in
 * src/db/outbound.ts). Resolves to the messages queued.
 */
export async function enqueueShareMessages(
  tx: Queryable,
  post: { feedId: number; taskId: number },
  message: { from: string; body: string; mediaUrls: readonly string[] },
  recipients: readonly { userId: number; to: string }[],
  options: Announce = {},
): Promise<number> {
  if (recipients.length === 0) return 0;
  const rows = await tx.query<{ queued: number; notified?: unknown }>(
    `WITH queued AS (
       INSERT INTO outbound_messages (kind, user_id, to_number, from_number, body, media_urls,
                                      task_id)
       SELECT 'share', r.user_id, r.to_number, $3, $4, $5::jsonb, $2
       FROM unnest($6::bigint[], $7::text[]) AS r(user_id, to_number)
       RETURNING id, user_id
     ),
     linked AS (
       UPDATE shares s SET outbound_message_id = q.id
       FROM queued q WHERE s.feed_id = $1 AND s.user_id = q.user_id
     )
     SELECT (SELECT count(*) FROM queued)::int AS queued,
            CASE WHEN $9::boolean THEN pg_notify($8, '')::text END AS notified`,
    [
      post.feedId,
      post.taskId,
      message.from,
      message.body,
      JSON.stringify(message.mediaUrls),
      recipients.map((recipient) => recipient.userId),
      recipients.map((recipient) => recipient.to),
      outboundQueue.channel,
      options.announce ?? true,
    ],
  );
  return Number(rows[0]?.queued ?? 0);
}

/** The members of a group who have news waiting for their daily digest. */
export async function membersWithPendingShares(db: Queryable, groupId: number): Promise<number[]> {
  const rows = await db.query<{ user_id: number }>(
    `SELECT DISTINCT user_id FROM shares WHERE group_id = $1 AND status = 'pending'
     ORDER BY user_id`,
    [groupId],
  );
  return rows.map((row) => Number(row.user_id));
}

/** A waiting piece of news, with what a digest line says about it. */
export interface PendingShareRow {
  feed_id: number;
  created_at: Date;
  author: string;
  task_description: string | null;
  habit_id: number | null;
  /** Whether the post's author still shares their proofs (users.share_proofs). */
  author_shares: boolean;
}

/** Locks a member's waiting news in a group, oldest first. */
export const lockPendingShares = (
  tx: Queryable,
  groupId: number,
  userId: number,
): Promise<PendingShareRow[]> =>
  tx.query<PendingShareRow>(
    `SELECT s.feed_id, f.created_at, u.username AS author, t.description AS task_description,
            t.habit_id, ${authorShares('f.user_id')} AS author_shares
     FROM shares s
     JOIN feed f ON f.id = s.feed_id
     JOIN users u ON u.id = f.user_id
     LEFT JOIN tasks t ON t.id = f.task_id
     WHERE s.group_id = $1 AND s.user_id = $2 AND s.status = 'pending'
     ORDER BY f.created_at, s.feed_id
     FOR UPDATE OF s`,
    [groupId, userId],
  );

/** Settles waiting news: told in a digest, or skipped with the reason. */
export const settleShares = (
  tx: Queryable,
  userId: number,
  feedIds: readonly number[],
  outcome: { status: 'digested' | 'skipped'; reason: string | null; outboundId: number | null },
  at: Date,
) =>
  tx.query(
    `UPDATE shares SET status = $3, reason = $4, outbound_message_id = $5, decided_at = $6
     WHERE user_id = $1 AND feed_id = ANY($2::bigint[]) AND status = 'pending'`,
    [userId, feedIds, outcome.status, outcome.reason, outcome.outboundId, at],
  );

export type DigestKind = 'daily' | 'weekly';

/**
 * Claims a member's digest of one kind for one local date (a weekly one: its Monday). False
 * when it was claimed before, by this process or another: each is decided once. Under
 * Postgres a racing claim waits for the first transaction and then finds the row.
 */
export async function claimDigest(
  tx: Queryable,
  digest: { groupId: number; userId: number; kind: DigestKind; localDate: string },
): Promise<boolean> {
  const rows = await tx.query(
    `INSERT INTO group_digests (group_id, user_id, kind, local_date, status)
     VALUES ($1, $2, $3, $4::date, 'skipped')
     ON CONFLICT DO NOTHING
     RETURNING group_id`,
    [digest.groupId, digest.userId, digest.kind, digest.localDate],
  );
  return rows.length > 0;
}

export const decideDigest = (
  tx: Queryable,
  digest: { groupId: number; userId: number; kind: DigestKind; localDate: string },
  decision: {
    status: 'sent' | 'skipped';
    channel: 'whatsapp' | 'template' | null;
    reason: string | null;
    outboundId: number | null;
  },
) =>
  tx.query(
    `UPDATE group_digests SET status = $5, channel = $6, reason = $7, outbound_message_id = $8
     WHERE group_id = $1 AND user_id = $2 AND kind = $3 AND local_date = $4::date`,
    [
      digest.groupId,
      digest.userId,
      digest.kind,
      digest.localDate,
      decision.status,
      decision.channel,
      decision.reason,
      decision.outboundId,
    ],
  );

/** The members of a group without a weekly digest for the week starting `monday`. */
export async function membersWithoutWeeklyDigest(
  db: Queryable,
  groupId: number,
  monday: string,
): Promise<number[]> {
  const rows = await db.query<{ user_id: number }>(
    `SELECT m.user_id FROM group_members m
     WHERE m.group_id = $1
       AND NOT EXISTS (SELECT 1 FROM group_digests d
                       WHERE d.group_id = m.group_id AND d.user_id = m.user_id
                         AND d.kind = 'weekly' AND d.local_date = $2::date)
     ORDER BY m.user_id`,
    [groupId, monday],
  );
  return rows.map((row) => Number(row.user_id));
}
