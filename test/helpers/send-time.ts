import { after, before } from 'node:test';
import type { Database } from '../../src/db/executor.js';
import { outboundQueue } from '../../src/db/outbound.js';
import { createUser, recordInbound } from '../../src/db/users.js';
import type { UserRow } from '../../src/domain/user.js';
import { sendOutboundJob } from '../../src/jobs/send-outbound.js';
import type { NoticeSettings } from '../../src/services/task-notices.js';
import { createTwilioSender } from '../../src/twilio/sender.js';
import {
  type FakeTwilio,
  type RecordedMessageCreate,
  startFakeTwilio,
} from '../fakes/fake-twilio.js';
import type { Engine, TestDatabase } from './databases.js';

/**
 * What the tests of messages decided when recorded and decided again when sent (shares,
 * review requests, digests, reminders) stand on: a database and a fake Twilio of their own,
 * people whose last WhatsApp message is set, and the outbound worker's job run at an
 * injected time, so "the window closed between record and send" is exact.
 */
export interface SendTimeFixture {
  /** The describe block's database (once its `before` hook ran). */
  readonly db: Database;
  readonly twilio: FakeTwilio;
  /** A new person, named `name` and a number, who last wrote on WhatsApp at `lastWrote`. */
  member(name: string, lastWrote: Date): Promise<UserRow>;
  /** A new group of `members` with the given sharing and review rules, in UTC. */
  groupOf(
    members: readonly UserRow[],
    rules: { share: 'instant' | 'digest'; review?: 'none' | 'peer' },
  ): Promise<{ id: number; name: string }>;
  /** Runs the outbound worker's job at `now` on everything queued, through the fake Twilio. */
  sendQueued(
    now: Date,
    options?: { digestContentSid?: string | null; notices?: NoticeSettings },
  ): Promise<void>;
  /** What the fake Twilio was asked to send to `user` on the channel (WhatsApp unless told). */
  requestsTo(user: UserRow, channel?: 'whatsapp' | 'sms'): RecordedMessageCreate[];
}

/**
 * Registers the `before` and `after` hooks of the enclosing describe block that open (and
 * remove) its database on `engine` and its fake Twilio.
 */
export function sendTimeFixture(engine: Engine): SendTimeFixture {
  let t: TestDatabase;
  let twilio: FakeTwilio;
  before(async () => {
    t = await engine.create();
    twilio = await startFakeTwilio();
  });
  after(async () => {
    await twilio?.close();
    await t?.destroy();
  });

  let seq = 0;
  const newPhone = () =>
    `+1555${String(process.pid % 1000).padStart(3, '0')}${String((seq += 1)).padStart(4, '0')}`;

  return {
    get db() {
      return t.db;
    },
    get twilio() {
      return twilio;
    },
    async member(name, lastWrote) {
      const phone = newPhone();
      const user = await createUser(t.db, { username: `${name} ${seq}`, phone_number: phone });
      await recordInbound(t.db, user.id, lastWrote, 'whatsapp');
      return user;
    },
    async groupOf(members, rules) {
      const name = `Runners ${(seq += 1)}`;
      const [row] = await t.db.query<{ id: number }>(
        `INSERT INTO groups (name, timezone, share, review, invite_code)
         VALUES ($1, 'UTC', $2, $3, upper(substr(md5(random()::text), 1, 8)))
         RETURNING id`,
        [name, rules.share, rules.review ?? 'none'],
      );
      const id = Number(row!.id);
      await t.db.query(
        'INSERT INTO group_members (group_id, user_id) SELECT $1, unnest($2::bigint[])',
        [id, members.map((member) => member.id)],
      );
      return { id, name };
    },
    async sendQueued(now, options = {}) {
      const send = sendOutboundJob({
        db: t.db,
        clock: () => now,
        ...options,
        send: createTwilioSender({
          accountSid: twilio.accountSid,
          authToken: twilio.authToken,
          apiBaseUrl: twilio.apiBaseUrl,
          statusCallbackUrl: null,
        }),
      });
      for (const job of await outboundQueue.claim(t.db, 100, 60_000)) await send(job);
    },
    requestsTo(user, channel = 'whatsapp') {
      const to = channel === 'whatsapp' ? `whatsapp:${user.phone_number}` : user.phone_number;
      return twilio.messageRequests.filter((request) => request.params.To === to);
    },
  };
}
