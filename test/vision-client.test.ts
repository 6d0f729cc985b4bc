import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../src/config/config.js';
import { createOpenAiCompatibleJudge, VisionError } from '../src/vision/openai-compatible.js';
import { type FakeVision, startFakeVision } from './fakes/openai-vision.js';

const KEY = 'sk-secret-key-never-in-errors';
const question = { task: 'Run 5k', imageUrl: 'data:image/jpeg;base64,/9j/AAAA' };

describe('the OpenAI-compatible proof judge, against the local fake', () => {
  let vision: FakeVision;
  before(async () => {
    vision = await startFakeVision({ key: KEY });
  });
  after(async () => vision?.close());

  const judge = (options: { timeoutMs?: number; key?: string } = {}) =>
    createOpenAiCompatibleJudge({
      url: vision.url,
      model: 'gpt-4o-mini',
      key: options.key ?? KEY,
      timeoutMs: options.timeoutMs ?? 2000,
    });

  test('asks in OpenAI’s format and reads the structured verdict', async () => {
    vision.answer = () => ({
      verdict: { matches: true, confidence: 0.93, reason: 'A watch at 5 km.' },
    });
    const before = vision.requests.length;
    assert.deepEqual(await judge()(question), {
      matches: true,
      confidence: 0.93,
      reason: 'A watch at 5 km.',
    });
    const request = vision.requests[before]!;
    assert.equal(request.authorization, `Bearer ${KEY}`);
    assert.equal(request.imageUrl, question.imageUrl);
    assert.match(request.text, /Run 5k/);
    const format = request.body.response_format as {
      json_schema: { strict: boolean; schema: { required: string[] } };
    };
    assert.deepEqual(format.json_schema.schema.required, ['matches', 'confidence', 'reason']);
    assert.equal(format.json_schema.strict, true);
    assert.deepEqual(vision.refused, []);
  });

  test('a 5xx is retried once; a second failure is an error', async () => {
    let calls = 0;
    vision.answer = () => {
      calls += 1;
      return calls === 1
        ? { status: 503 }
        : { verdict: { matches: false, confidence: 0.9, reason: 'A cat.' } };
    };
    assert.equal((await judge()(question)).matches, false);
    assert.equal(calls, 2);
    calls = 0;
    vision.answer = () => {
      calls += 1;
      return { status: 500 };
    };
    await assert.rejects(judge()(question), /HTTP 500/);
    assert.equal(calls, 2, 'bounded: one retry');
  });

  test('a wrong key (401) is not retried, and no error names the key', async () => {
    const before = vision.requests.length;
    const error = await judge({ key: 'sk-wrong-key' })(question).catch((e: unknown) => e);
    assert.ok(error instanceof VisionError);
    assert.match(error.message, /HTTP 401/);
    assert.doesNotMatch(error.message, /sk-/);
    assert.equal(vision.requests.length, before, 'refused before it was read');
  });

  test('no answer in time: a timeout, retried once', async () => {
    const before = vision.requests.length;
    vision.answer = () => ({ hang: true });
    await assert.rejects(judge({ timeoutMs: 200 })(question), /No answer within 200 ms/);
    assert.equal(vision.requests.length - before, 2);
  });
});

describe('review configuration', () => {
  const base = {
    API_TOKEN: 'x'.repeat(32),
    TWILIO_AUTH_TOKEN: 'y'.repeat(32),
    LOG_LEVEL: 'silent',
  };
  test('REVIEW_TIMEOUT is a duration (default 12h); the model only with PROOF_MODEL_URL', () => {
    const defaults = loadConfig(base);
    assert.equal(defaults.review.timeoutMs, 12 * 3_600_000);
    assert.equal(defaults.review.model, null);
    const set = loadConfig({
      ...base,
      REVIEW_TIMEOUT: '90m',
      PROOF_MODEL_URL: 'http://127.0.0.1:11434/v1',
      PROOF_MODEL_CONFIDENCE: '0.7',
    });
    assert.equal(set.review.timeoutMs, 90 * 60_000);
    assert.deepEqual(
      { ...set.review.model },
      {
        url: 'http://127.0.0.1:11434/v1',
        model: 'gpt-4o-mini',
        key: null,
        timeoutMs: 20000,
        minConfidence: 0.7,
      },
    );
    assert.throws(
      () => loadConfig({ ...base, REVIEW_TIMEOUT: '12 hours' }),
      /REVIEW_TIMEOUT="12 hours"/,
    );
    assert.throws(
      () => loadConfig({ ...base, PROOF_MODEL_URL: 'http://x/v1', PROOF_MODEL_CONFIDENCE: '2' }),
      /PROOF_MODEL_CONFIDENCE/,
    );
  });
});
