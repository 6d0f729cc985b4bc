import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { optOut } from '../src/db/consent.js';
import { insertFeedPost } from '../src/db/feed.js';
import { insertMessages } from '../src/db/messages.js';
import { setSharesProofs } from '../src/db/participant.js';
import { createTask } from '../src/db/tasks.js';
import type { TaskRow } from '../src/domain/task.js';
import type { UserRow } from '../src/domain/user.js';
import { type GroupNewsSettings, runDigestsDue, shareProof } from '../src/services/group-news.js';
import { decideReview, startReview } from '../src/services/reviews.js';
import { engines } from './helpers/databases.js';
import { sendTimeFixture } from './helpers/send-time.js';
import { newMessageSid } from './helpers/twilio-webhook.js';

/**
 * Shares and review requests are decided when they are recorded (inside the member's
 * 24-hour window, opted in) and checked again when the outbound worker sends them: a clock
 * is injected at both ends, so "between record and send" is exact.
 */

const GROUP_NUMBER = '+14155238886';
const DIGEST_SID = `HX${'d1'.repeat(16)}`;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
// A Monday: no weekly digest joins the daily one.
const T0 = new Date('2026-03-02T09:00:00Z');
const at = (minutes: number) => new Date(T0.getTime() + minutes * MINUTE);
const EVENING = new Date('2026-03-02T19:05:00Z');
const photoUrlOf = (key: string) => `http://127.0.0.1:9/media/${key}`;

const settings: GroupNewsSettings = {
  defaultTimezone: 'UTC',
  whatsappNumber: GROUP_NUMBER,
  digestHour: 19,
  digestContentSid: DIGEST_SID,
  photoUrl: async (key) => photoUrlOf(key),
};

