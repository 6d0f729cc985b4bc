import type { MessageRow } from '../domain/message.js';
import type { Queryable } from './executor.js';
import { messageColumns } from './messages.js';
import { authorShares } from './shares.js';

/**
 * What the participant app (issue 17) reads and removes for the signed-in person: their
 * groups, the posts those groups share, and everything of theirs for export and deletion.
 * Every query is keyed on the session's user id, so none can answer another person's rows.
 */

export interface MemberGroupRow {
  id: number;
  name: string;
  role: string;
  timezone: string | null;
  is_default: boolean;
}

/** The person's groups (group_members), by name. */
export async function groupsOfMember(db: Queryable, userId: number): Promise<MemberGroupRow[]> {
  const rows = await db.query<MemberGroupRow>(
    `SELECT g.id, g.name, m.role, g.timezone, g.is_default
     FROM group_members m JOIN groups g ON g.id = m.group_id
     WHERE m.user_id = $1 ORDER BY g.is_default DESC, g.name, g.id`,
    [userId],
  );
  return rows.map((row) => ({ ...row, id: Number(row.id) }));
}

export async function leaveGroupOf(
  db: Queryable,
  userId: number,
  groupId: number,
): Promise<boolean> {
  const rows = await db.query(
    `DELETE FROM group_members WHERE user_id = $1 AND group_id = $2 RETURNING group_id`,
    [userId, groupId],
  );
  return rows.length > 0;
}

export interface GroupPostRow {
  id: number;
  created_at: Date;
  user_id: number;
  username: string;
  group_id: number;
  group_name: string;
  task_description: string | null;
  image_key: string | null;
  post_content: string | null;
  status: string;
}

/**
 * Posts of the given groups, newest first, as `viewerId` may see them. Proofs waiting for
 * review or rejected are left out: a group shares what counted; so are the posts of
 * authors who turned sharing off (users.share_proofs), but for the viewer's own.
 */
export async function postsOfGroups(
  db: Queryable,
  viewerId: number,
  groupIds: readonly number[],
  page: { limit: number; offset: number },
): Promise<GroupPostRow[]> {
  if (groupIds.length === 0) return [];
  const rows = await db.query<GroupPostRow>(
    `SELECT f.id, f.created_at, f.user_id, u.username, f.group_id, g.name AS group_name,
            t.description AS task_description, f.image_key, f.post_content, f.status
     FROM feed f
     JOIN users u ON u.id = f.user_id
     JOIN groups g ON g.id = f.group_id
     LEFT JOIN tasks t ON t.id = f.task_id
     WHERE f.group_id = ANY($1::bigint[]) AND f.status NOT IN ('pending_review', 'rejected')
       AND (${authorShares('f.user_id')} OR f.user_id = $4)
     ORDER BY f.created_at DESC, f.id DESC
     LIMIT $2 OFFSET $3`,
    [groupIds, page.limit, page.offset, viewerId],
  );
  return rows.map((row) => ({ ...row, id: Number(row.id), user_id: Number(row.user_id) }));
}

/**
 * Whether the person may see the photo stored under `key`: a post of theirs or of one of
 * their groups (published by an author who shares, or waiting for their review), or a
 * photo they sent themselves.
 */
export async function photoVisibleTo(db: Queryable, userId: number, key: string): Promise<boolean> {
  const rows = await db.query(
    `SELECT 1 FROM feed f
     WHERE f.image_key = $2
       AND (f.user_id = $1
            -- a proof waiting for review is shown to the members asked to review it
            OR (f.status <> 'rejected'
                AND f.group_id IN (SELECT group_id FROM group_members WHERE user_id = $1)
                AND (f.status = 'pending_review'
                     OR ${authorShares('f.user_id')})))
     UNION ALL
     SELECT 1 FROM messages m, users u
     WHERE u.id = $1 AND m.sender IN (u.phone_number, u.whatsapp_id)
       AND m.stored_media @> jsonb_build_array(jsonb_build_object('key', $2::text))
     LIMIT 1`,
    [userId, key],
  );
  return rows.length > 0;
}

/** A person's open tasks (active, or a proof waiting for review), soonest first. */
export async function openTasksForToday(
  db: Queryable,
  userId: number,
  limit: number,
): Promise<
  {
    id: number;
    description: string;
    due_time: Date;
    status: string;
    points: number;
    habit_id: number | null;
  }[]
> {
  const rows = await db.query<{
    id: number;
    description: string;
    due_time: Date;
    status: string;
    points: number;
    habit_id: number | null;
  }>(
    `SELECT id, description, due_time, status, points, habit_id FROM tasks
     WHERE user_id = $1 AND status IN ('active', 'pending_review')
     ORDER BY due_time, id LIMIT $2`,
    [userId, limit],
  );
  return rows.map((row) => ({
    ...row,
    id: Number(row.id),
    habit_id: row.habit_id === null ? null : Number(row.habit_id),
  }));
}

