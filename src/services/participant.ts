import { randomUUID } from 'node:crypto';
import type { Database, Queryable } from '../db/executor.js';
import { optIn, optOut } from '../db/consent.js';
import { enqueueOutbound } from '../db/outbound.js';
import {
  deleteAccountRows,
  exportRows,
  groupsOfMember,
  insertAppMessage,
  leaveGroupOf,
  openTasksForToday,
  photoVisibleTo,
  postsOfGroups,
  reviewsWaitingFor,
  setSharesProofs,
  sharesProofs,
} from '../db/participant.js';
import { findUserById } from '../db/users.js';
import { forbidden, notFound, validationFailed } from '../domain/errors.js';
import type { UserRow } from '../domain/user.js';
import type { BlobStore, ObjectStream } from '../storage/adapter.js';
import { type Command, parseCommand } from './commands/index.js';
import { activeHabitsOfUser, streaksOfUsers, withStreaks } from './habits.js';
import { type LeaderboardPeriod, periodLeaderboard } from './leaderboards.js';
import type { LiveFilter } from './live-events.js';
import { castVote } from './reviews.js';
import { type SenderNumbers, addressMessage } from './send-message.js';
import { endSessionsOfUser, signInTexts } from './sign-in.js';
import { personTimeZone } from './time-zones.js';
import { userWithState } from './users.js';

/**
 * The participant app's use cases (issue 17). Each takes the signed-in person's id from
 * the session, never from the request, and reads only their rows and what their groups
 * share: another group's feed is `forbidden`, a photo they may not see is `not_found`.
 */
export interface ParticipantDeps {
  db: Queryable;
  store: BlobStore;
  clock: () => Date;
  defaultTimezone: string;
  pointsPerTask: number;
  reminderOffsets: readonly number[];
  senders: SenderNumbers;
}

/** With a pool (Database) the work is one transaction; a bare Queryable runs it as is. */
const inTransaction = <T>(db: Queryable, work: (tx: Queryable) => Promise<T>): Promise<T> =>
  'transaction' in db && typeof (db as Database).transaction === 'function'
    ? (db as Database).transaction(work)
    : work(db);

async function person(deps: Pick<ParticipantDeps, 'db'>, userId: number): Promise<UserRow> {
  const user = await findUserById(deps.db, userId);
  // The session outlived its person (deleted meanwhile): the cascade removed the session
  // too, so this is a race; answer as for no session.
  if (!user) throw notFound('Your account no longer exists.');
  return user;
}

/** The photo URL the app shows: our own route, which checks who may see it. */
export const appPhotoUrl = (key: string): string => `/app/api/photo?key=${encodeURIComponent(key)}`;

export async function me(deps: ParticipantDeps, userId: number) {
  const user = await userWithState(
    { db: deps.db, clock: deps.clock, defaultTimezone: deps.defaultTimezone },
    await person(deps, userId),
  );
  return {
    id: Number(user.id),
    username: user.username,
    points: user.points,
    timezone: user.timezone,
    zone_in_effect: user.zone_in_effect,
    opted_out: user.opted_out_at !== null,
    share_proofs: await sharesProofs(deps.db, userId),
    pause: user.pause,
    groups: await groupsOfMember(deps.db, userId),
  };
}

export async function today(deps: ParticipantDeps, userId: number) {
  const user = await person(deps, userId);
  const habits = await withStreaks(deps.db, await activeHabitsOfUser(deps.db, userId));
  return {
    time_zone: personTimeZone(user, deps.defaultTimezone),
    points: user.points,
    tasks: await openTasksForToday(deps.db, userId, 50),
    habits: habits.map((habit) => ({
      id: Number(habit.id),
      description: habit.description,
      schedule_text: habit.schedule_text,
      current_streak: habit.current_streak,
      best_streak: habit.best_streak,
    })),
  };
}

/** What the app may run with the WhatsApp phrases: adding, the zone, pausing. */
const APP_COMMANDS: ReadonlySet<string> = new Set(['new', 'habit', 'tz', 'pause', 'resume']);

/**
 * Runs a WhatsApp phrase typed in the app (`new Run 5k tomorrow 7am`, `habit Gym every mon
 * at 7am`, `tz Europe/Paris`, `pause 3 days`, `resume`) through the same command, recorded
 * as one of the person's messages. Resolves to the reply WhatsApp would have given.
 */
