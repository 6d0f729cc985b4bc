import { randomBytes } from 'node:crypto';
import type { Queryable } from '../db/executor.js';
import * as groupsTable from '../db/groups.js';
import { notFound, unprocessable, validationFailed } from '../domain/errors.js';
import {
  type GroupMemberRow,
  type GroupReview,
  type GroupRole,
  type GroupRow,
  type GroupShare,
  inviteCodeFrom,
  joinUrl,
  normalizeInviteCode,
  parseDigestHour,
  parseGroupName,
  parseGroupTimezone,
} from '../domain/group.js';
import type { Page, UseCaseDeps } from './deps.js';

/** What the groups admin API runs with: the database and the number join links open. */
export interface GroupDeps extends Pick<UseCaseDeps, 'db'> {
  /** TWILIO_WHATSAPP_NUMBER (E.164): join links open a chat with it; null: no links. */
  whatsappNumber: string | null;
}

/** A group as the API shows it: with the link that joins it. */
export type GroupForApi = GroupRow & { join_url: string | null };
export type GroupWithMembers = GroupForApi & { members: GroupMemberRow[] };

export interface NewGroupInput {
  name: string;
  timezone?: string | null;
  review?: GroupReview;
  share?: GroupShare;
  /** The evening hour (0–23, group time) of its digests; null or absent: SHARE_DIGEST_HOUR. */
  digest_hour?: number | null;
}

export type GroupChangesInput = Partial<NewGroupInput>;

const forApi = (deps: GroupDeps, group: GroupRow): GroupForApi => ({
  ...group,
  join_url: joinUrl(deps.whatsappNumber, group.invite_code),
});

/** POST /groups: a new group with a fresh invite code (drawn again on the rare collision). */
export async function createGroup(deps: GroupDeps, input: NewGroupInput): Promise<GroupForApi> {
  const group = {
    name: parseGroupName(input.name),
    timezone: parseGroupTimezone(input.timezone ?? null),
    review: input.review ?? 'none',
    share: input.share ?? 'instant',
    digest_hour: parseDigestHour(input.digest_hour ?? null),
  };
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const row = await groupsTable.insertGroup(deps.db, {
      ...group,
      invite_code: inviteCodeFrom(randomBytes(8)),
    });
    if (row) return forApi(deps, row);
  }
  throw new Error('createGroup: five invite codes in a row were taken');
}

export async function listGroups(
  deps: GroupDeps,
  page: { limit: number; offset: number },
): Promise<Page<GroupForApi & { member_count: number }>> {
  const result = await groupsTable.listGroups(deps.db, page);
  return { ...result, items: result.items.map((group) => ({ ...group, ...forApi(deps, group) })) };
}

async function existingGroup(db: Queryable, id: number): Promise<GroupRow> {
  const group = await groupsTable.findGroupById(db, id);
  if (!group) throw notFound(`No group with id ${id}.`);
  return group;
}

/** GET /groups/{id}: the group with its members and their roles. */
export async function getGroup(deps: GroupDeps, id: number): Promise<GroupWithMembers> {
  const group = await existingGroup(deps.db, id);
  return { ...forApi(deps, group), members: await groupsTable.membersOfGroup(deps.db, id) };
}

/**
 * PATCH /groups/{id}: at least one of name, timezone (null: TZ), review, share, digest_hour
 * (null: SHARE_DIGEST_HOUR).
 */
export async function updateGroup(
  deps: GroupDeps,
  id: number,
  input: GroupChangesInput,
): Promise<GroupForApi> {
  const changes: groupsTable.GroupChanges = {};
  if (input.name !== undefined) changes.name = parseGroupName(input.name);
  if (input.timezone !== undefined) changes.timezone = parseGroupTimezone(input.timezone);
  if (input.review !== undefined) changes.review = input.review;
  if (input.share !== undefined) changes.share = input.share;
  if (input.digest_hour !== undefined) changes.digest_hour = parseDigestHour(input.digest_hour);
  if (Object.keys(changes).length === 0) {
    throw validationFailed(
      'Nothing to change: send at least one of name, timezone (null for TZ), review, share, ' +
        'digest_hour (null for SHARE_DIGEST_HOUR).',
    );
  }
  // A null timezone or digest_hour is a change (back to the deployment's setting): the
  // table keeps null, drops only undefined.
  const row = await groupsTable.updateGroup(deps.db, id, changes);
  if (!row) throw notFound(`No group with id ${id}.`);
  return forApi(deps, row);
}

/** POST /groups/{id}/members: adds a person (or changes their role); unknown user → 422. */
export async function addGroupMember(
  deps: GroupDeps,
  groupId: number,
  input: { user_id: number; role?: GroupRole },
): Promise<GroupMemberRow & { added: boolean }> {
  await existingGroup(deps.db, groupId);
  const result = await groupsTable.addMember(deps.db, {
    groupId,
    userId: input.user_id,
    role: input.role,
  });
  if (!result) {
    throw unprocessable(
      `No user with id ${input.user_id}; create the user first with POST /users.`,
    );
  }
  const member = (await groupsTable.membersOfGroup(deps.db, groupId)).find(
    (candidate) => Number(candidate.user_id) === input.user_id,
  );
  if (!member) throw notFound(`User ${input.user_id} left group ${groupId} meanwhile.`);
  return { ...member, added: result.added };
}

