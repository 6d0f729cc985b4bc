import type { Database, Queryable } from '../db/executor.js';
import { findHabitById } from '../db/habits.js';
import { type Announce, enqueueOutbound } from '../db/outbound.js';
import { lastWhatsAppNumberWrittenTo } from '../db/reminders.js';
import {
  type NewShare,
  type ShareGroupRow,
  claimDigest,
  decideDigest,
  enqueueShareMessages,
  groupOfPost,
  groupsWithDigests,
  insertShares,
  lockPendingShares,
  membersToTell,
  membersWithPendingShares,
  membersWithoutWeeklyDigest,
  postForSharing,
  settleShares,
} from '../db/shares.js';
import { findTaskById } from '../db/tasks.js';
import { findUserById } from '../db/users.js';
import { localDateOf, wallTimeOf, weekStartOf } from '../domain/local-time.js';
import { insideWhatsAppWindow } from '../domain/reminder.js';
import type { TaskRow } from '../domain/task.js';
import type { UserRow } from '../domain/user.js';
import { type WeekSummary, groupNewsTexts } from './group-news-texts.js';
import { streaksOfHabit } from './habits.js';
import { periodLeaderboard } from './leaderboards.js';

/** The evening hour (group time) of the daily share digest and the Sunday digest. */
export const DEFAULT_SHARE_DIGEST_HOUR = 19;

/** What sharing proofs and the digests depend on (from config). */
export interface GroupNewsSettings {
  /** TZ: for groups without their own zone. */
  defaultTimezone: string;
  /** TWILIO_WHATSAPP_NUMBER; else the number the member (or the proof's sender) wrote to. */
  whatsappNumber: string | null;
  /** SHARE_DIGEST_HOUR (default 19) for groups without their own digest_hour. */
  digestHour?: number;
  /** DIGEST_CONTENT_SID: the template for digests outside the 24-hour window. */
  digestContentSid?: string | null;
  /**
   * A URL Twilio can fetch for a stored photo (a public bucket, or the local driver on
   * PUBLIC_URL); null or absent: shares go without the photo.
   */
  photoUrl?: ((key: string) => Promise<string>) | null;
}

const withWhatsApp = (number: string) =>
  number.startsWith('whatsapp:') ? number : `whatsapp:${number}`;

const whatsappAddressOf = (user: UserRow) => user.phone_number ?? user.whatsapp_id;

/** Why waiting news was not told. */
export const groupNewsReasons = {
  authorStoppedSharing:
    'Not told: the author turned sharing off (Me → Sharing) before the digest went out.',
};

/** Why a member hears nothing on Taskwire's initiative, or null when they may. */
function silenced(user: UserRow): string | null {
  if (user.opted_out_at) {
    return `The person opted out (STOP) at ${user.opted_out_at.toISOString()}; nothing is sent until they send START.`;
  }
  if (!whatsappAddressOf(user)) return 'The person has no phone number or WhatsApp id to send to.';
  return null;
}

/** An absolute http(s) URL, or none: Twilio cannot fetch a relative one. */
const fetchable = (url: string | null | undefined): string | null =>
  url && /^https?:\/\//i.test(url) ? url : null;

/** The photo's URL where Twilio can fetch it, or none. */
async function fetchablePhotoUrl(
  key: string | null,
  settings: GroupNewsSettings,
): Promise<string | null> {
  if (!key || !settings.photoUrl) return null;
  try {
    return fetchable(await settings.photoUrl(key));
  } catch {
    // The news is worth more than its photo: sent without it.
    return null;
  }
}

/** A proof just posted to the feed, as the accountability loop knows it. */
export interface ProofPost {
  feedId: number;
  author: UserRow;
  task: TaskRow;
  imageKey: string | null;
  /**
   * The photo's URL as recorded when the proof was processed (a reviewed proof's, which its
   * review requests carried): used when `settings` give none, so a share after approval
   * carries the photo whoever approved it.
   */
  photoUrl?: string | null;
  /** The number the proof was sent to: the sender for instant shares without TWILIO_WHATSAPP_NUMBER. */
  receivedOn: string;
  /** The post's group (groupOfPost), when the caller read it already; absent: read here. */
  group?: ShareGroupRow | null;
}