export async function runPhrase(
  deps: ParticipantDeps,
  userId: number,
  text: string,
): Promise<{ reply: string }> {
  const parsed = parseCommand(text);
  const command: Command | null =
    parsed && APP_COMMANDS.has(parsed.command.name) ? parsed.command : null;
  if (!parsed || !command) {
    throw validationFailed(
      'Start with new, habit, tz, pause or resume, as on WhatsApp: "new Run 5k tomorrow 7am".',
    );
  }
  const now = deps.clock();
  return inTransaction(deps.db, async (tx) => {
    const user = await person({ db: tx }, userId);
    const message = await insertAppMessage(tx, {
      sid: `APP${randomUUID().replaceAll('-', '')}`,
      sender: user.phone_number ?? user.whatsapp_id ?? `user:${user.id}`,
      body: text,
    });
    const reply = await command.run(
      {
        tx,
        user,
        message: { ...message, attempts: 1, claims: 0 },
        now,
        timeZone: personTimeZone(user, deps.defaultTimezone),
        defaultTimezone: deps.defaultTimezone,
        reminderOffsets: deps.reminderOffsets,
        pointsPerTask: deps.pointsPerTask,
      },
      parsed.args,
    );
    return { reply };
  });
}

async function myGroupIds(deps: Pick<ParticipantDeps, 'db'>, userId: number): Promise<number[]> {
  return (await groupsOfMember(deps.db, userId)).map((group) => group.id);
}

/** The posts of my groups (or of one of them), newest first, with the author's streak. */
export async function feed(
  deps: ParticipantDeps,
  userId: number,
  query: { groupId: number | null; limit: number; offset: number },
) {
  const mine = await myGroupIds(deps, userId);
  if (query.groupId !== null && !mine.includes(query.groupId)) {
    throw forbidden(`You are not in group ${query.groupId}.`);
  }
  const posts = await postsOfGroups(
    deps.db,
    userId,
    query.groupId === null ? mine : [query.groupId],
    {
      limit: query.limit,
      offset: query.offset,
    },
  );
  const streaks = await streaksOfUsers(deps.db, [...new Set(posts.map((post) => post.user_id))]);
  return {
    items: posts.map((post) => ({
      id: post.id,
      created_at: post.created_at.toISOString(),
      user_id: post.user_id,
      username: post.username,
      group_id: Number(post.group_id),
      group_name: post.group_name,
      what: post.task_description ?? post.post_content,
      image_url: post.image_key ? appPhotoUrl(post.image_key) : null,
      streak: streaks.get(post.user_id)?.current ?? 0,
      mine: post.user_id === userId,
    })),
  };
}

/** A photo, if the person may see it; `not_found` otherwise (whether it exists or not). */
export async function photo(
  deps: ParticipantDeps,
  userId: number,
  key: string,
): Promise<ObjectStream> {
  const object = (await photoVisibleTo(deps.db, userId, key)) ? await deps.store.get(key) : null;
  if (!object) throw notFound('No such photo among yours or your groups’.');
  return object;
}

export async function leaderboards(
  deps: ParticipantDeps,
  userId: number,
  period: LeaderboardPeriod,
) {
  const groups = await groupsOfMember(deps.db, userId);
  const now = deps.clock();
  return {
    period,
    groups: await Promise.all(
      groups.map(async (group) => {
        const board = await periodLeaderboard(deps.db, {
          groupId: group.id,
          period,
          limit: 50,
          defaultTimezone: deps.defaultTimezone,
          now,
        });
        return {
          group_id: group.id,
          group_name: group.name,
          first_day: board.first_day,
          last_day: board.last_day,
          items: board.items.map((item) => ({
            rank: item.rank,
            username: item.username,
            points: item.points,
            current_streak: item.current_streak,
            me: Number(item.user_id) === userId,
          })),
        };
      }),
    ),
  };
}

/**
 * Me's settings (PATCH /app/api/me): `opted_out` stops or resumes every message (as STOP
 * and START); `share_proofs` off keeps my proofs from my groups (see postsOfGroups).
 */
export async function updateMe(
  deps: ParticipantDeps,
  userId: number,
  change: { opted_out?: boolean | undefined; share_proofs?: boolean | undefined },
) {
  if (change.opted_out === true) await optOut(deps.db, userId, 'keyword', deps.clock());
  if (change.opted_out === false) await optIn(deps.db, userId);
  if (change.share_proofs !== undefined)
    await setSharesProofs(deps.db, userId, change.share_proofs);
  return me(deps, userId);
}

export async function leaveGroup(deps: ParticipantDeps, userId: number, groupId: number) {
  if (!(await leaveGroupOf(deps.db, userId, groupId))) {
    throw notFound(`You are not in group ${groupId}.`);
  }
  return me(deps, userId);
}