/** DELETE /groups/{id}/members/{user_id}: `not_found` when they are not in it. */
export async function removeGroupMember(
  deps: GroupDeps,
  groupId: number,
  userId: number,
): Promise<void> {
  await existingGroup(deps.db, groupId);
  if (!(await groupsTable.removeMember(deps.db, { groupId, userId }))) {
    throw notFound(`User ${userId} is not in group ${groupId}.`);
  }
}

/**
 * The group a new user created by the admin API joins: `groupId` when given (unknown →
 * 422, checked before the user is created), else the default group.
 */
export async function groupForNewUser(
  db: Queryable,
  groupId: number | undefined,
): Promise<GroupRow | null> {
  if (groupId === undefined) return groupsTable.findDefaultGroup(db);
  const group = await groupsTable.findGroupById(db, groupId);
  if (!group) throw unprocessable(`No group with id ${groupId}; create it with POST /groups.`);
  return group;
}

/** Puts a user just created in `group` (the default group when the caller found none). */
export async function enrol(db: Queryable, userId: number, group: GroupRow | null): Promise<void> {
  if (group) await groupsTable.addMember(db, { groupId: group.id, userId });
}

/**
 * A group named for a user's task or habit (POST /tasks and /habits, PATCH /habits): an
 * unknown group or one the user is not in is `unprocessable`. None named: null here;
 * chooseOwnerGroup picks then.
 */
export async function checkTaskGroup(
  db: Queryable,
  userId: number,
  groupId: number | undefined,
): Promise<number | null> {
  if (groupId === undefined) return null;
  if (!(await groupsTable.findGroupById(db, groupId))) {
    throw unprocessable(`No group with id ${groupId}.`);
  }
  if (!(await groupsTable.isMember(db, groupId, userId))) {
    throw unprocessable(
      `User ${userId} is not in group ${groupId}; add them with POST /groups/${groupId}/members first.`,
    );
  }
  return groupId;
}

/**
 * POST /habits and POST /tasks: the group a habit or task an admin gives goes to. A named
 * group is checked (unknown or not the owner's: `unprocessable`). None named: the owner's
 * only group; in several, `unprocessable` listing them, as `habit` and `task` over WhatsApp
 * ask which rather than guess (every proof follows its group's review and sharing rules).
 * In none (removed from every group): null, and the database picks the default group.
 */
export async function chooseOwnerGroup(
  db: Queryable,
  userId: number,
  groupId: number | undefined,
  what: 'habit' | 'task',
): Promise<number | null> {
  if (groupId !== undefined) return checkTaskGroup(db, userId, groupId);
  const groups = await groupsTable.groupsOfUser(db, userId);
  if (groups.length <= 1) return groups[0]?.id ?? null;
  const listed = groups.map((group) => `${group.id} (${group.name})`).join(', ');
  throw unprocessable(
    `User ${userId} is in ${groups.length} groups; say which this ${what} belongs to with ` +
      `group_id, one of ${listed}.`,
  );
}

export const chooseHabitGroup = (db: Queryable, userId: number, groupId: number | undefined) =>
  chooseOwnerGroup(db, userId, groupId, 'habit');

// --- Over WhatsApp -------------------------------------------------------------------------

/**
 * A sender just registered: in the default group, unless their first message joins another
 * by a code that exists (`join <code>` then puts them in that group only: the command runs
 * next in this transaction). A code nobody has is no joining: default group.
 */
export async function placeNewSender(tx: Queryable, userId: number, body: string): Promise<void> {
  const join = /^\s*join\s+(\S+)/i.exec(body);
  const code = join ? normalizeInviteCode(join[1] ?? '') : null;
  if (code && (await groupsTable.findGroupByCode(tx, code))) return;
  const group = await groupsTable.findDefaultGroup(tx);
  if (group) await groupsTable.addMember(tx, { groupId: group.id, userId });
}

/** The group a task or habit a person creates by message goes to. */
export type GroupChoice =
  /** `group`: the one named or their only one; null: in none (the database decides). */
  | { outcome: 'chosen'; group: GroupRow | null; text: string }
  | { outcome: 'ask'; groups: GroupRow[]; text: string };

/**
 * Reads a trailing ` in <group name>` naming one of the person's groups (any case) off
 * `text`, e.g. "Run 5k tomorrow 7am in Runners". Without one: their only group, else ask
 * (several). "Call mom in 2 hours" keeps its "in 2 hours" unless a group is called "2 hours".
 */
export async function chooseGroup(
  tx: Queryable,
  userId: number,
  text: string,
): Promise<GroupChoice> {
  const groups = await groupsTable.groupsOfUser(tx, userId);
  const lower = text.toLowerCase();
  const named = groups
    .filter((group) => {
      const suffix = ` in ${group.name.toLowerCase()}`;
      return lower.endsWith(suffix) || lower === suffix.trimStart();
    })
    .sort((a, b) => b.name.length - a.name.length)[0];
  if (named) {
    const stripped = text.slice(0, Math.max(0, text.length - ` in ${named.name}`.length)).trim();
    return { outcome: 'chosen', group: named, text: stripped };
  }
  if (groups.length <= 1) return { outcome: 'chosen', group: groups[0] ?? null, text };
  return { outcome: 'ask', groups, text };
}

/** A group of the person's list by its number (`leave 2`) or name (`leave Runners`). */
export function pickGroup<Group extends GroupRow>(
  groups: readonly Group[],
  what: string,
): Group | null {
  const trimmed = what.trim();
  if (/^\d+$/.test(trimmed)) return groups[Number(trimmed) - 1] ?? null;
  const lower = trimmed.toLowerCase();
  return groups.find((group) => group.name.toLowerCase() === lower) ?? null;
}