/**
 * Tells the other members of the proof's group, run in the proof's processing transaction
 * right after its feed post (or in the one approving a reviewed proof): one `shares` row per
 * member, all in one statement (unique per post and person, so a re-processed message tells
 * nobody twice). In an `instant` group a member inside their 24-hour window gets the news
 * now, with the photo when Twilio can fetch it; anyone else waits for the daily digest; in a
 * `digest` group everybody does; `off` records nothing. Opted-out members are recorded as
 * skipped. Whether the window is still open and the member still opted in is checked again
 * when the message is sent (src/services/send-time.ts).
 */
export async function shareProof(
  tx: Queryable,
  proof: ProofPost,
  settings: GroupNewsSettings,
  now: Date,
  options: Announce = {},
): Promise<number> {
  const group = proof.group === undefined ? await groupOfPost(tx, proof.feedId) : proof.group;
  if (!group || group.share === 'off') return 0;
  const members = await membersToTell(tx, group.id, {
    feedId: proof.feedId,
    authorId: proof.author.id,
  });
  if (members.length === 0) return 0;
  // An SMS proof's number is no WhatsApp sender: then only TWILIO_WHATSAPP_NUMBER will do.
  const from =
    settings.whatsappNumber ?? (proof.receivedOn.startsWith('whatsapp:') ? proof.receivedOn : null);
  const shares: NewShare[] = members.map((member) => {
    const reason = silenced(member);
    if (reason) return { userId: member.id, status: 'skipped', reason };
    const instant =
      group.share === 'instant' &&
      from !== null &&
      insideWhatsAppWindow(member.last_whatsapp_inbound_at, now);
    return { userId: member.id, status: instant ? 'sent' : 'pending' };
  });
  const recorded = await insertShares(tx, { feedId: proof.feedId, groupId: group.id }, shares, now);
  const recipients = members
    .filter((member, i) => shares[i]?.status === 'sent' && recorded.has(member.id))
    .map((member) => ({ userId: member.id, to: withWhatsApp(whatsappAddressOf(member) ?? '') }));
  if (recipients.length === 0 || from === null) return 0;
  let streak: number | null = null;
  if (proof.task.habit_id !== null) {
    const habit = await findHabitById(tx, proof.task.habit_id);
    if (habit) streak = (await streaksOfHabit(tx, habit)).current;
  }
  const mediaUrl = (await fetchablePhotoUrl(proof.imageKey, settings)) ?? fetchable(proof.photoUrl);
  return enqueueShareMessages(
    tx,
    { feedId: proof.feedId, taskId: proof.task.id },
    {
      from: withWhatsApp(from),
      body: groupNewsTexts.proof(proof.author.username, proof.task.description, streak),
      mediaUrls: mediaUrl ? [mediaUrl] : [],
    },
    recipients,
    options,
  );
}

/**
 * Shares a proof that was published after a review (src/services/reviews.ts), in the
 * transaction that approves it: as shareProof, from the post alone, with the photo URL the
 * review recorded when `settings` give none. A post without its task or author shares
 * nothing.
 */
export async function sharePublishedPost(
  tx: Queryable,
  feedId: number,
  settings: GroupNewsSettings,
  now: Date,
  photoUrl: string | null = null,
): Promise<number> {
  const post = await postForSharing(tx, feedId);
  if (!post || post.task_id === null) return 0;
  const author = await findUserById(tx, Number(post.user_id));
  const task = await findTaskById(tx, Number(post.task_id));
  if (!author || !task) return 0;
  return shareProof(
    tx,
    {
      feedId,
      author,
      task,
      imageKey: post.image_key,
      photoUrl,
      receivedOn: post.to_number ?? '',
    },
    settings,
    now,
  );
}

type Delivery = { channel: 'whatsapp' | 'template'; to: string; from: string } | { skip: string };

/**
 * How a digest reaches a member: free-form WhatsApp inside the 24-hour window, else the
 * DIGEST_CONTENT_SID template, else nothing, with the reason.
 */
