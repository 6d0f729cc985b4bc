// npm run bench:junk — does junk posted to the webhook by anyone who knows its URL slow the
// legitimate webhooks down? Starts Taskwire (from source, through tsx) and sends signed
// webhooks at a steady rate: first alone, then while 1 MiB unsigned junk bodies arrive at
// 50/s on connections of their own. Prints the legitimate webhooks' latency in both phases
// and what the junk got back. A measurement, not a test: see BENCHMARKS.md.
//
//   npm run bench:junk -- --duration 10 --rate 50 --junk-rate 50 --junk-size 1048576
//   npm run bench:junk -- --root /tmp/taskwire-before    # another checkout, to compare
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { getExpectedTwilioSignature } from 'twilio/lib/webhooks/webhooks.js';
import { Pool } from 'undici';
import { variables } from '../src/config/variables.js';
import { createDatabase } from './ingest-db.js';
import {
  type CpuSample,
  cpuBetween,
  freePort,
  onCleanup,
  runCleanups,
  sampleCpu,
  spawnChild,
  waitForOk,
} from './ingest-processes.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const AUTH_TOKEN = 'bench-twilio-auth-token-0123456789abcdef';

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    rate: { type: 'string', default: '50' },
    'junk-rate': { type: 'string', default: '50' },
    'junk-size': { type: 'string', default: String(1024 * 1024) },
    database: { type: 'string', default: 'postgres' },
    root: { type: 'string', default: repoRoot },
    verbose: { type: 'boolean', default: false },
  },
});
const durationMs = Number(flags.duration) * 1000;
const warmupMs = Number(flags.warmup) * 1000;
const rate = Number(flags.rate);
const junkRate = Number(flags['junk-rate']);
const junkSize = Number(flags['junk-size']);
const root = path.resolve(flags.root);
if (flags.database !== 'postgres' && flags.database !== 'pglite') {
  throw new Error('--database is postgres or pglite');
}

/** A signed inbound WhatsApp webhook, as Twilio posts it. */
function signedWebhook(url: string): { body: string; signature: string } {
  const sid = `SM${randomBytes(16).toString('hex')}`;
  const params: Record<string, string> = {
    MessageSid: sid,
    SmsMessageSid: sid,
    AccountSid: `AC${'a1'.repeat(16)}`,
    From: 'whatsapp:+15551234567',
    To: 'whatsapp:+14155238886',
    Body: 'Gym done',
    NumMedia: '0',
    ProfileName: 'Ada',
    WaId: '15551234567',
  };
  return {
    body: new URLSearchParams(params).toString(),
    signature: getExpectedTwilioSignature(AUTH_TOKEN, url, params),
  };
}

interface PhaseResult {
  name: string;
  latencies: number[];
  legitStatus: Record<string, number>;
  junkStatus: Record<string, number>;
  /** Milliseconds from sending a junk post to its answer (or error). */
  junkLatencies: number[];
  cpu: ReturnType<typeof cpuBetween>;
}

const count = (counts: Record<string, number>, key: string) => {
  counts[key] = (counts[key] ?? 0) + 1;
};

/** One junk post on a connection of its own: what came back (a status, or the error). */
function postJunk(origin: string, junk: Buffer): Promise<string> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: string) => {
      if (settled) return;
      settled = true;
      resolve(outcome);
      request.destroy();
    };
    const request = httpRequest(`${origin}/webhook/twilio`, {
      method: 'POST',
      agent: false,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': String(junk.length),
        'x-twilio-signature': 'bm90IGEgc2lnbmF0dXJl',
      },
      timeout: 15_000,
    });
    request.on('response', (response) => {
      response.resume();
      response.on('end', () => finish(String(response.statusCode)));
    });
    request.on('error', (error: NodeJS.ErrnoException) => finish(error.code ?? 'error'));
    request.on('timeout', () => finish('timeout'));
    request.end(junk);
  });
}

