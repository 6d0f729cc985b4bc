import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createReviewTimeoutJob } from '../src/jobs/review-timeouts.js';
import { type FakeTwilio, startFakeTwilio } from './fakes/fake-twilio.js';
import { type FakeVision, startFakeVision } from './fakes/openai-vision.js';
import { engines } from './helpers/databases.js';
import { serviceClient, startTestService, type TestService } from './helpers/service.js';
import { whatsAppParams } from './helpers/twilio-webhook.js';
import { quietLog, waitFor, waitForQueuesIdle } from './helpers/worker.js';

const GROUP_NUMBER = '+14155238886';
const MODEL_KEY = 'sk-test-model-key-0123456789';

for (const engine of engines) {
  describe(`peer and model review of proofs [${engine.name}]`, { skip: engine.skip }, () => {
    let twilio: FakeTwilio;
    let vision: FakeVision;
    let t: TestService;
    before(async () => {
      twilio = await startFakeTwilio();
      vision = await startFakeVision({ key: MODEL_KEY });
      t = await startTestService(engine, {
        TWILIO_API_BASE_URL: twilio.apiBaseUrl,
        TWILIO_WHATSAPP_NUMBER: GROUP_NUMBER,
        PUBLIC_URL: 'http://127.0.0.1:0',
        PROOF_MODEL_URL: vision.url,
        PROOF_MODEL: 'gpt-4o-mini',
        PROOF_MODEL_KEY: MODEL_KEY,
        PROOF_MODEL_TIMEOUT_MS: '300',
      });
    });
    after(async () => {
      await t?.close();
      await twilio?.close();
      await vision?.close();
    });
    const client = serviceClient(
      () => t,
      () => twilio,
    );
    const prefix = `+1555${String(process.pid % 1000).padStart(3, '0')}`;
    let groupCount = 0;

    async function person(username: string, suffix: string) {
      const phone = `${prefix}${suffix}`;
      const user = await client.api('POST', '/users', { username, phone_number: phone });
      assert.equal(user.status, 201, JSON.stringify(user.body));
      return { id: user.body.id as number, phone, address: `whatsapp:${phone}` };
    }
    type Person = Awaited<ReturnType<typeof person>>;

    /** A message from the person, processed; resolves to the reply it got. */
    async function writes(who: Person, body: string, extra: Record<string, string> = {}) {
      const before = client.repliesTo(who.address).length;
      await client.processed(
        await client.deliver(whatsAppParams({ from: who.phone, to: GROUP_NUMBER, body, extra })),
      );
      await waitFor(async () => client.repliesTo(who.address).length > before);
      return client.repliesTo(who.address).at(-1)?.params.Body ?? '';
    }

    async function group(review: 'peer' | 'model', members: Person[], share = 'off') {
      groupCount += 1;
      const [row] = await t.service.db.query<{ id: number }>(
        `INSERT INTO groups (name, review, share, invite_code)
         VALUES ($1, $2, $3, upper(substr(md5(random()::text), 1, 8))) RETURNING id`,
        [`Group ${groupCount}`, review, share],
      );
      const id = Number(row!.id);
      await t.service.db.query(
        `INSERT INTO group_members (group_id, user_id) SELECT $1, unnest($2::bigint[])`,
        [id, members.map((m) => m.id)],
      );
      return id;
    }

    async function taskIn(
      groupId: number,
      owner: Person,
      description: string,
      dueInMs = 3_600_000,
    ) {
      // The owner is in the default group too: a task for a member of several names its group.
      const task = await client.api('POST', '/tasks', {
        user_id: owner.id,
        description,
        due_time: new Date(Date.now() + dueInMs).toISOString(),
        notify: false,
        group_id: groupId,
      });
      assert.equal(task.status, 201, JSON.stringify(task.body));
      return task.body.id as number;
    }

    const photoBytes = new Map<string, Buffer>();
    /** The owner's photo, processed; resolves to the reply. */
    async function proves(who: Person) {
      const bytes = randomBytes(4096);
      const photo = twilio.addMedia({ bytes, contentType: 'image/jpeg' });
      photoBytes.set(photo.messageSid, bytes);
      const params = whatsAppParams({
        from: who.phone,
        to: GROUP_NUMBER,
        body: 'Done',
        messageSid: photo.messageSid,
        media: [{ url: photo.url, contentType: 'image/jpeg' }],
      });
      const before = client.repliesTo(who.address).length;
      await client.processed(await client.deliver(params));
      await waitFor(async () => client.repliesTo(who.address).length > before);
      // The reply to the photo: the first one after it (a model's verdict can follow at once).
      return { reply: client.repliesTo(who.address).at(before)?.params.Body ?? '', bytes };
    }

    const taskOf = async (id: number) => (await client.api('GET', `/tasks/${id}`)).body;
    const pointsOf = async (who: Person) =>
      (await client.api('GET', `/users/${who.id}`)).body.points as number;
    const reviewsOf = async (groupId: number, status = '') =>
      (await client.api('GET', `/reviews?group_id=${groupId}${status ? `&status=${status}` : ''}`))
        .body.items as {
        id: number;
        status: string;
        decided_by: string | null;
        reason: string | null;
        task_id: number;
        model_verdict: Record<string, unknown> | null;
      }[];
    const requestsTo = (who: Person) =>
      client.repliesTo(who.address).filter((r) => /sent a photo for/.test(r.params.Body ?? ''));

    test('peer review: members are asked with the photo; self-review and a non-member are refused; a quoted 👍 approves once, a later 👎 finds it decided', async () => {
      const ada = await person('Ada', '8001');
      const bob = await person('Bob', '8002');
      const cy = await person('Cy', '8003');
      const zed = await person('Zed', '8004');
      const eve = await person('Eve', '8005');
      const groupId = await group('peer', [ada, bob, cy], 'instant');
      await group('peer', [zed]);
      const newsTo = (who: Person) =>
        client.repliesTo(who.address).filter((r) => /Ada finished/.test(r.params.Body ?? ''));
      for (const who of [bob, cy, zed]) await writes(who, 'tasks');
      const taskId = await taskIn(groupId, ada, 'Run 5k');

      const { reply } = await proves(ada);
      assert.match(reply, /Your group reviews it/);
      assert.equal((await taskOf(taskId)).status, 'pending_review');
      assert.equal(await pointsOf(ada), 0, 'no points before the decision');
      const [review] = await reviewsOf(groupId, 'pending');
      assert.ok(review, 'a pending review');
      await waitFor(async () => requestsTo(bob).length === 1 && requestsTo(cy).length === 1);
      const request = requestsTo(bob)[0]!;
      assert.match(
        request.params.Body ?? '',
        /Ada sent a photo for "Run 5k"\. Reply 👍 to approve or 👎 and why/,
      );
      assert.equal(request.mediaUrls.length, 1, 'with the photo');
      assert.equal(
        requestsTo(ada).length + requestsTo(zed).length,
        0,
        'not the owner nor outsiders',
      );

      await waitForQueuesIdle(t.service.db);
      assert.equal(newsTo(cy).length, 0, 'not shared while it waits for review');
      // Eve joins the group (and writes) after the requests went out: she hears of it once it is approved.
      await t.service.db.query('INSERT INTO group_members (group_id, user_id) VALUES ($1, $2)', [
        groupId,
        eve.id,
      ]);
      await writes(eve, 'tasks');
      assert.match(await writes(ada, `approve ${review.id}`), /cannot review your own proof/);
      assert.match(await writes(zed, `approve ${review.id}`), /Only members of the group/);
      assert.equal((await taskOf(taskId)).status, 'pending_review');

      // Bob answers the request itself: WhatsApp's quoted reply names its SID.
      const [sent] = await t.service.db.query<{ twilio_sid: string }>(
        `SELECT o.twilio_sid FROM review_requests r JOIN outbound_messages o ON o.id = r.outbound_message_id
         WHERE r.reviewer_id = $1 AND r.review_id = $2`,
        [bob.id, review.id],
      );
      assert.ok(sent?.twilio_sid);
      assert.match(
        await writes(bob, '👍🏽', { OriginalRepliedMessageSid: sent.twilio_sid }),
        /Approved: Ada's "Run 5k"/,
      );
      assert.equal((await taskOf(taskId)).status, 'completed');
      assert.equal(await pointsOf(ada), 10);
      await waitFor(async () =>
        client
          .repliesTo(ada.address)
          .some((r) =>
            /Bob approved your proof for "Run 5k": \+10 points \(total 10\)/.test(
              r.params.Body ?? '',
            ),
          ),
      );
      // Approved: shared with the group like any proof, once.
      await waitFor(async () => newsTo(eve).length === 1);
      assert.equal(newsTo(eve)[0]?.params.Body, '📸 Ada finished “Run 5k”');
      // With the photo the review requests carried, though a vote's path has no storage settings.
      assert.deepEqual(newsTo(eve)[0]?.mediaUrls, request.mediaUrls, 'the photo goes with it');
      assert.match(await writes(cy, `reject ${review.id} blurry`), /already approved/);
      assert.equal(await pointsOf(ada), 10, 'points once');
      await waitForQueuesIdle(t.service.db);
      assert.equal(newsTo(eve).length, 1, 'told once');
      assert.equal(newsTo(cy).length + newsTo(bob).length, 0, 'the reviewers saw it already');
      assert.equal(newsTo(ada).length, 0, 'not the owner');
      const feed = (await client.api('GET', `/feed?user_id=${ada.id}`)).body.items as {
        status: string;
      }[];
      assert.deepEqual(
        feed.map((post) => post.status),
        ['published'],
      );
    });

    test('peer rejection leaves the task active and tells the owner why; another photo is reviewed again; the timeout approves it', async () => {
      const ada = await person('Ada', '8011');
      const bob = await person('Bob', '8012');
      const groupId = await group('peer', [ada, bob]);
      await writes(bob, 'tasks');
      const taskId = await taskIn(groupId, ada, 'Read 20 pages');
      await proves(ada);
      const [first] = await reviewsOf(groupId, 'pending');
      assert.match(await writes(bob, `reject ${first!.id}`), /Say why/);
      assert.match(await writes(bob, `👎 that is a magazine`), /Rejected: Ada's "Read 20 pages"/);
      assert.equal((await taskOf(taskId)).status, 'active');
      await waitFor(async () =>
        client
          .repliesTo(ada.address)
          .some((r) =>
            /Bob rejected your proof for "Read 20 pages": that is a magazine Send another photo before/.test(
              r.params.Body ?? '',
            ),
          ),
      );
      assert.equal(await pointsOf(ada), 0);

      const { reply } = await proves(ada);
      assert.match(reply, /Your group reviews it/);
      assert.equal((await taskOf(taskId)).status, 'pending_review');
      const [second] = await reviewsOf(groupId, 'pending');
      assert.ok(second && second.id !== first!.id);

      // Nobody answers within REVIEW_TIMEOUT (12 h): approved, once, by any number of runs.
      const later = () => new Date(Date.now() + 13 * 3_600_000);
      const jobs = [1, 2].map(() =>
        createReviewTimeoutJob(t.service.db, {
          pollMs: 1000,
          log: quietLog,
          defaultTimezone: 'UTC',
          clock: later,
        }),
      );
      const approved = await Promise.all(jobs.map((job) => job.runDue()));
      assert.ok(approved.reduce((a, b) => a + b, 0) >= 1);
      assert.equal((await taskOf(taskId)).status, 'completed');
      assert.equal(await pointsOf(ada), 10);
      assert.equal(await jobs[0]!.runDue(), 0, 'nothing left');
      const decided = (await reviewsOf(groupId)).map((r) => [r.status, r.decided_by]);
      assert.deepEqual(decided, [
        ['approved', 'timeout'],
        ['rejected', 'peer'],
      ]);
      await waitFor(async () =>
        client
          .repliesTo(ada.address)
          .some((r) => /approved your proof for "Read 20 pages"/.test(r.params.Body ?? '')),
      );
    });

    test('two approvals at once complete the task and award its points once (admin API)', async () => {
      const ada = await person('Ada', '8021');
      const bob = await person('Bob', '8022');
      const groupId = await group('peer', [ada, bob]);
      const taskId = await taskIn(groupId, ada, 'Stretch');
      await proves(ada);
      const [review] = await reviewsOf(groupId, 'pending');
      const answers = await Promise.all([
        client.api('POST', `/reviews/${review!.id}/approve`),
        client.api('POST', `/reviews/${review!.id}/approve`),
        client.api('POST', `/reviews/${review!.id}/reject`, { reason: 'late' }),
      ]);
      const statuses = answers.map((a) => a.status).sort();
      assert.deepEqual(statuses, [200, 409, 409], JSON.stringify(answers.map((a) => a.body)));
      const winner = answers.find((a) => a.status === 200)!.body;
      const task = await taskOf(taskId);
      assert.equal(task.status, winner.status === 'approved' ? 'completed' : 'active');
      assert.equal(await pointsOf(ada), winner.status === 'approved' ? 10 : 0);
      assert.equal((await client.api('POST', `/reviews/${review!.id}/reject`, {})).status, 400);
      assert.equal((await client.api('POST', '/reviews/999999/approve')).status, 404);
    });

    test('model review: a confident match approves, a confident mismatch rejects with its reason, unsure or a timeout goes to peers', async () => {
      const ada = await person('Ada', '8031');
      const bob = await person('Bob', '8032');
      const groupId = await group('model', [ada, bob]);
      await writes(bob, 'tasks');
      vision.answer = (request) => {
        if (request.text.includes('Run 5k'))
          return {
            verdict: {
              matches: true,
              confidence: 0.95,
              reason: 'A running watch showing 5.02 km.',
            },
          };
        if (request.text.includes('Read'))
          return {
            verdict: {
              matches: false,
              confidence: 0.9,
              reason: 'The photo shows a cat, not a book.',
            },
          };
        if (request.text.includes('Meditate'))
          return { verdict: { matches: true, confidence: 0.4, reason: 'Hard to tell.' } };
        return { hang: true };
      };
      const decidedBy = async (taskId: number) =>
        waitFor(async () => {
          const review = (await reviewsOf(groupId)).find((r) => r.task_id === taskId);
          return review &&
            (review.status !== 'pending' || (review.model_verdict && requestsTo(bob).length > 0))
            ? review
            : null;
        });

      const run = await taskIn(groupId, ada, 'Run 5k');
      const proof = await proves(ada);
      assert.match(proof.reply, /being checked/);
      const approved = await decidedBy(run);
      assert.deepEqual([approved.status, approved.decided_by], ['approved', 'model']);
      assert.equal((await taskOf(run)).status, 'completed');
      assert.equal(await pointsOf(ada), 10);
      // The photo went to the endpoint as a data: URL of its bytes, with the key, as OpenAI's format wants.
      const sent = vision.requests.find((r) => r.text.includes('Run 5k'))!;
      assert.equal(sent.imageUrl, `data:image/jpeg;base64,${proof.bytes.toString('base64')}`);
      assert.equal(sent.authorization, `Bearer ${MODEL_KEY}`);
      assert.equal(sent.model, 'gpt-4o-mini');
      assert.deepEqual(vision.refused, []);

      const read = await taskIn(groupId, ada, 'Read 20 pages');
      await proves(ada);
      const rejected = await decidedBy(read);
      assert.deepEqual(
        [rejected.status, rejected.decided_by, rejected.reason],
        ['rejected', 'model', 'The photo shows a cat, not a book.'],
      );
      assert.equal((await taskOf(read)).status, 'active');
      await waitFor(async () =>
        client
          .repliesTo(ada.address)
          .some((r) =>
            /rejected your proof for "Read 20 pages": The photo shows a cat, not a book\./.test(
              r.params.Body ?? '',
            ),
          ),
      );
      assert.equal(requestsTo(bob).length, 0, 'a confident model needs no peer');

      // The rejected task is active again (due in an hour): these are due before it.
      const meditate = await taskIn(groupId, ada, 'Meditate', 1_800_000);
      await proves(ada);
      const unsure = await decidedBy(meditate);
      assert.equal(unsure.status, 'pending');
      assert.equal(requestsTo(bob).length, 1, 'unsure: Bob is asked');
      assert.match(requestsTo(bob)[0]!.params.Body ?? '', /"Meditate"/);

      const swim = await taskIn(groupId, ada, 'Swim', 1_200_000);
      const asked = vision.requests.length;
      await proves(ada);
      await waitFor(async () => requestsTo(bob).length === 2);
      assert.match(requestsTo(bob)[1]!.params.Body ?? '', /"Swim"/);
      assert.equal(vision.requests.length - asked, 2, 'one retry after the timeout, then peers');
      const timedOut = (await reviewsOf(groupId)).find((r) => r.task_id === swim)!;
      assert.equal(timedOut.status, 'pending');
      assert.match(String(timedOut.model_verdict?.fallback), /No answer within 300 ms/);
      assert.equal(await pointsOf(ada), 10);
      await waitForQueuesIdle(t.service.db);
    });

    test('a peer-review group never sends the photo to the model', async () => {
      const ada = await person('Ada', '8041');
      const bob = await person('Bob', '8042');
      const groupId = await group('peer', [ada, bob]);
      await taskIn(groupId, ada, 'Swim 1k');
      const asked = vision.requests.length;
      await proves(ada);
      await waitForQueuesIdle(t.service.db);
      assert.equal(vision.requests.length, asked);
    });
  });
}