async function digestDelivery(
  tx: Queryable,
  user: UserRow,
  settings: GroupNewsSettings,
  now: Date,
): Promise<Delivery> {
  const reason = silenced(user);
  if (reason) return { skip: reason };
  const from = settings.whatsappNumber ?? (await lastWhatsAppNumberWrittenTo(tx, user));
  if (!from) return { skip: 'No WhatsApp number to send from: set TWILIO_WHATSAPP_NUMBER.' };
  const address = { to: withWhatsApp(whatsappAddressOf(user) ?? ''), from: withWhatsApp(from) };
  if (insideWhatsAppWindow(user.last_whatsapp_inbound_at, now)) {
    return { channel: 'whatsapp', ...address };
  }
  if (settings.digestContentSid) return { channel: 'template', ...address };
  const lastWrote = user.last_whatsapp_inbound_at
    ? `last wrote on WhatsApp ${user.last_whatsapp_inbound_at.toISOString()}`
    : 'has never written on WhatsApp';
  return {
    skip: `Outside WhatsApp's 24-hour window (the person ${lastWrote}); to reach them anyway, set DIGEST_CONTENT_SID (a template).`,
  };
}

const zoneOf = (group: ShareGroupRow, settings: GroupNewsSettings) =>
  group.timezone ?? settings.defaultTimezone;

const hourOf = (group: ShareGroupRow, settings: GroupNewsSettings) =>
  group.digest_hour ?? settings.digestHour ?? DEFAULT_SHARE_DIGEST_HOUR;

/**
 * One member's daily share digest: the news waiting for them in the group, in one message,
 * once per local date. Locks the waiting rows first, so a racing worker finds none left.
 */
async function sendDailyDigest(
  db: Database,
  group: ShareGroupRow,
  userId: number,
  localDate: string,
  settings: GroupNewsSettings,
  now: Date,
): Promise<boolean> {
  return db.transaction(async (tx) => {
    const waiting = await lockPendingShares(tx, group.id, userId);
    // News of an author who turned sharing off since (users.share_proofs) is not told: the
    // app already hides those posts from the group, and the author was promised silence.
    const withdrawn = waiting.filter((row) => !row.author_shares);
    if (withdrawn.length > 0) {
      await settleShares(
        tx,
        userId,
        withdrawn.map((row) => Number(row.feed_id)),
        { status: 'skipped', reason: groupNewsReasons.authorStoppedSharing, outboundId: null },
        now,
      );
    }
    const pending = waiting.filter((row) => row.author_shares);
    if (pending.length === 0) return false;
    const digest = { groupId: group.id, userId, kind: 'daily' as const, localDate };
    // Told today already: the rest waits for tomorrow's digest.
    if (!(await claimDigest(tx, digest))) return false;
    const user = await findUserById(tx, userId);
    const feedIds = pending.map((row) => Number(row.feed_id));
    const delivery = user
      ? await digestDelivery(tx, user, settings, now)
      : { skip: 'No such user.' };
    if ('skip' in delivery) {
      await settleShares(
        tx,
        userId,
        feedIds,
        { status: 'skipped', reason: delivery.skip, outboundId: null },
        now,
      );
      await decideDigest(tx, digest, {
        status: 'skipped',
        channel: null,
        reason: delivery.skip,
        outboundId: null,
      });
      return true;
    }
    const lines = pending.map((row) => groupNewsTexts.digestLine(row.author, row.task_description));
    const outbound = await enqueueOutbound(tx, {
      kind: 'share_digest',
      inboundMessageId: null,
      userId,
      to: delivery.to,
      from: delivery.from,
      body: groupNewsTexts.dailyDigest(group.name, lines),
      // The template's variables go with a free-form digest too: should the window close
      // before it is sent, it goes as DIGEST_CONTENT_SID (src/services/send-time.ts).
      content: {
        sid: delivery.channel === 'template' ? (settings.digestContentSid ?? null) : null,
        variables: { '1': group.name, '2': groupNewsTexts.dailyDigestLine(lines) },
      },
    });
    const outboundId = outbound?.id ?? null;
    await settleShares(tx, userId, feedIds, { status: 'digested', reason: null, outboundId }, now);
    await decideDigest(tx, digest, {
      status: 'sent',
      channel: delivery.channel,
      reason: null,
      outboundId,
    });
    return true;
  });
}

