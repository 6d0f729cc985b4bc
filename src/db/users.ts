import { conflict } from '../domain/errors.js';
import type { UserRow } from '../domain/user.js';
import type { Queryable } from './executor.js';

// recordInbound's SET list ($2 the message's time, $3 whether it came on WhatsApp); shared
// with findSenderRecordingInbound so the two cannot drift apart.
const recordInboundAssignments = `last_inbound_at = GREATEST(last_inbound_at, $2::timestamptz),
  last_whatsapp_inbound_at = CASE WHEN $3 THEN GREATEST(last_whatsapp_inbound_at, $2::timestamptz)
                                  ELSE last_whatsapp_inbound_at END`;

export const userColumns = `id, created_at, username, phone_number, points, whatsapp_id, timezone,
  last_inbound_at, last_whatsapp_inbound_at, opted_out_at, opt_out_source`;

/** A new user; values already parsed (see domain/user.ts and domain/phone.ts). */
export interface NewUser {
  username: string;
  phone_number: string | null;
  whatsapp_id?: string | null;
  timezone?: string | null;
  /** The group they join as they are created (the admin API: the default group unless told). */
  group_id?: number | null;
}

/** The columns an update may change; an absent key is left as it is. */
export type UserChanges = Partial<
  Pick<UserRow, 'username' | 'phone_number' | 'whatsapp_id' | 'timezone'>
>;

const UNIQUE_VIOLATION = '23505';

/**
 * The `conflict` error for a unique violation on phone_number or whatsapp_id, naming the
 * value and who holds it; any other error is returned unchanged.
 */
async function explainDuplicate(
  db: Queryable,
  error: unknown,
  values: { phone_number?: string | null; whatsapp_id?: string | null },
): Promise<unknown> {
  const { code, constraint } = (error ?? {}) as { code?: unknown; constraint?: unknown };
  if (code !== UNIQUE_VIOLATION || typeof constraint !== 'string') return error;
  const column = constraint.includes('whatsapp_id')
    ? 'whatsapp_id'
    : constraint.includes('phone_number')
      ? 'phone_number'
      : null;
  const value = column ? values[column] : null;
  if (!column || !value) return error;
  const [holder] = await db
    .query<{ id: number }>(`SELECT id FROM users WHERE ${column} = $1`, [value])
    .catch(() => []);
  const label = column === 'phone_number' ? 'phone number' : 'WhatsApp id';
  return conflict(
    `The ${label} ${value} already belongs to ${holder ? `user ${holder.id}` : 'another user'}.`,
  );
}

/**
 * Inserts a user, in group `group_id` when given (one statement: never a user without the
 * group they were created for). Throws `conflict` when the phone number or WhatsApp id is taken.
 */
export async function createUser(db: Queryable, user: NewUser): Promise<UserRow> {
  try {
    const [row] = await db.query<UserRow>(
      `WITH created AS (
         INSERT INTO users (username, phone_number, whatsapp_id, timezone)
         VALUES ($1, $2, $3, $4) RETURNING ${userColumns}
       ),
       membership AS (
         INSERT INTO group_members (group_id, user_id)
         SELECT $5::bigint, id FROM created WHERE $5::bigint IS NOT NULL
       )
       SELECT * FROM created`,
      [
        user.username,
        user.phone_number,
        user.whatsapp_id ?? null,
        user.timezone ?? null,
        user.group_id ?? null,
      ],
    );
    return row as UserRow;
  } catch (error) {
    throw await explainDuplicate(db, error, user);
  }
}

export interface ListUsersQuery {
  limit: number;
  offset: number;
}

/** Users in id order (the order they were created), one page and the total. */
export async function listUsers(
  db: Queryable,
  query: ListUsersQuery,
): Promise<{ items: UserRow[]; total: number }> {
  const items = await db.query<UserRow>(
    `SELECT ${userColumns} FROM users ORDER BY id LIMIT $1 OFFSET $2`,
    [query.limit, query.offset],
  );
  const [count] = await db.query<{ total: number }>('SELECT count(*)::int AS total FROM users');
  return { items, total: count?.total ?? 0 };
}

