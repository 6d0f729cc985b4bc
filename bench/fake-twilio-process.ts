// The fake Twilio of `npm run bench:loop` in a process of its own (forked with an IPC
// channel), so its work never shares an event loop with the load generator or the bench:
// test/fakes/fake-twilio.ts in lean mode (no per-request records), serving each photo
// behind its redirect to the CDN origin and accepting Messages API calls, optionally late.
// It makes the photos before any clock starts (distinct 320×320 JPEGs from seeded noise,
// so each has its own bytes and its own difference hash), and notes when each reply
// arrives, by its `To`, on the machine's monotonic clock (process.hrtime, the same in
// every process), for the bench to compute webhook → reply latency.
import sharp from 'sharp';
import { seededRandom } from '../test/helpers/random.js';
import { type FakeTwilio, startFakeTwilio } from '../test/fakes/fake-twilio.js';
import { answerRpc } from './rpc-child.js';

export type FakeRequest =
  | {
      type: 'start';
      accountSid: string;
      authToken: string;
      latencyMs: number;
      media: { messageSid: string; seed: number }[];
    }
  /** From now on, `progress` counts how many of these recipients have had a reply. */
  | { type: 'expect'; tos: string[] }
  | { type: 'progress' }
  /** Every reply time (ms on the monotonic clock) per recipient, in the order asked. */
  | { type: 'dump'; tos: string[] }
  /** Forget every reply seen (a new engine's run). */
  | { type: 'reset' };

export type FakeResponse =
  | {
      type: 'ready';
      apiBaseUrl: string;
      cdnBaseUrl: string;
      urls: string[];
      jpegBytes: { min: number; mean: number; max: number };
      makeMs: number;
    }
  | { type: 'ok' }
  | { type: 'progress'; replied: number; total: number }
  | { type: 'dump'; times: number[][] };

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

/** A distinct 320×320 JPEG: a 12×12 grid of seeded random colours, smoothly scaled up. */
export async function makeJpeg(seed: number): Promise<Buffer> {
  const next = seededRandom(seed);
  const grid = Buffer.alloc(12 * 12 * 3);
  for (let index = 0; index < grid.length; index += 1) grid[index] = Math.floor(next() * 256);
  return sharp(grid, { raw: { width: 12, height: 12, channels: 3 } })
    .resize(320, 320, { kernel: 'cubic' })
    .jpeg({ quality: 85 })
    .toBuffer();
}

let fake: FakeTwilio | null = null;
const replies = new Map<string, number[]>();
let expected = new Set<string>();
let repliedExpected = 0;
let total = 0;

function onMessageCreate(params: Record<string, string>): void {
  const at = nowMs();
  const to = params.To ?? '';
  total += 1;
  const times = replies.get(to);
  if (times) times.push(at);
  else {
    replies.set(to, [at]);
    if (expected.has(to)) repliedExpected += 1;
  }
}

async function handle(request: FakeRequest): Promise<FakeResponse> {
  switch (request.type) {
    case 'start': {
      const started = performance.now();
      fake = await startFakeTwilio({
        accountSid: request.accountSid,
        authToken: request.authToken,
        lean: true,
        onMessageCreate,
        messagesLatencyMs: request.latencyMs,
      });
      const urls: string[] = new Array(request.media.length);
      const sizes: number[] = [];
      // sharp works on libuv's thread pool: a few at a time keeps both cores busy.
      for (let offset = 0; offset < request.media.length; offset += 16) {
        const batch = request.media.slice(offset, offset + 16);
        const jpegs = await Promise.all(batch.map((item) => makeJpeg(item.seed)));
        batch.forEach((item, index) => {
          const bytes = jpegs[index] as Buffer;
          sizes.push(bytes.length);
          const media = fake?.addMedia({
            bytes,
            contentType: 'image/jpeg',
            messageSid: item.messageSid,
          });
          urls[offset + index] = media?.url ?? '';
        });
      }
      const sum = sizes.reduce((a, b) => a + b, 0);
      return {
        type: 'ready',
        apiBaseUrl: fake.apiBaseUrl,
        cdnBaseUrl: fake.cdnBaseUrl,
        urls,
        jpegBytes: {
          min: Math.min(...sizes),
          mean: sum / Math.max(1, sizes.length),
          max: Math.max(...sizes),
        },
        makeMs: performance.now() - started,
      };
    }
    case 'expect':
      expected = new Set(request.tos);
      repliedExpected = request.tos.filter((to) => replies.has(to)).length;
      return { type: 'ok' };
    case 'progress':
      return { type: 'progress', replied: repliedExpected, total };
    case 'dump':
      return { type: 'dump', times: request.tos.map((to) => replies.get(to) ?? []) };
    case 'reset':
      replies.clear();
      expected = new Set();
      repliedExpected = 0;
      total = 0;
      return { type: 'ok' };
  }
}

if (process.send) {
  answerRpc(handle);
  // The bench went away: nothing is left to serve.
  process.once('disconnect', () => {
    void fake?.close().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2_000).unref();
  });
}
