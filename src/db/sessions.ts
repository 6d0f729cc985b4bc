import type { Queryable } from './executor.js';

/**
 * Sign-in tokens and sessions (migration 0018): rows are found by a token's selector and
 * hold only the SHA-256 of its verifier; the caller compares that in constant time.
 */

export interface TokenRow {
  id: number;
  user_id: number;
  verifier_hash: Buffer;
}

export type TokenTable = 'sign_in_tokens' | 'sessions';

export async function insertToken(
  db: Queryable,
  table: TokenTable,
  token: { userId: number; selector: string; verifierHash: Buffer; expiresAt: Date },
): Promise<void> {
  await db.query(
    `INSERT INTO ${table} (user_id, selector, verifier_hash, expires_at) VALUES ($1, $2, $3, $4)`,
    [token.userId, token.selector, token.verifierHash, token.expiresAt],
  );
}

const normalise = (row: TokenRow | undefined): TokenRow | null =>
  row
    ? {
        id: Number(row.id),
        user_id: Number(row.user_id),
        verifier_hash: Buffer.from(row.verifier_hash),
      }
    : null;

/** An unused, unexpired sign-in token by its selector. */
export async function usableSignInToken(
  db: Queryable,
  selector: string,
  now: Date,
): Promise<TokenRow | null> {
  const [row] = await db.query<TokenRow>(
    `SELECT id, user_id, verifier_hash FROM sign_in_tokens
     WHERE selector = $1 AND used_at IS NULL AND expires_at > $2`,
    [selector, now],
  );
  return normalise(row);
}

/**
 * Marks a sign-in token used: one UPDATE that only an unused token matches, so two racing
 * exchanges of the same link get one session between them.
 */
export async function markSignInTokenUsed(db: Queryable, id: number, now: Date): Promise<boolean> {
  const rows = await db.query(
    `UPDATE sign_in_tokens SET used_at = $2 WHERE id = $1 AND used_at IS NULL RETURNING id`,
    [id, now],
  );
  return rows.length > 0;
}

/** A live session (not expired, not revoked) by its selector. */
export async function liveSession(
  db: Queryable,
  selector: string,
  now: Date,
): Promise<TokenRow | null> {
  const [row] = await db.query<TokenRow>(
    `SELECT id, user_id, verifier_hash FROM sessions
     WHERE selector = $1 AND revoked_at IS NULL AND expires_at > $2`,
    [selector, now],
  );
  return normalise(row);
}

export async function revokeSession(db: Queryable, sessionId: number, now: Date): Promise<void> {
  await db.query(`UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL`, [
    sessionId,
    now,
  ]);
}

/** Revokes every live session of a person (`logout` over WhatsApp); resolves to how many. */
export async function revokeSessionsOfUser(
  db: Queryable,
  userId: number,
  now: Date,
): Promise<number> {
  const rows = await db.query(
    `UPDATE sessions SET revoked_at = $2
     WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 RETURNING id`,
    [userId, now],
  );
  return rows.length;
}

/**
 * Takes a used link out of the person's recorded outbound messages: the message that
 * carried it still says a link was sent, but the token is no longer in the database.
 */
export async function scrubLinkFromOutbound(
  db: Queryable,
  userId: number,
  token: string,
): Promise<void> {
  await db.query(
    `UPDATE outbound_messages SET body = replace(body, $2, '(used)')
     WHERE user_id = $1 AND strpos(body, $2) > 0`,
    [userId, token],
  );
}

/** Whether the session with this id is live (not expired, not revoked, not deleted). */
export async function sessionLiveById(db: Queryable, id: number, now: Date): Promise<boolean> {
  const rows = await db.query(
    `SELECT 1 FROM sessions WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2`,
    [id, now],
  );
  return rows.length > 0;
}