export async function findUserById(db: Queryable, id: number): Promise<UserRow | null> {
  const rows = await db.query<UserRow>(`SELECT ${userColumns} FROM users WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

/**
 * The user an inbound message is from. `sender` is the From address without its channel
 * prefix (messages.sender): a phone number (`+15551234567`) or a WhatsApp id. Should one
 * user's WhatsApp id equal another's phone number, the phone number wins.
 */
export async function findUserBySender(db: Queryable, sender: string): Promise<UserRow | null> {
  const rows = await db.query<UserRow>(
    `SELECT ${userColumns} FROM users
     WHERE phone_number = $1 OR whatsapp_id = $1
     ORDER BY (phone_number = $1) DESC NULLS LAST, id
     LIMIT 1`,
    [sender],
  );
  return rows[0] ?? null;
}

/**
 * The user an inbound message is from (as findUserBySender), with the message recorded as
 * their latest (as recordInbound), in one statement: the inbound path's sender lookup and
 * `last_inbound_at` update were two round trips per message (BENCHMARKS.md, whole loop).
 * Resolves to the user as they are after the update; null when no user has that sender,
 * and then nothing is written.
 */
export async function findSenderRecordingInbound(
  db: Queryable,
  sender: string,
  inbound: { at: Date; channel: 'whatsapp' | 'sms' },
): Promise<UserRow | null> {
  const rows = await db.query<UserRow>(
    `UPDATE users SET ${recordInboundAssignments}
     WHERE id = (SELECT id FROM users
                 WHERE phone_number = $1 OR whatsapp_id = $1
                 ORDER BY (phone_number = $1) DESC NULLS LAST, id
                 LIMIT 1)
     RETURNING ${userColumns}`,
    [sender, inbound.at, inbound.channel === 'whatsapp'],
  );
  return rows[0] ?? null;
}

/**
 * Remembers `whatsappId` (a WhatsApp username sender such as `US.1349…`) as the WhatsApp id
 * of a user found by their WaId's phone number, when they have none yet and nobody else
 * holds it; resolves to the user as it is now. Their later messages, and queries that look
 * for a user's messages by sender, then find them by that id directly.
 */
export async function rememberWhatsAppId(
  tx: Queryable,
  user: UserRow,
  whatsappId: string,
): Promise<UserRow> {
  if (user.whatsapp_id !== null) return user;
  const rows = await tx.query<UserRow>(
    `UPDATE users SET whatsapp_id = $2
     WHERE id = $1 AND whatsapp_id IS NULL
       AND NOT EXISTS (SELECT 1 FROM users WHERE whatsapp_id = $2)
     RETURNING ${userColumns}`,
    [user.id, whatsappId],
  );
  return rows[0] ?? user;
}

const changeableColumns = ['username', 'phone_number', 'whatsapp_id', 'timezone'] as const;

/**
 * Changes the given columns of one user; resolves to the updated row, or null when there is
 * no such user. Throws `conflict` when the phone number or WhatsApp id is taken.
 */
export async function updateUser(
  db: Queryable,
  id: number,
  changes: UserChanges,
): Promise<UserRow | null> {
  const columns = changeableColumns.filter((column) => changes[column] !== undefined);
  if (columns.length === 0) return findUserById(db, id);
  const assignments = columns.map((column, index) => `${column} = $${index + 2}`).join(', ');
  try {
    const rows = await db.query<UserRow>(
      `UPDATE users SET ${assignments} WHERE id = $1 RETURNING ${userColumns}`,
      [id, ...columns.map((column) => changes[column])],
    );
    return rows[0] ?? null;
  } catch (error) {
    throw await explainDuplicate(db, error, changes);
  }
}

/**
 * Adds `points` to a user's total in one statement (no lost update when two tasks complete
 * at once). Resolves to the new total, or null when there is no such user.
 */
export async function addPoints(
  db: Queryable,
  userId: number,
  points: number,
): Promise<number | null> {
  const rows = await db.query<{ points: number }>(
    'UPDATE users SET points = points + $2 WHERE id = $1 RETURNING points',
    [userId, points],
  );
  return rows[0]?.points ?? null;
}

/** Records that the user wrote to us at `at`; an older time never replaces a newer one. */
export async function recordInbound(
  db: Queryable,
  userId: number,
  at: Date,
  channel: 'whatsapp' | 'sms',
): Promise<void> {
  await db.query(`UPDATE users SET ${recordInboundAssignments} WHERE id = $1`, [
    userId,
    at,
    channel === 'whatsapp',
  ]);
}

export interface LeaderboardEntry {
  /** 1 for the most points; equal points share a rank and the next rank skips (1, 1, 3). */
  rank: number;
  user_id: number;
  username: string;
  points: number;
}

/** The `limit` users with the most points; ties in id order. */
export async function leaderboard(db: Queryable, limit: number): Promise<LeaderboardEntry[]> {
  return db.query<LeaderboardEntry>(
    `SELECT rank() OVER (ORDER BY points DESC)::int AS rank, id AS user_id, username, points
     FROM users ORDER BY points DESC, id LIMIT $1`,
    [limit],
  );
}

/**
 * Registers an unknown sender (AUTO_REGISTER), or finds the user another worker has just
 * registered for the same sender: safe inside a transaction, where a failed INSERT would
 * abort everything else.
 */
export async function registerSender(
  db: Queryable,
  sender: { username: string; phoneNumber: string | null; whatsappId: string | null },
): Promise<{ user: UserRow; created: boolean }> {
  const rows = await db.query<UserRow>(
    `INSERT INTO users (username, phone_number, whatsapp_id) VALUES ($1, $2, $3)
     ON CONFLICT DO NOTHING
     RETURNING ${userColumns}`,
    [sender.username, sender.phoneNumber, sender.whatsappId],
  );
  if (rows[0]) return { user: rows[0], created: true };
  const existing = await findUserBySender(db, sender.phoneNumber ?? sender.whatsappId ?? '');
  if (!existing) throw new Error('registerSender: user vanished after a conflicting insert');
  return { user: existing, created: false };
}