/** One member's Sunday digest of the week, once per member, group and week. */
async function sendWeeklyDigest(
  db: Database,
  group: ShareGroupRow,
  userId: number,
  monday: string,
  week: Omit<WeekSummary, 'points' | 'currentStreak' | 'bestStreak'> & {
    byUser: Map<number, { points: number; current: number; best: number }>;
  },
  settings: GroupNewsSettings,
  now: Date,
): Promise<boolean> {
  return db.transaction(async (tx) => {
    const digest = { groupId: group.id, userId, kind: 'weekly' as const, localDate: monday };
    if (!(await claimDigest(tx, digest))) return false;
    const user = await findUserById(tx, userId);
    const delivery = user
      ? await digestDelivery(tx, user, settings, now)
      : { skip: 'No such user.' };
    if ('skip' in delivery) {
      await decideDigest(tx, digest, {
        status: 'skipped',
        channel: null,
        reason: delivery.skip,
        outboundId: null,
      });
      return true;
    }
    const mine = week.byUser.get(userId) ?? { points: 0, current: 0, best: 0 };
    const summary: WeekSummary = {
      ...week,
      points: mine.points,
      currentStreak: mine.current,
      bestStreak: mine.best,
    };
    const outbound = await enqueueOutbound(tx, {
      kind: 'weekly_digest',
      inboundMessageId: null,
      userId,
      to: delivery.to,
      from: delivery.from,
      body: groupNewsTexts.weeklyDigest(summary),
      content: {
        sid: delivery.channel === 'template' ? (settings.digestContentSid ?? null) : null,
        variables: { '1': group.name, '2': groupNewsTexts.weeklyDigestLine(summary) },
      },
    });
    await decideDigest(tx, digest, {
      status: 'sent',
      channel: delivery.channel,
      reason: null,
      outboundId: outbound?.id ?? null,
    });
    return true;
  });
}

/** The week's board of a group, for every member's Sunday digest. */
async function weekOf(db: Database, group: ShareGroupRow, settings: GroupNewsSettings, now: Date) {
  const board = await periodLeaderboard(db, {
    groupId: group.id,
    period: 'week',
    limit: 10_000,
    defaultTimezone: settings.defaultTimezone,
    now,
  });
  return {
    groupName: group.name,
    firstDay: board.first_day ?? '',
    lastDay: board.last_day ?? '',
    top: board.items
      .filter((entry) => entry.points > 0)
      .slice(0, 3)
      .map(({ rank, username, points }) => ({ rank, username, points })),
    streaks: board.items
      .filter((entry) => entry.current_streak > 0)
      .map((entry) => ({ username: entry.username, current: entry.current_streak })),
    byUser: new Map(
      board.items.map((entry) => [
        entry.user_id,
        { points: entry.points, current: entry.current_streak, best: entry.best_streak },
      ]),
    ),
  };
}

/**
 * The digests due at `now`: in each group (share not `off`) whose local time has reached
 * its digest hour, each member's daily share digest (when news waits for them), and on a
 * Sunday each member's weekly digest. Each is claimed by a unique row in the transaction
 * that records its message, so any number of workers send each one once. Resolves to the
 * digests decided (sent or skipped).
 */
export async function runDigestsDue(
  db: Database,
  settings: GroupNewsSettings,
  now: Date,
): Promise<number> {
  let decided = 0;
  for (const group of await groupsWithDigests(db)) {
    const zone = zoneOf(group, settings);
    const wall = wallTimeOf(now, zone);
    if (wall.hour < hourOf(group, settings)) continue;
    const today = localDateOf(now, zone);
    for (const userId of await membersWithPendingShares(db, group.id)) {
      if (await sendDailyDigest(db, group, userId, today, settings, now)) decided += 1;
    }
    const sunday = new Date(`${today}T00:00:00Z`).getUTCDay() === 0;
    if (!sunday) continue;
    const monday = weekStartOf(today);
    const members = await membersWithoutWeeklyDigest(db, group.id, monday);
    if (members.length === 0) continue;
    const week = await weekOf(db, group, settings, now);
    for (const userId of members) {
      if (await sendWeeklyDigest(db, group, userId, monday, week, settings, now)) decided += 1;
    }
  }
  return decided;
}
