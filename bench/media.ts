// npm run bench:media — the media pipeline under load, end to end through the real
// service (`node dist/cli/main.js serve`, run `npm run build` first) with a local fake of
// Twilio serving the media behind its redirect to a CDN origin:
//   1. 20 concurrent messages, each with one 16 MiB photo (WhatsApp's limit): all stored,
//      and the service's peak RSS (VmHWM from /proc) against the 200 MB target.
//   2. 300 KB photos at 20 messages/s for --seconds: webhook → stored latency, p50/p99,
//      from each row's created_at (the webhook's insert) to processed_at.
// Flags: --engine pglite|postgres (default pglite), --seconds N (default 10).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { startFakeTwilio } from '../test/fakes/fake-twilio.js';
import {
  TEST_ACCOUNT_SID,
  TEST_API_TOKEN,
  TEST_AUTH_TOKEN,
  signedForm,
  whatsAppParams,
} from '../test/helpers/twilio-webhook.js';
import { createDatabase } from './ingest-db.js';
import { freePort, onCleanup, runCleanups, spawnChild, waitForOk } from './ingest-processes.js';
import { makeTempDir } from '../test/helpers/databases.js';

const { values } = parseArgs({
  options: {
    engine: { type: 'string', default: 'pglite' },
    seconds: { type: 'string', default: '10' },
  },
});
const engine = values.engine === 'postgres' ? 'postgres' : 'pglite';
const seconds = Number(values.seconds);

const peakRssMb = (pid: number): number => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
};
const currentRssMb = (pid: number): number => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
};
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

async function main() {
  const twilio = await startFakeTwilio();
  onCleanup('fake twilio', () => twilio.close());
  const temp = makeTempDir('taskwire-bench-media-');
  onCleanup('temp dir', () => temp.remove());
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const env: Record<string, string> = {
    DATA_DIR: temp.dir,
    HOST: '127.0.0.1',
    PORT: String(port),
    API_TOKEN: TEST_API_TOKEN,
    TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN,
    TWILIO_ACCOUNT_SID: TEST_ACCOUNT_SID,
    TWILIO_API_BASE_URL: twilio.apiBaseUrl,
    MEDIA_REDIRECT_ALLOWLIST: twilio.cdnBaseUrl,
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
  };
  if (engine === 'postgres') {
    const database = await createDatabase('media');
    onCleanup('database', () => database.drop());
    env.DATABASE_URL = database.url;
  }
  const service = spawnChild('taskwire', process.execPath, ['dist/cli/main.js', 'serve'], {
    env: { ...process.env, ...env },
    cwd: process.cwd(),
  });
  onCleanup('service', async () => {
    await service.stop();
  });
  await waitForOk(`${baseUrl}/ready`, { timeoutMs: 60_000, child: service });
  const idleRss = currentRssMb(service.pid);

  const deliver = async (params: Record<string, string>) => {
    const url = `${baseUrl}/webhook/twilio`;
    const { payload, headers } = signedForm(url, params);
    const response = await fetch(url, { method: 'POST', body: payload, headers });
    if (response.status !== 200) throw new Error(`webhook answered ${response.status}`);
  };
  const auth = { authorization: `Bearer ${TEST_API_TOKEN}` };
  const processedCount = async (sids: string[]) => {
    let done = 0;
    for (const sid of sids) {
      const row = (await (await fetch(`${baseUrl}/messages/${sid}`, { headers: auth })).json()) as {
        processed: boolean;
      };
      if (row.processed) done += 1;
    }
    return done;
  };

  // 1. 20 concurrent 16 MiB photos.
  const big = randomBytes(16 * 1024 * 1024);
  const bigSids: string[] = [];
  const started = Date.now();
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      const media = twilio.addMedia({ bytes: big, contentType: 'image/jpeg' });
      bigSids.push(media.messageSid);
      await deliver(
        whatsAppParams({
          messageSid: media.messageSid,
          media: [{ url: media.url, contentType: 'image/jpeg' }],
        }),
      );
    }),
  );
  while ((await processedCount(bigSids)) < bigSids.length) {
    if (Date.now() - started > 300_000)
      throw new Error('16 MiB messages not processed within 5 minutes');
    await sleep(500);
  }
  const bigSeconds = (Date.now() - started) / 1000;
  const peak = peakRssMb(service.pid);

  // 2. 300 KB photos at 20/s.
  const photo = randomBytes(300 * 1024);
  const sids: string[] = [];
  const total = Math.round(20 * seconds);
  const t0 = Date.now();
  const sends: Promise<void>[] = [];
  for (let i = 0; i < total; i += 1) {
    const due = t0 + i * 50;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    const media = twilio.addMedia({ bytes: photo, contentType: 'image/jpeg' });
    sids.push(media.messageSid);
    sends.push(
      deliver(
        whatsAppParams({
          messageSid: media.messageSid,
          media: [{ url: media.url, contentType: 'image/jpeg' }],
        }),
      ),
    );
  }
  await Promise.all(sends);
  while ((await processedCount(sids.slice(-20))) < 20) await sleep(200);
  await sleep(500);
  const latencies: number[] = [];
  for (const sid of sids) {
    const row = (await (await fetch(`${baseUrl}/messages/${sid}`, { headers: auth })).json()) as {
      created_at: string;
      processed_at: string | null;
    };
    if (row.processed_at) latencies.push(Date.parse(row.processed_at) - Date.parse(row.created_at));
  }
  latencies.sort((a, b) => a - b);

  console.log(`\nbench:media on ${engine} (node ${process.version})`);
  console.log(`  service RSS idle: ${idleRss} MB`);
  console.log(
    `  20 concurrent 16 MiB photos: all stored in ${bigSeconds.toFixed(1)} s; peak RSS ${peak} MB (target ≤ 200 MB)`,
  );
  console.log(
    `  300 KB photos at 20/s for ${seconds} s: ${latencies.length}/${total} stored; webhook → stored p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms`,
  );
}

main()
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => runCleanups());