/** Everything of the person's, for "export my data". */
export async function exportRows(
  db: Queryable,
  userId: number,
): Promise<{
  messages: Record<string, unknown>[];
  replies: Record<string, unknown>[];
  tasks: Record<string, unknown>[];
  habits: Record<string, unknown>[];
  posts: Record<string, unknown>[];
  groups: Record<string, unknown>[];
}> {
  const messages = await db.query(
    `SELECT m.id, m.created_at, m.body, m.stored_media FROM messages m, users u
     WHERE u.id = $1 AND m.sender IN (u.phone_number, u.whatsapp_id) ORDER BY m.id`,
    [userId],
  );
  const replies = await db.query(
    `SELECT id, created_at, kind, body, status FROM outbound_messages
     WHERE user_id = $1 ORDER BY id`,
    [userId],
  );
  const tasks = await db.query(
    `SELECT id, created_at, description, due_time, status, points, completed_at, habit_id
     FROM tasks WHERE user_id = $1 ORDER BY id`,
    [userId],
  );
  const habits = await db.query(
    `SELECT id, created_at, description, schedule_text, status, points
     FROM habits WHERE user_id = $1 ORDER BY id`,
    [userId],
  );
  const posts = await db.query(
    `SELECT id, created_at, task_id, group_id, status, post_content, image_key
     FROM feed WHERE user_id = $1 ORDER BY id`,
    [userId],
  );
  const groups = await db.query(
    `SELECT g.id, g.name, m.role, m.joined_at FROM group_members m
     JOIN groups g ON g.id = m.group_id WHERE m.user_id = $1 ORDER BY g.id`,
    [userId],
  );
  return { messages, replies, tasks, habits, posts, groups };
}

/**
 * Deletes the person: their messages (matched by sender), the messages sent to them, and
 * the user row, which cascades to tasks, habits, posts, memberships, sessions and the rest.
 * Resolves to the object keys of their photos (for the caller to remove from the bucket)
 * and their address, or null when there is no such user. Leaves one anonymous row of
 * totals in account_deletions.
 */
export async function deleteAccountRows(
  tx: Queryable,
  userId: number,
): Promise<{ keys: string[]; phone: string | null } | null> {
  const [user] = await tx.query<{ phone_number: string | null; whatsapp_id: string | null }>(
    `SELECT phone_number, whatsapp_id FROM users WHERE id = $1 FOR UPDATE`,
    [userId],
  );
  if (!user) return null;
  const senders = [user.phone_number, user.whatsapp_id].filter((s): s is string => s !== null);
  const keyRows = await tx.query<{ key: string }>(
    `SELECT image_key AS key FROM feed WHERE user_id = $1 AND image_key IS NOT NULL
     UNION
     SELECT item->>'key' AS key FROM messages m, jsonb_array_elements(m.stored_media) item
     WHERE m.sender = ANY($2::text[]) AND item ? 'key'`,
    [userId, senders],
  );
  await tx.query(
    `INSERT INTO account_deletions (points, tasks_completed, posts)
     SELECT u.points,
            (SELECT count(*)::int FROM tasks WHERE user_id = u.id AND status = 'completed'),
            (SELECT count(*)::int FROM feed WHERE user_id = u.id)
     FROM users u WHERE u.id = $1`,
    [userId],
  );
  await tx.query(`DELETE FROM messages WHERE sender = ANY($1::text[])`, [senders]);
  const addresses = senders.flatMap((sender) => [sender, `whatsapp:${sender}`]);
  await tx.query(
    `DELETE FROM outbound_messages WHERE user_id = $1 OR to_number = ANY($2::text[])`,
    [userId, addresses],
  );
  await tx.query(`DELETE FROM users WHERE id = $1`, [userId]);
  return { keys: keyRows.map((row) => row.key), phone: user.phone_number };
}

/**
 * Records what the person typed in the app as one of their messages (processed at once,
 * never queued): the WhatsApp commands it runs key their effects on a message, and the
 * person's export and the admin's inbox then show it like any other.
 */
export async function insertAppMessage(
  tx: Queryable,
  message: { sid: string; sender: string; body: string },
): Promise<MessageRow> {
  const [row] = await tx.query<MessageRow>(
    `INSERT INTO messages (message_sid, from_number, to_number, body, sender, raw,
                           processing_status, processed, processed_at)
     VALUES ($1, $2, 'app', $3, $4, $5::jsonb, 'processed', true, now())
     RETURNING ${messageColumns}`,
    [
      message.sid,
      `app:${message.sender}`,
      message.body,
      message.sender,
      JSON.stringify({ Channel: 'app' }),
    ],
  );
  return { ...(row as MessageRow), id: Number(row?.id) };
}

export interface ReviewWaitingRow {
  id: number;
  created_at: Date;
  username: string;
  group_name: string | null;
  task_description: string | null;
  image_key: string | null;
  post_content: string | null;
}

/**
 * Proofs waiting for a decision in the person's groups, other people's only: what peer
 * review asks every other member to approve or reject (src/services/reviews.ts).
 */
export async function reviewsWaitingFor(
  db: Queryable,
  userId: number,
): Promise<ReviewWaitingRow[]> {
  const rows = await db.query<ReviewWaitingRow>(
    `SELECT r.id, r.created_at, u.username, g.name AS group_name,
            t.description AS task_description, f.image_key, f.post_content
     FROM proof_reviews r
     JOIN feed f ON f.id = r.feed_id
     JOIN users u ON u.id = r.user_id
     LEFT JOIN groups g ON g.id = r.group_id
     LEFT JOIN tasks t ON t.id = r.task_id
     WHERE r.status = 'pending' AND r.user_id <> $1
       AND r.group_id IN (SELECT group_id FROM group_members WHERE user_id = $1)
     ORDER BY r.created_at, r.id
     LIMIT 50`,
    [userId],
  );
  return rows.map((row) => ({ ...row, id: Number(row.id) }));
}

/** Whether the person shares their proofs with their groups (users.share_proofs). */
export async function sharesProofs(db: Queryable, userId: number): Promise<boolean> {
  const rows = await db.query<{ share_proofs: boolean }>(
    'SELECT share_proofs FROM users WHERE id = $1',
    [userId],
  );
  return rows[0]?.share_proofs ?? true;
}

export const setSharesProofs = (db: Queryable, userId: number, share: boolean) =>
  db.query('UPDATE users SET share_proofs = $2 WHERE id = $1', [userId, share]);
