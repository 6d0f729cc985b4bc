/**
 * The fake vision model (test/fakes/openai-vision.ts) as a process of its own, for trying
 * `review: model` by hand without a model: it answers OpenAI's chat-completions format on
 * 127.0.0.1 only. Point PROOF_MODEL_URL at the URL it prints.
 *
 *   npx tsx scripts/fake-vision.ts [--port 11435] [--answer match|mismatch|unsure]
 *
 * `match` (default): every photo matches, confidence 0.99 (approved); `mismatch`: confident
 * it does not (rejected with the reason); `unsure`: confidence 0.4 (back to peer review).
 */
import { parseArgs } from 'node:util';
import { startFakeVision, type VisionAnswer } from '../test/fakes/openai-vision.js';

const answers: Record<string, VisionAnswer> = {
  match: { verdict: { matches: true, confidence: 0.99, reason: 'The photo shows it done.' } },
  mismatch: {
    verdict: { matches: false, confidence: 0.97, reason: 'The photo shows something else.' },
  },
  unsure: { verdict: { matches: true, confidence: 0.4, reason: 'Hard to tell from the photo.' } },
};

const { values } = parseArgs({
  options: { port: { type: 'string', default: '11435' }, answer: { type: 'string' } },
});
const answer = answers[values.answer ?? 'match'];
if (!answer) {
  console.error(`--answer must be one of ${Object.keys(answers).join(', ')}.`);
  process.exit(2);
}
const fake = await startFakeVision({ port: Number(values.port) });
fake.answer = (request) => {
  console.log(`${new Date().toISOString()} ${request.model}: "${request.text.slice(0, 80)}…"`);
  return answer;
};
console.log(`Fake vision model (${values.answer ?? 'match'}) at PROOF_MODEL_URL=${fake.url}`);
const stop = () => void fake.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
