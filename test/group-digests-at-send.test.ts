import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { optOut } from '../src/db/consent.js';
import { insertFeedPost } from '../src/db/feed.js';
import { createTask } from '../src/db/tasks.js';
import type { UserRow } from '../src/domain/user.js';
import { type GroupNewsSettings, runDigestsDue, shareProof } from '../src/services/group-news.js';
import { engines } from './helpers/databases.js';
import { sendTimeFixture } from './helpers/send-time.js';

/**
 * The daily share digest and the Sunday digest are decided at the group's evening hour (a
 * member inside their 24-hour window gets free-form text) and decided again when the
 * outbound worker sends them: a clock is injected at both ends, so "the window closed
 * between record and send" is exact. Every member here last wrote 23 h 30 min before the
 * digest hour (19:00 UTC), so their window closes at 19:30.
 */

const GROUP_NUMBER = '+14155238886';
const DIGEST_SID = `HX${'d2'.repeat(16)}`;
const MINUTE = 60_000;
const MONDAY_EVENING = new Date('2026-03-02T19:05:00Z');
const SUNDAY_EVENING = new Date('2026-03-08T19:05:00Z');
const minutesAfter = (start: Date, minutes: number) => new Date(start.getTime() + minutes * MINUTE);

const settings: GroupNewsSettings = {
  defaultTimezone: 'UTC',
  whatsappNumber: GROUP_NUMBER,
  digestHour: 19,
  digestContentSid: DIGEST_SID,
};

