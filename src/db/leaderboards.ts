import type { Queryable } from './executor.js';

/** One person's points earned in a period. */
export interface PeriodPointsRow {
  user_id: number;
  username: string;
  points: number;
}

/**
 * Points earned in [from, to) — from tasks completed by a published proof in that time (a
 * proof awaiting review has earned nothing yet) — by every member of `groupId` (null: by
 * every user, for the deployment-wide board), most first, ties in id order. `from` null:
 * since the beginning. A post counts for the group it belongs to (its own group_id, else its
 * task's); for the deployment-wide board every post counts.
 */
export async function pointsInPeriod(
  db: Queryable,
  query: { groupId: number | null; from: Date | null; to: Date; limit: number },
): Promise<PeriodPointsRow[]> {
  const rows = await db.query<PeriodPointsRow>(
    `WITH people AS (
       SELECT u.id, u.username FROM users u
       WHERE $1::bigint IS NULL
          OR u.id IN (SELECT user_id FROM group_members WHERE group_id = $1)
     ),
     earned AS (
       SELECT f.user_id, sum(t.points)::int AS points
       FROM feed f
       JOIN tasks t ON t.id = f.task_id
       WHERE f.status = 'published' AND t.status = 'completed'
         AND ($1::bigint IS NULL OR COALESCE(f.group_id, t.group_id) = $1)
         AND ($2::timestamptz IS NULL OR COALESCE(t.completed_at, f.created_at) >= $2)
         AND COALESCE(t.completed_at, f.created_at) < $3
       GROUP BY f.user_id
     )
     SELECT p.id AS user_id, p.username, COALESCE(e.points, 0)::int AS points
     FROM people p LEFT JOIN earned e ON e.user_id = p.id
     ORDER BY points DESC, p.id
     LIMIT $4`,
    [query.groupId, query.from, query.to, query.limit],
  );
  return rows.map((row) => ({ ...row, user_id: Number(row.user_id) }));
}

/** A group's name and zone, for its leaderboard; null when there is no such group. */
export async function leaderboardGroup(
  db: Queryable,
  groupId: number,
): Promise<{ id: number; name: string; timezone: string | null } | null> {
  const rows = await db.query<{ id: number; name: string; timezone: string | null }>(
    'SELECT id, name, timezone FROM groups WHERE id = $1',
    [groupId],
  );
  return rows[0] ?? null;
}