/** Export my data: my messages, replies, tasks, habits, posts and groups; photos as links. */
export async function exportMyData(deps: ParticipantDeps, userId: number, baseUrl: string) {
  const user = await person(deps, userId);
  const rows = await exportRows(deps.db, userId);
  const link = (key: unknown) => (typeof key === 'string' ? `${baseUrl}${appPhotoUrl(key)}` : null);
  return {
    exported_at: deps.clock().toISOString(),
    user: {
      id: Number(user.id),
      username: user.username,
      phone_number: user.phone_number,
      timezone: user.timezone,
      points: user.points,
      created_at: user.created_at.toISOString(),
    },
    messages: rows.messages.map(({ stored_media, ...message }) => ({
      ...message,
      photos: (Array.isArray(stored_media) ? (stored_media as { key?: string }[]) : [])
        .map((item) => link(item.key))
        .filter((url): url is string => url !== null),
    })),
    replies: rows.replies,
    tasks: rows.tasks,
    habits: rows.habits,
    posts: rows.posts.map(({ image_key, ...post }) => ({ ...post, photo: link(image_key) })),
    groups: rows.groups,
  };
}

/**
 * Deletes my account: my rows (messages, replies, tasks, habits, posts, memberships,
 * sessions) in one transaction, then my photos from the bucket, and tells me it is done
 * (unless I opted out). What is left is one anonymous row of totals.
 */
export async function deleteMyAccount(
  deps: ParticipantDeps,
  userId: number,
  log?: { warn(object: object, message: string): void },
): Promise<{ deleted: true; photos_removed: number }> {
  const user = await person(deps, userId);
  const deleted = await inTransaction(deps.db, async (tx) => {
    await endSessionsOfUser(tx, userId, deps.clock());
    const removed = await deleteAccountRows(tx, userId);
    if (!removed) throw notFound('Your account no longer exists.');
    if (user.phone_number && !user.opted_out_at && (deps.senders.whatsapp || deps.senders.sms)) {
      const channel = deps.senders.whatsapp ? 'whatsapp' : 'sms';
      const address = addressMessage({ to: user.phone_number, body: '', channel }, deps.senders);
      // user_id null: the row is not theirs to keep; it only carries the goodbye.
      await enqueueOutbound(tx, {
        kind: 'send',
        inboundMessageId: null,
        userId: null,
        ...address,
        body: signInTexts.deleted(),
      });
    }
    return removed;
  });
  let removedPhotos = 0;
  for (const key of new Set(deleted.keys)) {
    try {
      await deps.store.delete(key);
      removedPhotos += 1;
    } catch (error) {
      // The rows are gone already; a photo left behind is logged by key (no number in it).
      log?.warn({ key, err: error }, 'a deleted account’s photo could not be removed');
    }
  }
  return { deleted: true, photos_removed: removedPhotos };
}

/** Proofs of my groups' members waiting for my approval. */
export async function reviewsForMe(deps: ParticipantDeps, userId: number) {
  const rows = await reviewsWaitingFor(deps.db, userId);
  return {
    items: rows.map((row) => ({
      id: row.id,
      created_at: row.created_at.toISOString(),
      username: row.username,
      group_name: row.group_name,
      what: row.task_description ?? row.post_content,
      image_url: row.image_key ? appPhotoUrl(row.image_key) : null,
    })),
  };
}

/**
 * My vote on a proof, through the same use case as a WhatsApp 👍/👎 or `approve <n>`: it
 * refuses my own proof, a group I am not in, a decided review and a rejection without a
 * reason, each with the reply WhatsApp would give.
 */
export async function voteOnReview(
  deps: ParticipantDeps,
  userId: number,
  reviewId: number,
  vote: { approve: boolean; reason: string | null },
): Promise<{ reply: string }> {
  if (!vote.approve && !vote.reason?.trim()) {
    throw validationFailed('Say why you reject it: the owner is told the reason.');
  }
  // Only a review waiting for me: another group's proof is not mine to see or decide.
  const waiting = await reviewsWaitingFor(deps.db, userId);
  if (!waiting.some((review) => review.id === reviewId)) {
    throw notFound(`No proof review ${reviewId} waiting for you.`);
  }
  return inTransaction(deps.db, async (tx) => {
    const voter = await person({ db: tx }, userId);
    const reply = await castVote(
      tx,
      {
        voter,
        approve: vote.approve,
        reviewId,
        repliedSid: null,
        reason: vote.reason?.trim() ?? '',
        now: deps.clock(),
      },
      { defaultTimezone: deps.defaultTimezone },
    );
    return { reply };
  });
}

/**
 * Which live events a participant's stream carries: those about their own rows and their
 * groups'. Events name a row, never its content, and the page reads it again through the
 * routes above; the membership is read when the stream opens.
 */
export async function liveFilterFor(
  deps: Pick<ParticipantDeps, 'db'>,
  userId: number,
): Promise<LiveFilter> {
  const groups = new Set(await myGroupIds(deps, userId));
  return (event) =>
    event.user_id === userId || (event.group_id !== null && groups.has(event.group_id));
}
