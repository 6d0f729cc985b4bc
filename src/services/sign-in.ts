import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Database, Queryable } from '../db/executor.js';
import { enqueueOutbound } from '../db/outbound.js';
import {
  type TokenRow,
  insertToken,
  liveSession,
  markSignInTokenUsed,
  revokeSession,
  revokeSessionsOfUser,
  scrubLinkFromOutbound,
  sessionLiveById,
  usableSignInToken,
} from '../db/sessions.js';
import { findUserById } from '../db/users.js';
import { notFound, unprocessable } from '../domain/errors.js';
import { type SenderNumbers, addressMessage } from './send-message.js';

/** How long a magic link may be used: 15 minutes, once. */
export const SIGN_IN_LINK_TTL_MS = 15 * 60 * 1000;
/** How long a session lasts: 30 days (the cookie's Max-Age too). */
export const SESSION_TTL_MS = 30 * 24 * 3600 * 1000;
/** The path of the magic link; the token rides in the query string, which no log keeps. */
export const SIGN_IN_PATH = '/app/sign-in';

const sha256 = (value: string): Buffer => createHash('sha256').update(value).digest();

/**
 * A new token `<selector>.<verifier>`: 96 random bits to find the row by, 256 to prove
 * possession. Only the verifier's hash is stored.
 */
function newToken(): { token: string; selector: string; verifierHash: Buffer } {
  const selector = randomBytes(12).toString('base64url');
  const verifier = randomBytes(32).toString('base64url');
  return { token: `${selector}.${verifier}`, selector, verifierHash: sha256(verifier) };
}

const TOKEN_SHAPE = /^([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{43})$/;

/**
 * Finds a token's row and checks its verifier in constant time; null for a malformed,
 * unknown, used, expired or forged token alike.
 */
async function verify(
  token: string,
  find: (selector: string) => Promise<TokenRow | null>,
): Promise<TokenRow | null> {
  const match = TOKEN_SHAPE.exec(token);
  if (!match) return null;
  const row = await find(match[1] as string);
  if (!row) return null;
  const presented = sha256(match[2] as string);
  return row.verifier_hash.length === presented.length &&
    timingSafeEqual(row.verifier_hash, presented)
    ? row
    : null;
}

/** The magic link's base: PUBLIC_URL, else the local address `serve` listens on. */
export const signInUrl = (baseUrl: string, token: string): string =>
  `${baseUrl.replace(/\/+$/, '')}${SIGN_IN_PATH}?token=${encodeURIComponent(token)}`;

/** Creates a single-use sign-in link for a person, valid 15 minutes. */
export async function createSignInLink(
  db: Queryable,
  userId: number,
  baseUrl: string,
  now: Date,
): Promise<{ url: string; expiresAt: Date }> {
  const { token, selector, verifierHash } = newToken();
  const expiresAt = new Date(now.getTime() + SIGN_IN_LINK_TTL_MS);
  await insertToken(db, 'sign_in_tokens', { userId, selector, verifierHash, expiresAt });
  return { url: signInUrl(baseUrl, token), expiresAt };
}

export const signInTexts = {
  link: (url: string) =>
    `Your sign-in link for the Taskwire app (valid 15 minutes, once): ${url}\n` +
    'Only open it yourself; nobody from Taskwire will ask you for it.',
  loggedOut: (count: number) =>
    count === 0
      ? 'You were not signed in anywhere.'
      : `Signed out of the Taskwire app on ${count === 1 ? '1 device' : `${count} devices`}.`,
  deleted: () =>
    'Your Taskwire account has been deleted: your messages, tasks, habits, posts and photos ' +
    'are gone. Write to this number again to start afresh.',
};

/**
 * The admin's "send sign-in link" (POST /users/{id}/sign-in-link): queues the link to the
 * person on WhatsApp, else SMS. The answer carries no token: only the person receives it.
 */
export async function sendSignInLink(
  deps: { db: Queryable; senders: SenderNumbers; baseUrl: string; clock: () => Date },
  userId: number,
): Promise<{ outbound_message_id: number; channel: 'whatsapp' | 'sms'; expires_at: Date }> {
  const user = await findUserById(deps.db, userId);
  if (!user) throw notFound(`No user with id ${userId}.`);
  if (!user.phone_number) throw unprocessable(`User ${userId} has no phone number to send to.`);
  if (user.opted_out_at) {
    throw unprocessable(`User ${userId} opted out: nothing is sent until they write START.`);
  }
  const channel = deps.senders.whatsapp ? 'whatsapp' : 'sms';
  const address = addressMessage({ to: user.phone_number, body: '', channel }, deps.senders);
  const link = await createSignInLink(deps.db, userId, deps.baseUrl, deps.clock());
  const row = await enqueueOutbound(deps.db, {
    kind: 'send',
    inboundMessageId: null,
    userId,
    ...address,
    body: signInTexts.link(link.url),
  });
  if (!row) throw new Error('sendSignInLink: the outbound row was not created');
  return { outbound_message_id: Number(row.id), channel, expires_at: link.expiresAt };
}

/** Whether a link's token is still usable: the GET page's check, which consumes nothing. */
export async function signInLinkUsable(db: Queryable, token: string, now: Date): Promise<boolean> {
  return (await verify(token, (selector) => usableSignInToken(db, selector, now))) !== null;
}

/**
 * Exchanges a magic link's token for a new session (the POST of the Continue button).
 * Resolves to the session cookie's value, or null when the link is not (or no longer) good.
 */
export async function exchangeSignInToken(
  db: Queryable,
  token: string,
  now: Date,
): Promise<{ session: string; userId: number; expiresAt: Date } | null> {
  // One transaction: the link is used up only if the session is created with it.
  return inTransaction(db, async (tx) => {
    const row = await verify(token, (selector) => usableSignInToken(tx, selector, now));
    if (!row || !(await markSignInTokenUsed(tx, row.id, now))) return null;
    await scrubLinkFromOutbound(tx, row.user_id, token);
    const session = newToken();
    const expiresAt = new Date(now.getTime() + SESSION_TTL_MS);
    await insertToken(tx, 'sessions', {
      userId: row.user_id,
      selector: session.selector,
      verifierHash: session.verifierHash,
      expiresAt,
    });
    return { session: session.token, userId: row.user_id, expiresAt };
  });
}

const inTransaction = <T>(db: Queryable, work: (tx: Queryable) => Promise<T>): Promise<T> =>
  'transaction' in db && typeof (db as Database).transaction === 'function'
    ? (db as Database).transaction(work)
    : work(db);

/** The session a cookie names, if it is live. */
export async function sessionOf(
  db: Queryable,
  cookie: string,
  now: Date,
): Promise<{ sessionId: number; userId: number } | null> {
  const row = await verify(cookie, (selector) => liveSession(db, selector, now));
  return row ? { sessionId: row.id, userId: row.user_id } : null;
}

export const endSession = (db: Queryable, sessionId: number, now: Date) =>
  revokeSession(db, sessionId, now);

export const endSessionsOfUser = (db: Queryable, userId: number, now: Date) =>
  revokeSessionsOfUser(db, userId, now);

/** Whether a session (by id) is still live: not revoked, not expired, its person there. */
export async function sessionStillLive(
  db: Queryable,
  sessionId: number,
  now: Date,
): Promise<boolean> {
  return sessionLiveById(db, sessionId, now);
}
