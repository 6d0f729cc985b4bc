import type { Queryable } from './executor.js';
import { dhashParam, type ProofFingerprint } from './proofs.js';

/** A feed post as the API shows it: the post, its author's name and its task's description. */
export interface FeedItemRow {
  id: number;
  created_at: Date;
  user_id: number;
  username: string;
  /** Null when the task was deleted after the post. */
  task_id: number | null;
  task_description: string | null;
  image_url: string | null;
  /** The photo's object key; the API answers image_url built from it (src/http/storage-urls.ts). */
  image_key: string | null;
  post_content: string | null;
  status: string;
  /** The group of the post's task (migration 0015 fills it in). */
  group_id: number | null;
}

export interface ListFeedQuery {
  limit: number;
  offset: number;
  userId: number | null;
  /** Only one group's posts (GET /feed?group_id=). */
  groupId?: number | null;
}

/** Feed posts, newest first (ties: the later id first), optionally of one user or group. */
export async function listFeed(
  db: Queryable,
  query: ListFeedQuery,
): Promise<{ items: FeedItemRow[]; total: number }> {
  const filters: unknown[] = [];
  const conditions: string[] = [];
  if (query.userId !== null) {
    filters.push(query.userId);
    conditions.push(`f.user_id = $${filters.length}`);
  }
  if (query.groupId !== undefined && query.groupId !== null) {
    filters.push(query.groupId);
    conditions.push(`f.group_id = $${filters.length}`);
  }
  const where = conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`;
  const paging = `LIMIT $${filters.length + 1} OFFSET $${filters.length + 2}`;
  const items = await db.query<FeedItemRow>(
    `SELECT f.id, f.created_at, f.user_id, u.username, f.task_id,
            t.description AS task_description, f.image_url, f.image_key, f.post_content,
            f.status, f.group_id
     FROM feed f
     JOIN users u ON u.id = f.user_id
     LEFT JOIN tasks t ON t.id = f.task_id
     ${where}
     ORDER BY f.created_at DESC, f.id DESC
     ${paging}`,
    [...filters, query.limit, query.offset],
  );
  const [count] = await db.query<{ total: number }>(
    `SELECT count(*)::int AS total FROM feed f ${where}`,
    filters,
  );
  return { items, total: count?.total ?? 0 };
}

/** A post to add when a task is completed. */
export interface NewFeedPost {
  user_id: number;
  task_id: number | null;
  /** Where the photo was recorded (the guide's column); the answers use image_key. */
  image_url: string | null;
  /** The photo's object key in the bucket; null when it is not in our bucket. */
  image_key?: string | null;
  post_content: string | null;
  /** The proof message. */
  message_id: number | null;
  /** Default `published`. */
  status?: string;
  /** The proof photo's hashes (proof checks, src/db/proofs.ts); none without a photo. */
  proof?: ProofFingerprint | null;
}

export interface FeedPostRow {
  id: number;
  created_at: Date;
  user_id: number;
  task_id: number | null;
  image_url: string | null;
  status: string;
  post_content: string | null;
  message_id: number | null;
}

/** The columns of FeedPostRow, as a feed INSERT returns them. */
export const feedPostColumns =
  'id, created_at, user_id, task_id, image_url, status, post_content, message_id';

/**
 * The INSERT of a feed post with its values in $1..$9 (feedPostParams), returning
 * `returning`: at most one post per task, per message and per proof photo's bytes (the
 * unique indexes; ON CONFLICT DO NOTHING then inserts nothing). `onlyIf`: SQL that must
 * hold for the post to be inserted at all (inside a larger statement).
 */
export const feedPostInsertSql = (returning: string, onlyIf = 'true') =>
  `INSERT INTO feed (user_id, task_id, image_url, post_content, message_id, status,
                     proof_sha256, proof_dhash, image_key)
   SELECT $1::bigint, $2::bigint, $3::text, $4::text, $5::bigint, $6::text, $7::text,
          $8::bigint, $9::text
   WHERE ${onlyIf}
   ON CONFLICT DO NOTHING
   RETURNING ${returning}`;

/** The values of feedPostInsertSql's $1..$9. */
export const feedPostParams = (post: NewFeedPost): unknown[] => [
  post.user_id,
  post.task_id,
  post.image_url,
  post.post_content,
  post.message_id,
  post.status ?? 'published',
  post.proof?.sha256 ?? null,
  dhashParam(post.proof?.dhash ?? null),
  post.image_key ?? null,
];

/**
 * Adds a feed post. There is at most one post per task, per message and per proof photo
 * (its exact bytes): resolves to null, changing nothing, when the task, the message or
 * the photo already has one (a re-processed message, a racing copy of the same photo).
 */
export async function insertFeedPost(
  db: Queryable,
  post: NewFeedPost,
): Promise<FeedPostRow | null> {
  const rows = await db.query<FeedPostRow>(
    feedPostInsertSql(feedPostColumns),
    feedPostParams(post),
  );
  return rows[0] ?? null;
}