async function runPhase(
  name: string,
  origin: string,
  pool: Pool,
  ms: number,
  withJunk: boolean,
  serverPid: number,
): Promise<PhaseResult> {
  const url = `${origin}/webhook/twilio`;
  const latencies: number[] = [];
  const legitStatus: Record<string, number> = {};
  const junkStatus: Record<string, number> = {};
  const junkLatencies: number[] = [];
  const junk = Buffer.from('Body='.padEnd(junkSize, 'x'));
  const inFlight: Promise<void>[] = [];
  const started = performance.now();
  const cpuStart: CpuSample = sampleCpu(serverPid);

  // Open loop: the next request leaves at its time whether or not the last one answered,
  // so a slow server shows as latency instead of as fewer requests.
  const schedule = async (perSecond: number, send: () => Promise<void>) => {
    for (let index = 0; ; index += 1) {
      const at = started + (index * 1000) / perSecond;
      if (at - started >= ms) return;
      const wait = at - performance.now();
      if (wait > 0) await sleep(wait);
      inFlight.push(send());
    }
  };
  const legit = schedule(rate, async () => {
    const { body, signature } = signedWebhook(url);
    const sentAt = performance.now();
    try {
      const response = await pool.request({
        path: '/webhook/twilio',
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-twilio-signature': signature,
        },
        body,
      });
      await response.body.dump();
      latencies.push(performance.now() - sentAt);
      count(legitStatus, String(response.statusCode));
    } catch (error) {
      count(legitStatus, (error as NodeJS.ErrnoException).code ?? 'error');
    }
  });
  const junkLoop = withJunk
    ? schedule(junkRate, async () => {
        const sentAt = performance.now();
        const outcome = await postJunk(origin, junk);
        junkLatencies.push(performance.now() - sentAt);
        count(junkStatus, outcome);
      })
    : Promise.resolve();
  await Promise.all([legit, junkLoop]);
  await Promise.all(inFlight);
  return {
    name,
    latencies,
    legitStatus,
    junkStatus,
    junkLatencies,
    cpu: cpuBetween(cpuStart, sampleCpu(serverPid)),
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? NaN;
}

function printResults(results: PhaseResult[]): void {
  const fmt = (value: number, digits = 1) => value.toFixed(digits);
  const summary = (counts: Record<string, number>) =>
    Object.entries(counts)
      .map(([key, value]) => `${key}×${value}`)
      .join(', ') || '–';
  console.log(
    '| phase | legit answers | p50 ms | p90 ms | p99 ms | max ms | junk answers | junk answered, p50 ms | server CPU (cores) |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const result of results) {
    const sorted = result.latencies.slice().sort((a, b) => a - b);
    const junkSorted = result.junkLatencies.slice().sort((a, b) => a - b);
    console.log(
      `| ${result.name} | ${summary(result.legitStatus)} | ${fmt(percentile(sorted, 0.5))} | ` +
        `${fmt(percentile(sorted, 0.9))} | ${fmt(percentile(sorted, 0.99))} | ` +
        `${fmt(sorted[sorted.length - 1] ?? NaN)} | ${summary(result.junkStatus)} | ` +
        `${junkSorted.length > 0 ? fmt(percentile(junkSorted, 0.5)) : '–'} | ${fmt(result.cpu.server, 2)} |`,
    );
  }
}

async function main(): Promise<void> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'taskwire-bench-junk-'));
  onCleanup(`remove ${dataDir}`, () => rmSync(dataDir, { recursive: true, force: true }));
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const variable of variables) delete env[variable.name];
  if (flags.database === 'postgres') env.DATABASE_URL = (await createDatabase('junk')).url;
  const child = spawnChild(
    'taskwire',
    process.execPath,
    ['--import', 'tsx', path.join(root, 'src/cli/main.ts'), 'serve'],
    {
      cwd: root,
      echo: flags.verbose,
      env: {
        ...env,
        NODE_ENV: 'production',
        HOST: '127.0.0.1',
        PORT: String(port),
        DATA_DIR: dataDir,
        TWILIO_AUTH_TOKEN: AUTH_TOKEN,
        API_TOKEN: 'bench-api-token-0123456789abcdef',
        LOG_LEVEL: 'error',
        TWILIO_API_BASE_URL: 'http://127.0.0.1:9',
      },
    },
  );
  await waitForOk(`${origin}/ready`, { timeoutMs: 120_000, child });
  console.error(`Taskwire (${root}, ${flags.database}) pid ${child.pid} on ${origin}`);
  const pool = new Pool(origin, { connections: 8, pipelining: 1 });
  try {
    await runPhase('warm-up', origin, pool, warmupMs, false, child.pid);
    const results = [
      await runPhase(`legit ${rate}/s alone`, origin, pool, durationMs, false, child.pid),
      await runPhase(
        `legit ${rate}/s + junk ${junkRate}/s × ${fmt(junkSize)}`,
        origin,
        pool,
        durationMs,
        true,
        child.pid,
      ),
    ];
    printResults(results);
  } finally {
    await pool.close();
    await child.stop();
  }
}

function fmt(bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / 1024 / 1024} MiB` : `${bytes} B`;
}

try {
  await main();
} finally {
  await runCleanups();
}
