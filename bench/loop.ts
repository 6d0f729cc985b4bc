// npm run bench:loop — the whole loop, webhook to reply, at offered rates (issue 14): an
// open-loop stream of signed WhatsApp webhooks (a share with a distinct 320×320 JPEG
// proof, the rest text) from users with active tasks, into the real service
// (`taskwire serve`, its own process), whose workers fetch each photo from a fake Twilio
// (its own process: media behind the redirect to a CDN origin, the Messages API) and send
// one reply per message back to it. Per step: ack and end-to-end (webhook sent → reply
// received by the fake) latency, replies received vs sent, exactly one reply per message,
// CPU ms per message of the service and of the run's Postgres backends; the highest rate
// the loop sustains; and pgbench's single-row INSERT rate as the machine's reference.
// See BENCHMARKS.md ("Whole loop").
//
//   npm run bench:loop -- --engine postgres --rates 100,300,1000 --seconds 10
//   npm run bench:loop -- --engine both --rates 50,100,200 --seconds 10
//   npm run bench:loop -- --earlier-posts 1000000 --rates 100,200   # item 4 of issue 14
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { TEST_ACCOUNT_SID } from '../test/helpers/twilio-webhook.js';
import type { FakeRequest, FakeResponse } from './fake-twilio-process.js';
import { createDatabase, postgresVersion } from './ingest-db.js';
import {
  type Child,
  cleanEnv,
  cleanUpOnSignals,
  cpuBetween,
  envPairs,
  exitAfterCleanup,
  freePort,
  runCommand,
  sampleCpu,
  spawnChild,
  startWatchdog,
  tempDir,
  waitForOk,
  waitForQuietMachine,
} from './ingest-processes.js';
import {
  BackendCpu,
  type RecordedReplies,
  pgbenchInsertTps,
  processCpuMs,
  recordedRepliesPglite,
  recordedRepliesPostgres,
  seedPglite,
  seedPostgres,
} from './loop-db.js';
import type { LoadRequest, LoadResponse, StepLoad } from './loop-load.js';
import { type Arrivals, type Plan, makePlan, replyTo } from './loop-plan.js';
import { compactTable, fmt, table } from './report-table.js';
import { type Rpc, forkRpc } from './rpc.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const usage = `Usage: npm run bench:loop -- [options]

  --engine E           postgres, pglite or both (default postgres)
  --rates LIST         offered webhooks per second, one step each (default 100,300,1000)
  --seconds S          seconds of load per step (default 10)
  --arrivals A         constant (evenly spaced) or poisson (default constant)
  --photo-share F      share of messages with a JPEG proof (default 0.2)
  --warmup S           a first step of S seconds at the lowest rate, shown as warm-up
                       and never counted as sustained (default 3; 0: none)
  --quiet-wait S       before each engine, wait up to S seconds for the machine to be
                       under 12% busy (default 0: do not wait)
  --drain S            after a step's last webhook, how long its replies may still take
                       for the step to count as sustained (default 2)
  --drain-max S        how long to wait for a step's last replies before the next step
                       (default 30); replies still missing then are reported
  --keep-going         run the next step even when this one's replies did not all arrive
                       within --drain-max (its backlog then spills into the next step)
  --twilio-latency MS  the fake's Messages API answers this late (default 0)
  --earlier-posts N    feed posts with proof fingerprints in the database before the run
                       (default 0; the proof check scans their hashes)
  --connections N      the load generator's connection pool (default 256)
  --pgbench-seconds S  pgbench single-row INSERT reference, seconds (default 5; 0: skip)
  --seed N             seed of the message plan and the photos (default 1)
  --dist               run dist/cli/main.js (npm run build first) instead of src/ via tsx
  --root DIR           run the service of another checkout (e.g. 'git archive HEAD' unpacked
                       next to this one's node_modules), to measure committed code only
  --service-env K=V    extra environment for the service (repeatable)
  --cpu-prof DIR       run the service with --cpu-prof, one profile per engine into DIR
  --json FILE          also write every figure as JSON
  --verbose            show the service's output as it comes`;

const { values: flags } = parseArgs({
  options: {
    engine: { type: 'string', default: 'postgres' },
    rates: { type: 'string', default: '100,300,1000' },
    seconds: { type: 'string', default: '10' },
    arrivals: { type: 'string', default: 'constant' },
    'photo-share': { type: 'string', default: '0.2' },
    warmup: { type: 'string', default: '3' },
    'quiet-wait': { type: 'string', default: '0' },
    drain: { type: 'string', default: '2' },
    'drain-max': { type: 'string', default: '30' },
    'twilio-latency': { type: 'string', default: '0' },
    'keep-going': { type: 'boolean', default: false },
    'earlier-posts': { type: 'string', default: '0' },
    connections: { type: 'string', default: '256' },
    'pgbench-seconds': { type: 'string', default: '5' },
    seed: { type: 'string', default: '1' },
    dist: { type: 'boolean', default: false },
    root: { type: 'string', default: repoRoot },
    'service-env': { type: 'string', multiple: true, default: [] },
    'cpu-prof': { type: 'string' },
    json: { type: 'string' },
    verbose: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (flags.help) {
  console.log(usage);
  process.exit(0);
}
const fail = (message: string): never => {
  console.error(`${message}\n\n${usage}`);
  process.exit(2);
};
const number = (name: string, text: string, min = 0): number => {
  const value = Number(text);
  if (!Number.isFinite(value) || value < min) fail(`--${name} must be a number ≥ ${min}`);
  return value;
};
const engines: Engine[] =
  flags.engine === 'both'
    ? ['postgres', 'pglite']
    : flags.engine === 'postgres' || flags.engine === 'pglite'
      ? [flags.engine]
      : fail('--engine is postgres, pglite or both');
const rates = flags.rates.split(',').map((text) => number('rates', text.trim(), 1));
const seconds = number('seconds', flags.seconds, 1);
const arrivals: Arrivals =
  flags.arrivals === 'poisson' || flags.arrivals === 'constant'
    ? flags.arrivals
    : fail('--arrivals is constant or poisson');
const photoShare = number('photo-share', flags['photo-share']);
const warmupSeconds = number('warmup', flags.warmup);
const quietWaitMs = number('quiet-wait', flags['quiet-wait']) * 1000;
const drainMs = number('drain', flags.drain) * 1000;
const drainMaxMs = Math.max(drainMs, number('drain-max', flags['drain-max']) * 1000);
const twilioLatencyMs = number('twilio-latency', flags['twilio-latency']);
const earlierPosts = Math.round(number('earlier-posts', flags['earlier-posts']));
const connections = Math.round(number('connections', flags.connections, 1));
const pgbenchSeconds = number('pgbench-seconds', flags['pgbench-seconds']);
const seed = Math.round(number('seed', flags.seed));
const serviceEnv = envPairs(flags['service-env']);

type Engine = 'postgres' | 'pglite';
const AUTH_TOKEN = 'bench-twilio-auth-token-0123456789abcdef';
const API_TOKEN = 'bench-api-token-0123456789abcdef';
const WEBHOOK_PATH = '/webhook/twilio';
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

// ---- cleanup, watchdog -----------------------------------------------------------------

cleanUpOnSignals();
// The bench stops by itself whatever happens: every step's load and longest drain, the
// setup of each engine (seeding a million posts included), then cleanup.
startWatchdog(
  5 * 60_000 +
    engines.length *
      (3 * 60_000 +
        quietWaitMs +
        earlierPosts / 10 +
        (rates.length + 1) * (seconds * 1000 + warmupSeconds * 1000 + drainMaxMs + 15_000)),
);

// ---- the service -----------------------------------------------------------------------

const serviceRoot = path.resolve(flags.root);
const serviceArgs = flags.dist
  ? [path.join(serviceRoot, 'dist/cli/main.js')]
  : // By URL: the service runs in its data folder, where a bare "tsx" would not resolve.
    ['--import', import.meta.resolve('tsx'), path.join(serviceRoot, 'src/cli/main.ts')];

// Only `serve` is profiled: migrate and seeding are not the loop.
const profileArgs = flags['cpu-prof']
  ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(flags['cpu-prof'])]
  : [];

const runTaskwire = (command: string, env: NodeJS.ProcessEnv, cwd: string) =>
  runCommand(process.execPath, [...serviceArgs, command], {
    cwd,
    env,
    timeoutMs: 120_000,
    name: `taskwire ${command}`,
    echo: flags.verbose,
  });

// ---- statistics ------------------------------------------------------------------------

/** Nearest-rank percentile of an ascending array (Infinity stands for "never"). */
const percentile = (sorted: number[], p: number) =>
  sorted.length === 0 ? NaN : (sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] as number);

interface StepResult {
  engine: Engine;
  rate: number;
  warmup: boolean;
  sent: number;
  acked: number;
  ackP50: number;
  ackP99: number;
  e2eP50: number;
  e2eP99: number;
  e2eMax: number;
  /** Replies received by `drain` seconds after the step's last webhook. */
  repliedInWindow: number;
  /** Messages with at least one reply by the end of the step's wait (and at the end). */
  replied: number;
  /** Messages with more than one reply at the end of the engine's run. */
  duplicated: number;
  /** Planned minus replied when the last webhook left (messages still in the loop). */
  backlogAtEnd: number;
  /** Backlog once a second during the step. */
  backlogSeries: number[];
  /** Replies per second from the step's start to its last reply. */
  processedPerSecond: number;
  serviceCpuMsPerMessage: number;
  postgresCpuMsPerMessage: number | null;
  maxDispatchLagMs: number;
  /** Share of the whole machine's CPU that was busy during the step (all processes). */
  machineBusy: number;
  failureSamples: string[];
  sustained: boolean;
  /** Reply times per message (monotonic ms), kept for the final exactly-once count. */
  tos: string[];
}

interface EngineResult {
  engine: Engine;
  steps: StepResult[];
  recorded: RecordedReplies | null;
  sustainedRate: number | null;
  setupMs: number;
  serviceExit: string;
  /** The rate after whose step the higher ones were skipped (its backlog did not clear). */
  skippedAfter: number | null;
}

// ---- one engine ------------------------------------------------------------------------

async function runEngine(
  engine: Engine,
  plan: Plan,
  fake: Rpc<FakeRequest, FakeResponse>,
  twilio: { apiBaseUrl: string; cdnBaseUrl: string; urls: string[] },
): Promise<EngineResult> {
  const setupStarted = performance.now();
  const { dir, remove: removeDir } = tempDir(`loop-${engine}`);
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = {
    ...cleanEnv(),
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    DATA_DIR: dir,
    API_TOKEN,
    TWILIO_ACCOUNT_SID: TEST_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN: AUTH_TOKEN,
    TWILIO_API_BASE_URL: twilio.apiBaseUrl,
    MEDIA_REDIRECT_ALLOWLIST: twilio.cdnBaseUrl,
    LOG_LEVEL: 'warn',
    ...serviceEnv,
  };
  let database: Awaited<ReturnType<typeof createDatabase>> | null = null;
  if (engine === 'postgres') {
    database = await createDatabase('loop');
    env.DATABASE_URL = database.url;
  }
  await runTaskwire('migrate', env, dir);
  const seeding = performance.now();
  if (database) await seedPostgres(database.url, plan.users, earlierPosts);
  else await seedPglite(dir, plan.users, earlierPosts);
  console.error(
    `  ${engine}: ${plan.users} users with an active task` +
      (earlierPosts > 0 ? `, ${earlierPosts} earlier posts` : '') +
      ` in ${((performance.now() - seeding) / 1000).toFixed(1)} s`,
  );

  const service: Child = spawnChild(
    `taskwire ${engine}`,
    process.execPath,
    [...profileArgs, ...serviceArgs, 'serve'],
    {
      cwd: dir,
      env,
      echo: flags.verbose,
    },
  );
  await waitForOk(`${origin}/ready`, { timeoutMs: 120_000, child: service });
  const backends = database ? await BackendCpu.open(database.name) : null;
  const load = forkRpc<LoadRequest, LoadResponse>('load generator', 'bench/loop-load.ts');
  await load.call({
    type: 'prepare',
    origin,
    path: WEBHOOK_PATH,
    authToken: AUTH_TOKEN,
    accountSid: TEST_ACCOUNT_SID,
    plan,
    mediaUrls: twilio.urls,
    connections,
  });
  await fake.call({ type: 'reset' });
  const setupMs = performance.now() - setupStarted;

  const steps: StepResult[] = [];
  let skippedAfter: number | null = null;
  for (const [index, step] of plan.steps.entries()) {
    const tos = step.messages.map(replyTo);
    await fake.call({ type: 'expect', tos });
    const progressOf = async () => {
      const answer = await fake.call({ type: 'progress' });
      return answer.type === 'progress' ? answer : { replied: 0, total: 0 };
    };
    const progress = async () => (await progressOf()).replied;
    console.error(`  ${engine} at ${step.rate}/s: ${step.messages.length} webhooks…`);
    const machineStart = sampleCpu(null);
    const cpuStart = processCpuMs(service.pid);
    const repliesStart = (await progressOf()).total;
    const pgStart = (await backends?.sample()) ?? null;
    const started = nowMs();
    // The backlog once a second while the load runs: planned so far minus replied.
    const backlogSeries: number[] = [];
    let loading = true;
    const watcher = (async () => {
      for (let second = 1; loading; second += 1) {
        await sleep(Math.max(0, started + second * 1000 - nowMs()));
        if (!loading) break;
        const planned = step.messages.filter((m) => m.at <= second * 1000).length;
        backlogSeries.push(planned - (await progress()));
      }
    })();
    const answer = await load.call({ type: 'run', step: index }, step.seconds * 1000 + 180_000);
    loading = false;
    await watcher;
    if (answer.type !== 'ran') throw new Error('the load generator did not run the step');
    const sent: StepLoad = answer.load;
    const lastSent = Math.max(...sent.sentAt);
    const backlogAtEnd = step.messages.length - (await progress());
    // Wait for the step's replies: all of them, or until drain-max after its last webhook.
    let replied = await progress();
    while (replied < step.messages.length && nowMs() < lastSent + drainMaxMs) {
      await sleep(100);
      replied = await progress();
    }
    const cpuEnd = processCpuMs(service.pid);
    // CPU per reply sent in the window, whichever step's message it answered.
    const repliesInCpuWindow = Math.max(1, (await progressOf()).total - repliesStart);
    const machineEnd = sampleCpu(null);
    const pgEnd = (await backends?.sample()) ?? null;
    const dump = await fake.call({ type: 'dump', tos });
    const times = dump.type === 'dump' ? dump.times : [];
    const e2e = times
      .map((replyTimes, i) =>
        replyTimes.length > 0 ? (replyTimes[0] as number) - (sent.sentAt[i] as number) : Infinity,
      )
      .sort((a, b) => a - b);
    const firstReplies = times.flatMap((replyTimes) => replyTimes.slice(0, 1));
    const lastReply = firstReplies.length > 0 ? Math.max(...firstReplies) : started;
    const acks = sent.ackMs
      .filter((ms, i) => ms >= 0 && sent.status[i] === 200)
      .sort((a, b) => a - b);
    const repliedInWindow = firstReplies.filter((at) => at <= lastSent + drainMs).length;
    const result: StepResult = {
      engine,
      rate: step.rate,
      warmup: step.warmup,
      sent: step.messages.length,
      acked: acks.length,
      ackP50: percentile(acks, 0.5),
      ackP99: percentile(acks, 0.99),
      e2eP50: percentile(e2e, 0.5),
      e2eP99: percentile(e2e, 0.99),
      e2eMax: e2e[e2e.length - 1] ?? NaN,
      repliedInWindow,
      replied: firstReplies.length,
      duplicated: 0,
      backlogAtEnd,
      backlogSeries,
      processedPerSecond: firstReplies.length / Math.max(0.001, (lastReply - started) / 1000),
      serviceCpuMsPerMessage: (cpuEnd - cpuStart) / repliesInCpuWindow,
      postgresCpuMsPerMessage:
        pgStart && pgEnd ? BackendCpu.between(pgStart, pgEnd) / repliesInCpuWindow : null,
      maxDispatchLagMs: sent.maxDispatchLagMs,
      machineBusy: cpuBetween(machineStart, machineEnd).machineBusy,
      failureSamples: sent.failureSamples,
      sustained: false,
      tos,
    };
    steps.push(result);
    console.error(
      `    ${result.replied}/${result.sent} replied (${repliedInWindow} within ${drainMs / 1000} s), ` +
        `e2e p50 ${fmtMs(result.e2eP50)} p99 ${fmtMs(result.e2eP99)}`,
    );
    // A backlog left over would be counted against the next, higher rate: stop here.
    if (replied < step.messages.length && !flags['keep-going']) {
      skippedAfter = step.rate;
      break;
    }
  }

  // Exactly once: a moment for any late second reply, then every message's replies counted.
  await sleep(1_000);
  for (const step of steps) {
    const dump = await fake.call({ type: 'dump', tos: step.tos });
    const times = dump.type === 'dump' ? dump.times : [];
    step.duplicated = times.filter((replyTimes) => replyTimes.length > 1).length;
    step.replied = times.filter((replyTimes) => replyTimes.length > 0).length;
    step.sustained =
      !step.warmup &&
      step.acked === step.sent &&
      step.repliedInWindow >= 0.99 * step.sent &&
      step.e2eP99 <= 1000 &&
      step.duplicated === 0;
  }
  await backends?.close();
  load.child.kill();
  let recorded: RecordedReplies | null = null;
  const stepSids = steps.map((_, index) => plan.steps[index]?.messages.map((m) => m.sid) ?? []);
  if (database) {
    recorded = await recordedRepliesPostgres(database.url, stepSids).catch(() => null);
  }
  const serviceExit = await service.stop();
  if (!database) recorded = await recordedRepliesPglite(dir, stepSids).catch(() => null);
  await database?.drop();
  await removeDir();
  const sustainedSteps = steps.filter((step) => step.sustained);
  return {
    engine,
    steps,
    recorded,
    sustainedRate:
      sustainedSteps.length > 0 ? Math.max(...sustainedSteps.map((s) => s.rate)) : null,
    setupMs,
    serviceExit,
    skippedAfter,
  };
}

// ---- output ----------------------------------------------------------------------------

function fmtMs(ms: number): string {
  if (ms === Infinity) return 'never';
  if (!Number.isFinite(ms)) return '–';
  return ms >= 1000 ? `${fmt(ms / 1000, 1)} s` : `${fmt(ms, ms < 10 ? 1 : 0)} ms`;
}

const headers = [
  'engine',
  'offered/s',
  'acked',
  'ack p50 / p99',
  'e2e p50 / p99 / max',
  `replied ≤ ${drainMs / 1000} s after`,
  'replied, duplicates',
  'backlog at end',
  'processed/s',
  'CPU ms/msg service',
  'CPU ms/msg postgres',
  'machine busy',
  'sustained',
];

const rowOf = (step: StepResult): string[] => [
  step.engine,
  step.warmup ? `${fmt(step.rate)} (warm-up)` : fmt(step.rate),
  `${fmt(step.acked)}/${fmt(step.sent)}`,
  `${fmtMs(step.ackP50)} / ${fmtMs(step.ackP99)}`,
  `${fmtMs(step.e2eP50)} / ${fmtMs(step.e2eP99)} / ${fmtMs(step.e2eMax)}`,
  `${fmt(step.repliedInWindow)}/${fmt(step.sent)}`,
  `${fmt(step.replied)}, ${fmt(step.duplicated)}`,
  fmt(step.backlogAtEnd),
  fmt(step.processedPerSecond),
  fmt(step.serviceCpuMsPerMessage, 2),
  step.postgresCpuMsPerMessage === null ? '– (in-process)' : fmt(step.postgresCpuMsPerMessage, 2),
  `${fmt(step.machineBusy * 100)}%`,
  step.warmup ? '–' : step.sustained ? 'yes' : 'no',
];

function describeRun(pgVersion: string, pgbenchTps: number | null): string[] {
  const git = (args: string[]) => {
    try {
      return execFileSync('git', args, {
        cwd: serviceRoot,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
    } catch {
      return '?';
    }
  };
  const status = git(['status', '--porcelain', 'src']);
  const dirty = status === '?' ? 0 : status.split('\n').filter(Boolean).length;
  return [
    `machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), Node ${process.version}, ${pgVersion}; ` +
      `load average at start ${loadavg()
        .map((v) => v.toFixed(2))
        .join(' ')}`,
    `taskwire ${serviceRoot} at ${git(['rev-parse', '--short', 'HEAD'])}${dirty > 0 ? ` + ${dirty} uncommitted file(s) in src/` : ''}, ` +
      (flags.dist ? 'dist/cli/main.js' : 'src/ via tsx'),
    `settings: rates ${rates.join(',')}/s × ${seconds} s, ${arrivals} arrivals, ${Math.round(photoShare * 100)}% photos, ` +
      `warm-up ${warmupSeconds} s, drain ${drainMs / 1000} s (max ${drainMaxMs / 1000} s), Twilio latency ${twilioLatencyMs} ms, ` +
      `${earlierPosts} earlier posts` +
      (Object.keys(serviceEnv).length > 0 ? `, service env ${JSON.stringify(serviceEnv)}` : ''),
    `pgbench single-row INSERT (10 clients, ${pgbenchSeconds} s): ${pgbenchTps === null ? 'skipped' : `${fmt(pgbenchTps)} tps`}`,
  ];
}

// ---- main ------------------------------------------------------------------------------

async function main(): Promise<number> {
  const pgVersion = await postgresVersion();
  const { dir: scratch } = tempDir('loop');
  let pgbenchTps: number | null = null;
  if (pgbenchSeconds > 0) {
    console.error(`pgbench single-row INSERT for ${pgbenchSeconds} s…`);
    pgbenchTps = await pgbenchInsertTps(pgbenchSeconds, scratch);
  }

  const plan = makePlan({ rates, seconds, warmupSeconds, photoShare, arrivals, seed });
  const fake = forkRpc<FakeRequest, FakeResponse>('fake Twilio', 'bench/fake-twilio-process.ts');
  const ready = await fake.call(
    {
      type: 'start',
      accountSid: TEST_ACCOUNT_SID,
      authToken: AUTH_TOKEN,
      latencyMs: twilioLatencyMs,
      media: plan.media,
    },
    300_000,
  );
  if (ready.type !== 'ready') throw new Error('the fake Twilio did not start');
  console.error(
    `fake Twilio on ${ready.apiBaseUrl} (CDN ${ready.cdnBaseUrl}): ${ready.urls.length} JPEGs ` +
      `(${fmt(ready.jpegBytes.min / 1024)}–${fmt(ready.jpegBytes.max / 1024)} KiB) in ${fmt(ready.makeMs / 1000, 1)} s`,
  );

  const results: EngineResult[] = [];
  let failures = 0;
  for (const engine of engines) {
    if (quietWaitMs > 0) {
      const busy = await waitForQuietMachine(quietWaitMs);
      if (busy >= 0.12)
        console.error(`  the machine is still ${fmt(busy * 100)}% busy; running anyway`);
    }
    try {
      results.push(await runEngine(engine, plan, fake, ready));
    } catch (error) {
      failures += 1;
      console.error(`${engine} failed: ${(error as Error).stack ?? String(error)}`);
    }
  }

  const about = describeRun(pgVersion, pgbenchTps);
  const rows = results.flatMap((result) => result.steps.map(rowOf));
  const verdicts = results.map((result) => {
    const retried = (result.recorded?.retried ?? []).map(
      (r) =>
        `${r.n} ${r.queue} ${r.status} after ${r.attempts} attempts${r.error ? ` (${r.error})` : ''}`,
    );
    const recorded = result.recorded
      ? `database: ${result.recorded.inbound} inbound, ${result.recorded.processed} processed, ` +
        `${result.recorded.replies} replies recorded, at most ${result.recorded.maxRepliesPerMessage} per message` +
        (retried.length > 0 ? `; retried or unsent: ${retried.join(', ')}` : '')
      : 'database: not read';
    const skipped =
      result.skippedAfter === null
        ? ''
        : `; higher steps skipped: the ${result.skippedAfter}/s step's replies had not all arrived ${drainMaxMs / 1000} s after its last webhook`;
    return (
      `${result.engine}: sustained ${result.sustainedRate === null ? 'none of the steps' : `${result.sustainedRate}/s`} ` +
      `(replies within ${drainMs / 1000} s ≥ 99%, e2e p99 ≤ 1 s, one reply each); ${recorded}; service ${result.serviceExit}${skipped}`
    );
  });
  console.log(`\n${about.join('\n')}\n`);
  console.log(table(headers, rows));
  console.log(`\n${verdicts.join('\n')}`);
  for (const result of results) {
    for (const step of result.steps) {
      console.log(
        `${result.engine} ${step.rate}/s: backlog each second ${step.backlogSeries.join(' ')}; ` +
          `latest dispatch ${fmt(step.maxDispatchLagMs, 1)} ms behind plan` +
          (step.failureSamples.length > 0 ? `; failures: ${step.failureSamples.join(' | ')}` : ''),
      );
    }
  }
  const stageRows = results.flatMap((result) =>
    result.steps.flatMap((step, index) =>
      (result.recorded?.stages[index] ?? []).map((stage) => [
        result.engine,
        step.warmup ? `${fmt(step.rate)} (warm-up)` : fmt(step.rate),
        stage.photo ? 'photo' : 'text',
        fmt(stage.count),
        `${fmtMs(stage.queuedP50)} / ${fmtMs(stage.queuedP99)}`,
        `${fmtMs(stage.sendingP50)} / ${fmtMs(stage.sendingP99)}`,
      ]),
    ),
  );
  const stageHeaders = [
    'engine',
    'offered/s',
    'message',
    'replied',
    'stored → processing p50 / p99',
    'processing → sent p50 / p99',
  ];
  if (stageRows.length > 0) {
    console.log(
      '\nWhere the time goes (the database clock; see StageTimes in bench/loop-db.ts):\n',
    );
    console.log(table(stageHeaders, stageRows));
  }
  console.log('\nFor BENCHMARKS.md:\n');
  console.log(
    [
      '```text',
      ...about,
      '```',
      '',
      compactTable(headers, rows),
      '',
      ...verdicts.map((line) => `- ${line}`),
      '',
      compactTable(stageHeaders, stageRows),
    ].join('\n'),
  );
  if (flags.json) {
    const slim = results.map((result) => ({
      ...result,
      steps: result.steps.map(({ tos: _tos, ...rest }) => rest),
    }));
    writeFileSync(flags.json, JSON.stringify({ about, pgbenchTps, results: slim }, null, 2));
  }
  const broken = results.some((result) =>
    result.steps.some((step) => step.duplicated > 0 || step.acked < step.sent),
  );
  return failures > 0 || broken ? 1 : 0;
}

main().then(
  (code) => exitAfterCleanup(code),
  (error: unknown) => {
    console.error(error);
    return exitAfterCleanup(1);
  },
);
