import * as usersTable from '../db/users.js';
import { notFound, validationFailed } from '../domain/errors.js';
import { parsePhoneNumber } from '../domain/phone.js';
import { parseTimezone, parseUsername, parseWhatsappId, type UserRow } from '../domain/user.js';
import type { Page, UseCaseDeps } from './deps.js';

export type UserDeps = Pick<UseCaseDeps, 'db'>;
export type { LeaderboardEntry } from '../db/users.js';

/** A user to create, as a person typed it; every field is parsed here. */
export interface NewUserInput {
  username: string;
  phone_number: string;
  whatsapp_id?: string;
  timezone?: string;
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

/** Creates a user; a phone number or WhatsApp id already taken is a `conflict`. */
export function createUser(deps: UserDeps, input: NewUserInput): Promise<UserRow> {
  return usersTable.createUser(deps.db, {
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

/** The `limit` users with the most points (GET /leaderboard). */
export function leaderboard(deps: UserDeps, limit: number): Promise<usersTable.LeaderboardEntry[]> {
  return usersTable.leaderboard(deps.db, limit);
}
