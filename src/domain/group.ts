import { validationFailed } from './errors.js';
import { parseTimezone } from './user.js';

/**
 * Glossary
 * - Group: people who see each other's proofs. A deployment holds many; a person can be in
 *   several. Every task, habit and feed post belongs to one, whose rules apply to its proofs.
 * - Default group: `Everyone`, holding everybody who existed before groups, and where a
 *   sender who writes without ever joining a group lands. Exactly one.
 * - Invite code: what `join <code>` takes; upper case, case-insensitive when typed.
 */

export const groupReviews = ['none', 'peer', 'model'] as const;
export type GroupReview = (typeof groupReviews)[number];
export const groupShares = ['instant', 'digest', 'off'] as const;
export type GroupShare = (typeof groupShares)[number];
export const groupRoles = ['admin', 'member'] as const;
export type GroupRole = (typeof groupRoles)[number];

/** A row of `groups` (migration 0014). */
export interface GroupRow {
  id: number;
  created_at: Date;
  name: string;
  /** IANA zone of its weeks, months and evening digest; null: the deployment's TZ. */
  timezone: string | null;
  review: GroupReview;
  share: GroupShare;
  invite_code: string;
  is_default: boolean;
  /** The evening hour (0–23, group time) of its daily and Sunday digests; null: SHARE_DIGEST_HOUR. */
  digest_hour: number | null;
}

/** A member as GET /groups/{id} lists them. */
export interface GroupMemberRow {
  user_id: number;
  username: string;
  role: GroupRole;
  joined_at: Date;
}

export const GROUP_NAME_MAX_LENGTH = 100;

/** Trims a group name and checks it is 1 to 100 characters. */
export function parseGroupName(input: string): string {
  const name = input.trim().replace(/\s+/g, ' ');
  if (name.length === 0 || name.length > GROUP_NAME_MAX_LENGTH) {
    throw validationFailed(
      `name must be 1 to ${GROUP_NAME_MAX_LENGTH} characters once spaces are trimmed.`,
    );
  }
  return name;
}

/** A group's digest hour: a whole hour 0 to 23, or null for SHARE_DIGEST_HOUR. */
export function parseDigestHour(input: number | null): number | null {
  if (input === null) return null;
  if (!Number.isInteger(input) || input < 0 || input > 23) {
    throw validationFailed(
      `digest_hour must be a whole hour from 0 to 23 (group time), or null for SHARE_DIGEST_HOUR; got ${input}.`,
    );
  }
  return input;
}

export const parseGroupTimezone = (input: string | null): string | null =>
  input === null ? null : parseTimezone(input);

// Letters and digits people can read aloud and type on a phone: no 0/O, 1/I/L.
const CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
export const INVITE_CODE_LENGTH = 8;

/** A fresh invite code from `random` (bytes, e.g. crypto's randomBytes). */
export function inviteCodeFrom(random: Uint8Array): string {
  let code = '';
  for (let index = 0; index < INVITE_CODE_LENGTH; index += 1) {
    code += CODE_ALPHABET[(random[index] ?? 0) % CODE_ALPHABET.length];
  }
  return code;
}

/** An invite code as someone typed it: trimmed, upper case; null when it cannot be one. */
export function normalizeInviteCode(input: string): string | null {
  const code = input.trim().toUpperCase();
  return /^[A-Z0-9]{4,16}$/.test(code) ? code : null;
}

/**
 * The link that opens WhatsApp on the group's number with `join <code>` typed:
 * `https://wa.me/<number>?text=join%20<code>`; null without a WhatsApp number. `number`
 * is E.164, with or without `whatsapp:`.
 */
export function joinUrl(whatsappNumber: string | null, code: string): string | null {
  if (!whatsappNumber) return null;
  const digits = whatsappNumber.replace(/^whatsapp:/, '').replace(/^\+/, '');
  return `https://wa.me/${digits}?text=${encodeURIComponent(`join ${code}`)}`;
}
