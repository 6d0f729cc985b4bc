import { type PauseRow, pausesInForce } from '../db/pauses.js';
import * as usersTable from '../db/users.js';
import { notFound, validationFailed } from '../domain/errors.js';
import { parsePhoneNumber } from '../domain/phone.js';
import { parseTimezone, parseUsername, parseWhatsappId, type UserRow } from '../domain/user.js';
import type { Page, UseCaseDeps } from './deps.js';
import { groupForNewUser } from './groups.js';
import { streaksOfUsers } from './habits.js';
import { personTimeZoneWithSource, type ZoneSource } from './time-zones.js';

export type UserDeps = Pick<UseCaseDeps, 'db'>;
export type { LeaderboardEntry } from '../db/users.js';

/** A user to create, as a person typed it; every field is parsed here. */
export interface NewUserInput {
  username: string;
  phone_number: string;
  whatsapp_id?: string;
  timezone?: string;
  /** The group they join; default: the default group. */
  group_id?: number;
}

/**
 * Changes to a user, as typed: an absent field is left as it is, a null whatsapp_id or
 * timezone removes it.
 */
export interface UserChangesInput {
  username?: string;
  phone_number?: string;
  whatsapp_id?: string | null;
  timezone?: string | null;
}

/** What reading a person's state needs: the clock (pauses) and TZ (their zone). */
export interface UserStateDeps extends Pick<UseCaseDeps, 'db' | 'clock'> {
  defaultTimezone: string;
}

/**
 * A user with what governs their messages: the zone their due times are read and shown in
 * (and where it comes from), and the pause in force now. Opt-out is on the row itself.
 */
export type UserWithState = UserRow & {
  zone_in_effect: string;
  zone_source: ZoneSource;
  pause: Pick<PauseRow, 'first_day' | 'last_day' | 'ends_at'> | null;
};

async function withState(deps: UserStateDeps, users: UserRow[]): Promise<UserWithState[]> {
  const pauses = await pausesInForce(
    deps.db,
    users.map((user) => user.id),
    deps.clock(),
  );
  return users.map((user) => {
    const { zone, source } = personTimeZoneWithSource(user, deps.defaultTimezone);
    const pause = pauses.get(Number(user.id));
    return {
      ...user,
      zone_in_effect: zone,
      zone_source: source,
      pause: pause
        ? { first_day: pause.first_day, last_day: pause.last_day, ends_at: pause.ends_at }
        : null,
    };
  });
}

/** GET /users: users in the order they were created, with their zone and pause. */
export async function listUsersWithState(
  deps: UserStateDeps,
  query: { limit: number; offset: number },
): Promise<Page<UserWithState>> {
  const page = await listUsers(deps, query);
  return { ...page, items: await withState(deps, page.items) };
}

/** One user with their zone and pause (what every user answer of the API carries). */
export async function userWithState(deps: UserStateDeps, user: UserRow): Promise<UserWithState> {
  const [withIt] = await withState(deps, [user]);
  return withIt as UserWithState;
}

/** GET /users/{id}: one user with their zone and pause; `not_found` when there is none. */
export async function getUserWithState(deps: UserStateDeps, id: number): Promise<UserWithState> {
  return userWithState(deps, await getUser(deps, id));
}

/**
 * Creates a user in group `group_id` (unknown: `unprocessable`), else in the default group;
 * a phone number or WhatsApp id already taken is a `conflict`.
 */
export async function createUser(deps: UserDeps, input: NewUserInput): Promise<UserRow> {
  const group = await groupForNewUser(deps.db, input.group_id);
  return usersTable.createUser(deps.db, {
    group_id: group?.id ?? null,
    username: parseUsername(input.username),
    phone_number: parsePhoneNumber(input.phone_number),
    whatsapp_id: input.whatsapp_id === undefined ? null : parseWhatsappId(input.whatsapp_id),
    timezone: input.timezone === undefined ? null : parseTimezone(input.timezone),
  });
}

/** Users in the order they were created. */
export function listUsers(
  deps: UserDeps,
  query: { limit: number; offset: number },
): Promise<Page<UserRow>> {
  return usersTable.listUsers(deps.db, query);
}

/** One user; `not_found` when there is none with that id. */
export async function getUser(deps: UserDeps, id: number): Promise<UserRow> {
  const user = await usersTable.findUserById(deps.db, id);
  if (!user) throw notFound(`No user with id ${id}.`);
  return user;
}

/** Changes a user; at least one field must be given. */
export async function updateUser(
  deps: UserDeps,
  id: number,
  input: UserChangesInput,
): Promise<UserRow> {
  const changes: usersTable.UserChanges = {};
  if (input.username !== undefined) changes.username = parseUsername(input.username);
  if (input.phone_number !== undefined) {
    changes.phone_number = parsePhoneNumber(input.phone_number);
  }
  if (input.whatsapp_id !== undefined) {
    changes.whatsapp_id = input.whatsapp_id === null ? null : parseWhatsappId(input.whatsapp_id);
  }
  if (input.timezone !== undefined) {
    changes.timezone = input.timezone === null ? null : parseTimezone(input.timezone);
  }
  if (Object.keys(changes).length === 0) {
    throw validationFailed(
      'Nothing to change: send at least one of username, phone_number, whatsapp_id, timezone ' +
        '(whatsapp_id and timezone may be null to clear them).',
    );
  }
  const user = await usersTable.updateUser(deps.db, id, changes);
  if (!user) throw notFound(`No user with id ${id}.`);
  return user;
}

/** A leaderboard entry with the person's habit streaks (0 without habits). */
export type LeaderboardEntryWithStreaks = usersTable.LeaderboardEntry & {
  current_streak: number;
  best_streak: number;
};

/**
 * GET /leaderboard: the `limit` users with the most points, each with the longest current
 * streak of their active habits and the best streak any of their habits reached.
 */
export async function leaderboardWithStreaks(
  deps: UserDeps,
  limit: number,
): Promise<LeaderboardEntryWithStreaks[]> {
  const entries = await usersTable.leaderboard(deps.db, limit);
  const streaks = await streaksOfUsers(
    deps.db,
    entries.map((entry) => entry.user_id),
  );
  return entries.map((entry) => {
    const { current, best } = streaks.get(Number(entry.user_id)) ?? { current: 0, best: 0 };
    return { ...entry, current_streak: current, best_streak: best };
  });
}

/** The `limit` users with the most points (GET /leaderboard). */
export function leaderboard(deps: UserDeps, limit: number): Promise<usersTable.LeaderboardEntry[]> {
  return usersTable.leaderboard(deps.db, limit);
}
