import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Queryable } from '../src/db/executor.js';
import { enqueueOutbound } from '../src/db/outbound.js';
import { findSendersWithPendingTasks } from '../src/db/plain-texts.js';
import { createUser, findSenderRecordingInbound } from '../src/db/users.js';
import { lockWaiters, postgres, postgresOnly, type TestDatabase } from './helpers/databases.js';

// The plain-text set statement (src/db/plain-texts.ts) locks its senders' user rows as the
// per-message lookup (findSenderRecordingInbound's UPDATE) does: FOR NO KEY UPDATE. A
// FOR UPDATE there would conflict with the FOR KEY SHARE lock every insert referencing
// users takes (a share for a group member, a review request, a session), so a photo's
// transaction sharing its proof with a member would deadlock with a text batch holding
// that member (found by review; this test failed with FOR UPDATE).

const stamp = `${process.pid % 1000}`.padStart(3, '0');
const phone = (n: number) => `+1557${stamp}${String(n).padStart(4, '0')}`;

type Lookup = (tx: Queryable, senders: string[]) => Promise<unknown>;

const setStatement: Lookup = (tx, senders) =>
  findSendersWithPendingTasks(
    tx,
    senders.map((sender) => ({ sender, at: new Date(), channel: 'sms' as const })),
  );

const perMessage: Lookup = async (tx, senders) => {
  for (const sender of [...senders].sort()) {
    await findSenderRecordingInbound(tx, sender, { at: new Date(), channel: 'sms' });
  }
};

describe('plain-text batch vs a photo sharing with a member [postgres]', () => {
  let t: TestDatabase;
  let seq = 0;
  before(async () => {
    if (!postgresOnly(postgres)) t = await postgres.create();
  });
  after(async () => t?.destroy());

  const race = async (lookup: Lookup) => {
    // member first: the lower id, locked first by the batch
    const member = await createUser(t.db, { username: 'member', phone_number: phone(++seq) });
    const author = await createUser(t.db, { username: 'author', phone_number: phone(++seq) });
    let authorLocked!: () => void;
    const locked = new Promise<void>((resolve) => (authorLocked = resolve));
    let share!: () => void;
    const shareNow = new Promise<void>((resolve) => (share = resolve));
    // The photo's transaction: its sender row (as accountabilityReply), then a share to
    // the member (as shareProof), which takes FOR KEY SHARE on the member's row.
    const photo = t.db.transaction(async (tx) => {
      await findSenderRecordingInbound(tx, author.phone_number as string, {
        at: new Date(),
        channel: 'sms',
      });
      authorLocked();
      await shareNow;
      await enqueueOutbound(tx, {
        kind: 'share',
        inboundMessageId: null,
        userId: Number(member.id),
        to: member.phone_number as string,
        from: '+15550000000',
        body: 'news',
      });
    });
    await locked;
    const batch = t.db.transaction((tx) =>
      lookup(tx, [member.phone_number as string, author.phone_number as string]),
    );
    // The batch has locked the member and waits for the author's row.
    while ((await lockWaiters(t.db)) < 1) await new Promise((r) => setTimeout(r, 10));
    share();
    return Promise.allSettled([photo, batch]);
  };

  const deadlocks = (settled: PromiseSettledResult<unknown>[]) =>
    settled.filter(
      (s) => s.status === 'rejected' && (s.reason as { code?: string }).code === '40P01',
    ).length;

  test(
    'per-message lookups (findSenderRecordingInbound): no deadlock',
    { skip: postgresOnly(postgres) },
    async () => {
      assert.equal(deadlocks(await race(perMessage)), 0);
    },
  );

  test(
    'set statement (findSendersWithPendingTasks): no deadlock',
    { skip: postgresOnly(postgres) },
    async () => {
      assert.equal(deadlocks(await race(setStatement)), 0);
    },
  );
});