for (const engine of engines) {
  describe(
    `digests decided again when they are sent [${engine.name}]`,
    { skip: engine.skip },
    () => {
      const fixture = sendTimeFixture(engine);
      const { member, requestsTo } = fixture;

      /**
       * A `digest` group of Ada and Bob in which Ada's proof of "Run 5k" waits for Bob's
       * daily digest of `evening` (Bob last wrote 23 h 30 min before its 19:00).
       */
      async function newsForBob(evening: Date) {
        const digestHour = new Date(evening.getTime() - 5 * MINUTE);
        const ada = await member('Ada', digestHour);
        const bob = await member('Bob', minutesAfter(digestHour, -23.5 * 60));
        const group = await fixture.groupOf([ada, bob], { share: 'digest' });
        const proofAt = minutesAfter(evening, -6 * 60);
        const task = await createTask(
          fixture.db,
          {
            user_id: ada.id,
            description: 'Run 5k',
            due_time: minutesAfter(proofAt, 60),
            points: 10,
            group_id: group.id,
          },
          { offsets: [], now: proofAt },
        );
        assert.ok(task);
        const post = await insertFeedPost(fixture.db, {
          user_id: ada.id,
          task_id: task.id,
          image_url: null,
          image_key: null,
          post_content: 'Done',
          message_id: null,
        });
        assert.ok(post);
        await fixture.db.transaction((tx) =>
          shareProof(
            tx,
            { feedId: post.id, author: ada, task, imageKey: null, receivedOn: GROUP_NUMBER },
            settings,
            proofAt,
          ),
        );
        return { ada, bob, groupId: group.id, groupName: group.name, feedId: post.id };
      }

      const sendQueued = (now: Date, digestContentSid: string | null) =>
        fixture.sendQueued(now, { digestContentSid });
      const outboundOf = async (user: UserRow, kind: string) =>
        fixture.db.query<{
          status: string;
          error_message: string | null;
          content_sid: string | null;
        }>(
          `SELECT status, error_message, content_sid FROM outbound_messages
           WHERE user_id = $1 AND kind = $2 ORDER BY id`,
          [user.id, kind],
        );
      const digestOf = async (groupId: number, user: UserRow, kind: 'daily' | 'weekly') =>
        (
          await fixture.db.query<{ status: string; channel: string | null; reason: string | null }>(
            'SELECT status, channel, reason FROM group_digests WHERE group_id = $1 AND user_id = $2 AND kind = $3',
            [groupId, user.id, kind],
          )
        )[0];
      const shareOf = async (feedId: number, user: UserRow) =>
        (
          await fixture.db.query<{ status: string; reason: string | null }>(
            'SELECT status, reason FROM shares WHERE feed_id = $1 AND user_id = $2',
            [feedId, user.id],
          )
        )[0];

      test('a daily digest sent while the window is open goes free-form, as recorded', async () => {
        const { ada, bob, groupId, feedId } = await newsForBob(MONDAY_EVENING);
        await runDigestsDue(fixture.db, settings, MONDAY_EVENING);
        await sendQueued(minutesAfter(MONDAY_EVENING, 10), DIGEST_SID);
        const [request] = requestsTo(bob);
        assert.equal(request?.params.ContentSid, undefined);
        assert.match(request?.params.Body ?? '', new RegExp(`${ada.username} finished “Run 5k”`));
        assert.equal((await digestOf(groupId, bob, 'daily'))?.channel, 'whatsapp');
        assert.equal((await shareOf(feedId, bob))?.status, 'digested');
      });

      test('window closed between record and send, DIGEST_CONTENT_SID set: the daily digest goes as the template', async () => {
        const { ada, bob, groupId, groupName, feedId } = await newsForBob(MONDAY_EVENING);
        await runDigestsDue(fixture.db, settings, MONDAY_EVENING);
        assert.equal(
          (await digestOf(groupId, bob, 'daily'))?.channel,
          'whatsapp',
          'inside the window when decided',
        );

        await sendQueued(minutesAfter(MONDAY_EVENING, 40), DIGEST_SID);
        const requests = requestsTo(bob);
        assert.equal(requests.length, 1, 'sent once');
        assert.equal(requests[0]?.params.ContentSid, DIGEST_SID);
        assert.equal(requests[0]?.params.Body, undefined, 'no free-form text (63016)');
        assert.deepEqual(JSON.parse(requests[0]?.params.ContentVariables ?? '{}'), {
          '1': groupName,
          '2': `${ada.username} finished “Run 5k”`,
        });
        assert.equal((await outboundOf(bob, 'share_digest'))[0]?.content_sid, DIGEST_SID);
        const digest = await digestOf(groupId, bob, 'daily');
        assert.equal(digest?.status, 'sent');
        assert.equal(digest?.channel, 'template');
        assert.equal((await shareOf(feedId, bob))?.status, 'digested');
      });

      test('window closed between record and send, no template: the daily digest and its news are skipped with the reason', async () => {
        const { bob, groupId, feedId } = await newsForBob(MONDAY_EVENING);
        await runDigestsDue(fixture.db, settings, MONDAY_EVENING);

        await sendQueued(minutesAfter(MONDAY_EVENING, 40), null);
        assert.equal(requestsTo(bob).length, 0, 'nothing sent');
        const [message] = await outboundOf(bob, 'share_digest');
        assert.equal(message?.status, 'canceled');
        assert.match(message?.error_message ?? '', /24-hour window closed.*set DIGEST_CONTENT_SID/);
        const digest = await digestOf(groupId, bob, 'daily');
        assert.equal(digest?.status, 'skipped');
        assert.equal(digest?.channel, null);
        assert.equal(digest?.reason, message?.error_message);
        const share = await shareOf(feedId, bob);
        assert.equal(share?.status, 'skipped');
        assert.equal(share?.reason, message?.error_message);
      });

      test('the Sunday digest: window closed → the template with the week; opted out → skipped', async () => {
        const { bob, groupId, groupName } = await newsForBob(SUNDAY_EVENING);
        const dee = await member('Dee', minutesAfter(SUNDAY_EVENING, -60));
        await fixture.db.query('INSERT INTO group_members (group_id, user_id) VALUES ($1, $2)', [
          groupId,
          dee.id,
        ]);
        await runDigestsDue(fixture.db, settings, SUNDAY_EVENING);
        const [recorded] = await fixture.db.query<{ body: string; content_variables: unknown }>(
          `SELECT body, content_variables FROM outbound_messages
           WHERE user_id = $1 AND kind = 'weekly_digest'`,
          [bob.id],
        );
        assert.match(recorded?.body ?? '', /Your week in/, 'free-form when decided');
        await optOut(fixture.db, dee.id, 'keyword', minutesAfter(SUNDAY_EVENING, 10));

        await sendQueued(minutesAfter(SUNDAY_EVENING, 40), DIGEST_SID);
        const weekly = requestsTo(bob).filter((r) => r.params.ContentSid === DIGEST_SID);
        assert.equal(requestsTo(bob).length, 2, 'the daily and the weekly digest, once each');
        assert.equal(weekly.length, 2, 'both as the template');
        const variables = weekly.map((r) => JSON.parse(r.params.ContentVariables ?? '{}'));
        assert.ok(variables.every((v) => v['1'] === groupName));
        assert.ok(
          variables.some((v) => /^you earned 0 points; top three: .*; kept a streak:/.test(v['2'])),
          'the week, on one line',
        );
        assert.equal((await digestOf(groupId, bob, 'weekly'))?.channel, 'template');

        assert.equal(requestsTo(dee).length, 0, 'opted out: never sent');
        const [withheld] = await outboundOf(dee, 'weekly_digest');
        assert.equal(withheld?.status, 'canceled');
        const skipped = await digestOf(groupId, dee, 'weekly');
        assert.equal(skipped?.status, 'skipped');
        assert.equal(skipped?.channel, null);
        assert.match(skipped?.reason ?? '', /opted out \(STOP\)/);
        assert.equal(skipped?.reason, withheld?.error_message);
      });
    },
  );
}
