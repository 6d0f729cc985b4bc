import type {
  GroupMemberRow,
  GroupReview,
  GroupRole,
  GroupRow,
  GroupShare,
} from '../domain/group.js';
import type { Queryable } from './executor.js';

export const groupColumns =
  'id, created_at, name, timezone, review, share, invite_code, is_default, digest_hour';

/** A new group; values already parsed (see domain/group.ts). */
export interface NewGroup {
  name: string;
  timezone: string | null;
  review: GroupReview;
  share: GroupShare;
  digest_hour: number | null;
  invite_code: string;
}

/**
 * Inserts a group; null when its invite code is taken (the caller draws another), so a
 * transaction around it is not aborted by a unique violation.
 */
export async function insertGroup(db: Queryable, group: NewGroup): Promise<GroupRow | null> {
  const rows = await db.query<GroupRow>(
    `INSERT INTO groups (name, timezone, review, share, digest_hour, invite_code)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (invite_code) DO NOTHING
     RETURNING ${groupColumns}`,
    [group.name, group.timezone, group.review, group.share, group.digest_hour, group.invite_code],
  );
  return rows[0] ?? null;
}

/** Every group with its member count, default group first, then in creation order. */
export async function listGroups(
  db: Queryable,
  page: { limit: number; offset: number },
): Promise<{ items: (GroupRow & { member_count: number })[]; total: number }> {
  const items = await db.query<GroupRow & { member_count: number }>(
    `SELECT ${groupColumns.replace(/(\w+)/g, 'g.$1')},
       (SELECT count(*)::int FROM group_members m WHERE m.group_id = g.id) AS member_count
     FROM groups g ORDER BY g.is_default DESC, g.id LIMIT $1 OFFSET $2`,
    [page.limit, page.offset],
  );
  const [count] = await db.query<{ total: number }>('SELECT count(*)::int AS total FROM groups');
  return { items, total: count?.total ?? 0 };
}

export async function findGroupById(db: Queryable, id: number): Promise<GroupRow | null> {
  const rows = await db.query<GroupRow>(`SELECT ${groupColumns} FROM groups WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

/** The group of an invite code (stored upper case: pass it normalised). */
export async function findGroupByCode(db: Queryable, code: string): Promise<GroupRow | null> {
  const rows = await db.query<GroupRow>(
    `SELECT ${groupColumns} FROM groups WHERE invite_code = $1`,
    [code],
  );
  return rows[0] ?? null;
}

export async function findDefaultGroup(db: Queryable): Promise<GroupRow | null> {
  const rows = await db.query<GroupRow>(`SELECT ${groupColumns} FROM groups WHERE is_default`);
  return rows[0] ?? null;
}

export type GroupChanges = Partial<
  Pick<GroupRow, 'name' | 'timezone' | 'review' | 'share' | 'digest_hour'>
>;
const changeableColumns = ['name', 'timezone', 'review', 'share', 'digest_hour'] as const;

/** Changes the given columns of a group; null when there is no such group. */
export async function updateGroup(
  db: Queryable,
  id: number,
  changes: GroupChanges,
): Promise<GroupRow | null> {
  const columns = changeableColumns.filter((column) => changes[column] !== undefined);
  if (columns.length === 0) return findGroupById(db, id);
  const assignments = columns.map((column, index) => `${column} = $${index + 2}`).join(', ');
  const rows = await db.query<GroupRow>(
    `UPDATE groups SET ${assignments} WHERE id = $1 RETURNING ${groupColumns}`,
    [id, ...columns.map((column) => changes[column])],
  );
  return rows[0] ?? null;
}

/** The members of a group with their names and roles, admins first, then by joining. */
export async function membersOfGroup(db: Queryable, groupId: number): Promise<GroupMemberRow[]> {
  return db.query<GroupMemberRow>(
    `SELECT m.user_id, u.username, m.role, m.joined_at
     FROM group_members m JOIN users u ON u.id = m.user_id
     WHERE m.group_id = $1
     ORDER BY m.role = 'admin' DESC, m.joined_at, m.user_id`,
    [groupId],
  );
}

/**
 * Puts a person in a group, or changes their role when `role` is given and they are in it
 * already. Resolves to whether they were added (false: already a member). Unknown user or
 * group: no row, no error (INSERT … SELECT), so a caller's transaction goes on.
 */
export async function addMember(
  db: Queryable,
  member: { groupId: number; userId: number; role?: GroupRole },
): Promise<{ added: boolean; role: GroupRole } | null> {
  const rows = await db.query<{ added: boolean; role: GroupRole }>(
    `INSERT INTO group_members (group_id, user_id, role)
     SELECT g.id, u.id, coalesce($3, 'member') FROM groups g, users u
     WHERE g.id = $1 AND u.id = $2
     ON CONFLICT (group_id, user_id) DO UPDATE SET role = coalesce($3, group_members.role)
     RETURNING (xmax = 0) AS added, role`,
    [member.groupId, member.userId, member.role ?? null],
  );
  return rows[0] ?? null;
}

/** Takes a person out of a group; resolves to whether they were in it. */
export async function removeMember(
  db: Queryable,
  member: { groupId: number; userId: number },
): Promise<boolean> {
  const rows = await db.query(
    'DELETE FROM group_members WHERE group_id = $1 AND user_id = $2 RETURNING user_id',
    [member.groupId, member.userId],
  );
  return rows.length > 0;
}

/** The groups a person is in, in the order `group` numbers them: by joining, then id. */
export async function groupsOfUser(
  db: Queryable,
  userId: number,
): Promise<(GroupRow & { role: GroupRole })[]> {
  return db.query<GroupRow & { role: GroupRole }>(
    `SELECT ${groupColumns.replace(/(\w+)/g, 'g.$1')}, m.role
     FROM group_members m JOIN groups g ON g.id = m.group_id
     WHERE m.user_id = $1
     ORDER BY m.joined_at, g.id`,
    [userId],
  );
}

/** Whether the person is in the group. */
export async function isMember(db: Queryable, groupId: number, userId: number): Promise<boolean> {
  const rows = await db.query('SELECT 1 FROM group_members WHERE group_id = $1 AND user_id = $2', [
    groupId,
    userId,
  ]);
  return rows.length > 0;
}

/** Moves a task into a group (a command that named one, after creating it). */
export async function setTaskGroup(db: Queryable, taskId: number, groupId: number): Promise<void> {
  await db.query('UPDATE tasks SET group_id = $2 WHERE id = $1', [taskId, groupId]);
}

/** Moves a habit into a group, with the occurrences it already has. */
export async function setHabitGroup(
  db: Queryable,
  habitId: number,
  groupId: number,
): Promise<void> {
  await db.query('UPDATE habits SET group_id = $2 WHERE id = $1', [habitId, groupId]);
  await db.query('UPDATE tasks SET group_id = $2 WHERE habit_id = $1', [habitId, groupId]);
}