for (const engine of engines) {
  describe(
    `shares and review requests checked again when they are sent [${engine.name}]`,
    { skip: engine.skip },
    () => {
      const fixture = sendTimeFixture(engine);
      const { requestsTo, sendQueued } = fixture;

      /** A member who last wrote on WhatsApp `minutesBefore` T0. */
      const member = (name: string, minutesBefore: number) =>
        fixture.member(name, at(-minutesBefore));

      /**
       * Ada's group, with `others`; Ada's task "Run 5k" in it. Bob-like members wrote 23 h 30
       * min before T0: their window closes at T0 + 30 min.
       */
      async function groupOf(review: 'none' | 'peer', others: UserRow[]) {
        const ada = await member('Ada', 60);
        const group = await fixture.groupOf([ada, ...others], { share: 'instant', review });
        const task = await createTask(
          fixture.db,
          {
            user_id: ada.id,
            description: 'Run 5k',
            due_time: at(180),
            points: 10,
            group_id: group.id,
          },
          { offsets: [], now: T0 },
        );
        assert.ok(task);
        return { ada, groupId: group.id, task };
      }

      /** Ada's photo, completed and shared at `now` as the processing transaction does. */
      async function shared(ada: UserRow, task: TaskRow, now: Date) {
        const post = await insertFeedPost(fixture.db, {
          user_id: ada.id,
          task_id: task.id,
          image_url: null,
          image_key: `proofs/${task.id}.jpg`,
          post_content: 'Done',
          message_id: null,
        });
        assert.ok(post);
        await fixture.db.transaction((tx) =>
          shareProof(
            tx,
            {
              feedId: post.id,
              author: ada,
              task,
              imageKey: `proofs/${task.id}.jpg`,
              receivedOn: `whatsapp:${GROUP_NUMBER}`,
            },
            settings,
            now,
          ),
        );
        return post.id;
      }

      const shareOf = async (feedId: number, user: UserRow) =>
        (
          await fixture.db.query<{
            status: string;
            reason: string | null;
            outbound_message_id: unknown;
          }>(
            'SELECT status, reason, outbound_message_id FROM shares WHERE feed_id = $1 AND user_id = $2',
            [feedId, user.id],
          )
        )[0];
      const outboundOf = async (user: UserRow, kind: string) =>
        fixture.db.query<{ status: string; error_message: string | null }>(
          'SELECT status, error_message FROM outbound_messages WHERE user_id = $1 AND kind = $2 ORDER BY id',
          [user.id, kind],
        );

      test('a share sent while the window is open goes as recorded, with the photo', async () => {
        const bob = await member('Bob', 23.5 * 60);
        const { ada, task } = await groupOf('none', [bob]);
        const feedId = await shared(ada, task, at(1));
        await sendQueued(at(20));
        const [request] = requestsTo(bob);
        assert.equal(request?.params.Body, `📸 ${ada.username} finished “Run 5k”`);
        assert.deepEqual(request?.mediaUrls, [photoUrlOf(`proofs/${task.id}.jpg`)]);
        assert.equal((await shareOf(feedId, bob))?.status, 'sent');
      });

      test('window closed between record and send: no free-form message; the news goes in the daily digest', async () => {
        const bob = await member('Bob', 23.5 * 60);
        const { ada, task } = await groupOf('none', [bob]);
        const feedId = await shared(ada, task, at(1));
        assert.equal(
          (await shareOf(feedId, bob))?.status,
          'sent',
          'inside the window when recorded',
        );

        await sendQueued(at(40));
        assert.equal(requestsTo(bob).length, 0, 'no free-form text (63016)');
        const [message] = await outboundOf(bob, 'share');
        assert.equal(message?.status, 'canceled');
        assert.match(message?.error_message ?? '', /24-hour window closed.*daily digest/);
        const waiting = await shareOf(feedId, bob);
        assert.equal(waiting?.status, 'pending');
        assert.equal(waiting?.outbound_message_id, null);

        // The evening digest: Bob is still outside the window, so it goes as the template.
        await runDigestsDue(fixture.db, settings, EVENING);
        await sendQueued(EVENING);
        const [digest] = requestsTo(bob);
        assert.equal(digest?.params.ContentSid, DIGEST_SID);
        assert.equal(digest?.params.Body, undefined);
        assert.equal(
          JSON.parse(digest?.params.ContentVariables ?? '{}')['2'],
          `${ada.username} finished “Run 5k”`,
        );
        assert.equal((await shareOf(feedId, bob))?.status, 'digested');
        assert.equal(requestsTo(bob).length, 1, 'told once');
      });

      test('opted out between record and send: the share is skipped with the reason and never sent', async () => {
        const dee = await member('Dee', 60);
        const { ada, task } = await groupOf('none', [dee]);
        const feedId = await shared(ada, task, at(1));
        await optOut(fixture.db, dee.id, 'keyword', at(5));

        await sendQueued(at(10));
        const [message] = await outboundOf(dee, 'share');
        assert.equal(message?.status, 'canceled');
        const skipped = await shareOf(feedId, dee);
        assert.equal(skipped?.status, 'skipped');
        assert.match(skipped?.reason ?? '', /opted out \(STOP\)/);
        assert.equal(skipped?.reason, message?.error_message);

        // Nor in the evening digest: it waits for nobody.
        await runDigestsDue(fixture.db, settings, EVENING);
        await sendQueued(EVENING);
        assert.equal(requestsTo(dee).length, 0);
        assert.equal((await outboundOf(dee, 'share_digest')).length, 0);
      });

      test('the author turned sharing off between record and send: skipped with the reason, never sent, not in the digest', async () => {
        const bob = await member('Bob', 23.5 * 60);
        const cy = await member('Cy', 60);
        const { ada, task } = await groupOf('none', [bob, cy]);
        const feedId = await shared(ada, task, at(1));
        for (const user of [bob, cy]) assert.equal((await shareOf(feedId, user))?.status, 'sent');
        await setSharesProofs(fixture.db, ada.id, false);

        // Cy is still inside his window; Bob's closed too, but the share is not his to wait for.
        await sendQueued(at(40));
        for (const user of [bob, cy]) {
          assert.equal(requestsTo(user).length, 0, `${user.username}: not sent`);
          const [message] = await outboundOf(user, 'share');
          assert.equal(message?.status, 'canceled');
          const skipped = await shareOf(feedId, user);
          assert.equal(skipped?.status, 'skipped');
          assert.match(skipped?.reason ?? '', /turned sharing off/);
          assert.equal(skipped?.reason, message?.error_message);
        }

        await runDigestsDue(fixture.db, settings, EVENING);
        await sendQueued(EVENING);
        for (const user of [bob, cy]) {
          assert.equal(requestsTo(user).length, 0, `${user.username}: no digest of it either`);
        }
      });

      test('review requests: window closed or opted out between record and send → skipped with the reason; the review stays with the others asked', async () => {
        const bob = await member('Bob', 23.5 * 60);
        const cy = await member('Cy', 60);
        const dee = await member('Dee', 60);
        const { ada, groupId, task } = await groupOf('peer', [bob, cy, dee]);
        const [inbound] = await insertMessages(fixture.db, [
          {
            messageSid: newMessageSid('MM'),
            accountSid: null,
            from: `whatsapp:${ada.phone_number}`,
            to: `whatsapp:${GROUP_NUMBER}`,
            sender: ada.phone_number!,
            body: 'Done',
            numMedia: 1,
            mediaItems: [],
            profileName: null,
            waId: null,
            raw: {},
          },
        ]);
        const post = await insertFeedPost(fixture.db, {
          user_id: ada.id,
          task_id: task.id,
          image_url: null,
          image_key: `proofs/${task.id}.jpg`,
          post_content: 'Done',
          message_id: inbound!.id,
          status: 'pending_review',
        });
        assert.ok(post);
        await fixture.db.transaction((tx) =>
          startReview(
            tx,
            {
              user: ada,
              task,
              groupId,
              feedId: post.id,
              messageId: inbound!.id!,
              ownerAddress: `whatsapp:${ada.phone_number}`,
              fromNumber: `whatsapp:${GROUP_NUMBER}`,
              imageKey: `proofs/${task.id}.jpg`,
              imageUrl: photoUrlOf(`proofs/${task.id}.jpg`),
              method: 'peer',
            },
            { timeoutMs: 12 * HOUR, modelConfigured: false, defaultTimezone: 'UTC' },
            at(1),
          ),
        );
        const requests = async () =>
          new Map(
            (
              await fixture.db.query<{ reviewer_id: number; skipped: string | null }>(
                `SELECT r.reviewer_id, r.skipped FROM review_requests r
                 JOIN proof_reviews p ON p.id = r.review_id WHERE p.feed_id = $1`,
                [post.id],
              )
            ).map((row) => [Number(row.reviewer_id), row.skipped]),
          );
        assert.deepEqual(
          [...(await requests()).values()],
          [null, null, null],
          'all three asked when recorded',
        );

        await optOut(fixture.db, dee.id, 'keyword', at(5));
        await sendQueued(at(40));
        assert.equal(requestsTo(bob).length, 0, 'window closed: no free-form request');
        assert.equal(requestsTo(dee).length, 0, 'opted out: never sent');
        assert.equal(requestsTo(cy).length, 1, 'Cy is still inside his window');
        assert.match(requestsTo(cy)[0]?.params.Body ?? '', /sent a photo for "Run 5k"/);
        const after = await requests();
        assert.match(after.get(bob.id) ?? '', /24-hour window closed.*REVIEW_TIMEOUT/);
        assert.match(after.get(dee.id) ?? '', /opted out \(STOP\)/);
        assert.equal(after.get(cy.id), null);
        for (const user of [bob, dee]) {
          assert.equal((await outboundOf(user, 'review_request'))[0]?.status, 'canceled');
        }
        const [review] = await fixture.db.query<{ id: number; status: string }>(
          'SELECT id, status FROM proof_reviews WHERE feed_id = $1',
          [post.id],
        );
        assert.equal(review?.status, 'pending', 'the review waits for Cy or the timeout');

        // Approved: Bob, never asked after all, hears of it by the share rules (outside his
        // window: the digest); Cy saw the photo in his request; Dee is opted out.
        await fixture.db.transaction((tx) =>
          decideReview(
            tx,
            Number(review!.id),
            { status: 'approved', by: 'admin', userId: null, reason: null, at: at(50) },
            { defaultTimezone: 'UTC', groupNews: settings },
          ),
        );
        assert.equal((await shareOf(post.id, bob))?.status, 'pending');
        assert.equal(await shareOf(post.id, cy), undefined);
        assert.equal((await shareOf(post.id, dee))?.status, 'skipped');
      });
    },
  );
}
