/**
 * Issue 16's "Done when", as docs/groups.md walks through it by hand: on a fresh service
 * (development, no Twilio account: replies land in the outbox), with `taskwire simulate`,
 * two people join a group by its code, one proves a habit, the other is told and approves
 * it, both see the weekly leaderboard; then the same with the fake vision model reviewing.
 * Every message goes through simulate() (src/cli/simulate.ts), as the CLI runs it: the
 * signed webhook, the photo through the media stand-in, and what it prints.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { simulate } from '../src/cli/simulate.js';
import { loadConfig } from '../src/config/config.js';
import { startFakeVision, type FakeVision } from './fakes/openai-vision.js';
import { pglite } from './helpers/databases.js';
import { makePhoto } from './helpers/photos.js';
import { startTestService, type TestService } from './helpers/service.js';

type Json = Record<string, unknown>;
const ADA = '+15550170001';
const BOB = '+15550170002';

describe('the groups walkthrough with taskwire simulate (peer review, then the model)', () => {
  let t: TestService;
  let vision: FakeVision;
  before(async () => {
    vision = await startFakeVision();
    t = await startTestService(pglite, {
      TWILIO_ACCOUNT_SID: '',
      TWILIO_WHATSAPP_NUMBER: '+14155238886',
      PROOF_MODEL_URL: vision.url,
      PROOF_MODEL: 'gpt-4o-mini',
    });
  });
  after(async () => {
    await t?.close();
    await vision?.close();
  });

  const api = async (method: string, url: string, body?: unknown) => {
    const response = await fetch(`${t.baseUrl}${url}`, {
      method,
      headers: { ...t.auth, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    assert.ok(response.ok, `${method} ${url}: ${response.status}`);
    return (await response.json()) as Json;
  };
  /** `taskwire simulate --from <from> [--image <file>] "<body>"`: what it printed. */
  const say = async (from: string, body: string, extra: { image?: string; name?: string } = {}) => {
    const lines: string[] = [];
    const code = await simulate(loadConfig(t.env), { from, body, ...extra }, (line) =>
      lines.push(line),
    );
    const out = lines.join('\n');
    assert.equal(code, 0, out);
    return out;
  };
  let photos = 0;
  const photo = async () => {
    photos += 1;
    const file = path.join(t.dataDir, `proof-${photos}.jpg`);
    writeFileSync(file, await makePhoto(1600 + photos));
    return file;
  };
  const outboundTo = async (phone: string, kind: string) =>
    ((await api('GET', '/outbound?limit=100')).items as Json[]).filter(
      (item) => item.to_number === `whatsapp:${phone}` && item.kind === kind,
    );
  /** Signs in with the link `link` sends and reads the app's weekly leaderboards. */
  const boardsOf = async (phone: string) => {
    const out = await say(phone, 'link');
    const link = /(http:\/\/\S+\/app\/sign-in\?token=\S+)/.exec(out)?.[1];
    assert.ok(link, out);
    const signIn = await fetch(link, { method: 'POST', redirect: 'manual' });
    assert.equal(signIn.status, 303);
    const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const boards = await fetch(`${t.baseUrl}/app/api/leaderboards?period=week`, {
      headers: { cookie },
    });
    assert.equal(boards.status, 200);
    const body = (await boards.json()) as {
      groups: { group_name: string; items: { username: string; points: number; me: boolean }[] }[];
    };
    return body.groups.map((group) => ({
      group: group.group_name,
      ranks: group.items.map((item) => `${item.username} ${item.points}${item.me ? ' (me)' : ''}`),
    }));
  };

  let group: Json;
  test('two people join a group by its code', async () => {
    group = await api('POST', '/groups', { name: 'Runners', review: 'peer', share: 'instant' });
    const code = group.invite_code as string;
    assert.match(
      await say(ADA, `join ${code}`, { name: 'Ada' }),
      /You joined Runners \(1 member\)/,
    );
    assert.match(
      await say(BOB, `join ${code}`, { name: 'Bob' }),
      /You joined Runners \(2 members\)/,
    );
    const members = (await api('GET', `/groups/${String(group.id)}`)).members as Json[];
    assert.deepEqual(members.map((member) => member.username).sort(), ['Ada', 'Bob']);
  });

  test('one proves a habit; the other is asked, approves it, and the points come once', async () => {
    assert.match(await say(ADA, 'habit Run 5k 3 times a week'), /Habit h1: "Run 5k"/);
    const proof = await say(ADA, 'Done', { image: await photo() });
    assert.match(
      proof,
      /· Waiting for review by the group: "Run 5k" earns 10 points once approved; Ada has 0 points/,
    );
    assert.match(
      proof,
      /✓ Also sent to Bob \(review_request, sent\):\n {4}📸 Ada sent a photo for "Run 5k"/,
    );
    assert.equal((await outboundTo(BOB, 'review_request')).length, 1, 'Bob is asked once');

    const approval = await say(BOB, '👍');
    assert.match(approval, /Approved: Ada's "Run 5k"/);
    assert.match(
      approval,
      /✓ Also sent to Ada \(review_result, sent\):\n {4}✅ Bob approved your proof for "Run 5k": \+10 points \(total 10\)/,
    );
    const ada = ((await api('GET', '/users?limit=100')).items as Json[]).find(
      (user) => user.username === 'Ada',
    );
    assert.equal(ada?.points, 10);
  });

  test('both see the weekly leaderboard', async () => {
    assert.deepEqual(await boardsOf(ADA), [{ group: 'Runners', ranks: ['Ada 10 (me)', 'Bob 0'] }]);
    assert.deepEqual(await boardsOf(BOB), [{ group: 'Runners', ranks: ['Ada 10', 'Bob 0 (me)'] }]);
    const admin = await api('GET', `/groups/${String(group.id)}/leaderboard?period=week`);
    assert.deepEqual(
      (admin.items as Json[]).map((item) => [item.username, item.points]),
      [
        ['Ada', 10],
        ['Bob', 0],
      ],
    );
  });

  test('the same with the model reviewing: the fake approves, the other member is told', async () => {
    await api('PATCH', `/groups/${String(group.id)}`, { review: 'model' });
    assert.match(await say(BOB, 'habit Squats 3 times a week'), /Habit h1: "Squats"/);
    const proof = await say(BOB, 'Squatted', { image: await photo() });
    assert.match(proof, /· Sent to the vision model \(the group's review is model\): "Squats"/);
    assert.match(proof, /✓ The model approved it \(confidence 0\.99\); Bob has 10 points/);
    assert.match(proof, /✓ Also sent to Ada \(share, sent\):\n {4}📸 Bob finished “Squats”/);
    assert.match(proof, /✓ Also sent to Bob \(review_result, sent\):\n {4}✅ .*\+10 points/);
    assert.equal(vision.requests.length, 1, 'the model was asked once');
    assert.equal(vision.requests[0]?.model, 'gpt-4o-mini');
    assert.match(vision.requests[0]?.text ?? '', /Squats/);
    assert.match(vision.requests[0]?.imageUrl ?? '', /^data:image\/jpeg;base64,/);

    assert.deepEqual(await boardsOf(BOB), [{ group: 'Runners', ranks: ['Ada 10', 'Bob 10 (me)'] }]);
  });
});
