// npm run bench:ingest — webhook ingest throughput, latency and durability of Taskwire
// (on Postgres and on embedded PGlite) against a bare node:http + pg reference and an
// Express 5 + twilio.webhook() peer, all writing the same `messages` table; plus the time
// from `npm start` to a healthy service. See BENCHMARKS.md for how to read the output.
//
//   npm run bench:ingest -- --concurrency 50 --duration 10 \
//     --only bare,express,postgres,pglite,postgres-ingest,pglite-ingest,startup
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  type StoredMessages,
  applyInitialMigration,
  checkpoint,
  createDatabase,
  postgresVersion,
  countProcessedPostgres,
  readStoredPglite,
  readStoredPostgres,
} from './ingest-db.js';
import {
  type Child,
  cleanEnv,
  cleanUpOnSignals,
  envPairs,
  exitAfterCleanup,
  forkTsx,
  freePort,
  runCleanups,
  runCommand,
  spawnChild,
  startWatchdog,
  tempDir,
  waitForOk,
  waitForQuietMachine,
} from './ingest-processes.js';
import { type LoadResult, type LoadSpec, runLoad } from './load-generator.js';
import { fmt, table } from './report-table.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const contenderNames = [
  'bare',
  'express',
  'postgres',
  'pglite',
  'postgres-ingest',
  'pglite-ingest',
] as const;
type ContenderName = (typeof contenderNames)[number];
const labels: Record<ContenderName, string> = {
  bare: 'bare node:http + pg (reference)',
  express: 'Express 5 + twilio.webhook() + pg',
  postgres: 'Taskwire on Postgres',
  pglite: 'Taskwire on PGlite',
  'postgres-ingest': 'Taskwire on Postgres, RUN_WORKERS=false',
  'pglite-ingest': 'Taskwire on PGlite, RUN_WORKERS=false',
};
// The -ingest contenders run a web-only instance (no workers in the process): ingest
// against ingest, as the references do; the targets are judged on the default ones.
const ingestOnlyEnv = { RUN_WORKERS: 'false' };

const usage = `Usage: npm run bench:ingest -- [options]

  --concurrency N     concurrent senders (default 50)
  --duration S        timed seconds per contender (default 10)
  --warmup S          warm-up seconds per contender, not counted (default 2)
  --only LIST         comma-separated: bare,express,postgres,pglite,postgres-ingest,
                      pglite-ingest,startup (default: all); the -ingest ones run
                      Taskwire with RUN_WORKERS=false
  --loadgen MODE      child: the load generator runs in a process of its own (default);
                      parent: in this process
  --pool-size N       Postgres connections of every server (default 10, Taskwire's default)
  --max-rate N        requests prepared per second of run (default 25000)
  --startup-runs N    how often "npm start → healthy" is measured (default 3)
  --rounds N          run every contender N times, interleaved; targets use the medians
                      (default 1; use 3+ on a machine that is not quiet)
  --quiet-wait S      before each contender, wait up to S seconds for the machine to be
                      under 12% busy (default 0: do not wait)
  --drain S           Taskwire on Postgres: keep it running up to S seconds after the load
                      and report how fast its workers process the backlog (default 0)
  --seed N            seed of the request stream (default 1)
  --skip-build        use dist/ as it is instead of rebuilding it first
  --taskwire-root DIR benchmark the Taskwire build in another checkout (experiments)
  --taskwire-env K=V  extra environment for the Taskwire servers (repeatable)
  --cpu-prof DIR      run the Taskwire servers with --cpu-prof, profiles into DIR
  --json FILE         also write every result as JSON
  --verbose           show the servers' own output as it comes`;

const { values: flags } = parseArgs({
  options: {
    concurrency: { type: 'string', default: '50' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    only: {
      type: 'string',
      default: 'bare,express,postgres,pglite,postgres-ingest,pglite-ingest,startup',
    },
    loadgen: { type: 'string', default: 'child' },
    'pool-size': { type: 'string', default: '10' },
    'max-rate': { type: 'string', default: '25000' },
    'startup-runs': { type: 'string', default: '3' },
    rounds: { type: 'string', default: '1' },
    'quiet-wait': { type: 'string', default: '0' },
    drain: { type: 'string', default: '0' },
    seed: { type: 'string', default: '1' },
    'skip-build': { type: 'boolean', default: false },
    'taskwire-root': { type: 'string' },
    'taskwire-env': { type: 'string', multiple: true, default: [] },
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

const positiveNumber = (name: string, text: string): number => {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`--${name} must be a positive number, got "${text}"\n\n${usage}`);
    process.exit(2);
  }
  return value;
};

const concurrency = Math.round(positiveNumber('concurrency', flags.concurrency));
const durationMs = positiveNumber('duration', flags.duration) * 1000;
const warmupMs = Number(flags.warmup) * 1000;
const poolSize = Math.round(positiveNumber('pool-size', flags['pool-size']));
const maxRate = positiveNumber('max-rate', flags['max-rate']);
const startupRuns = Math.round(positiveNumber('startup-runs', flags['startup-runs']));
const rounds = Math.round(positiveNumber('rounds', flags.rounds));
const quietWaitMs = Number(flags['quiet-wait']) * 1000;
const drainMs = Number(flags.drain) * 1000;
const seed = Math.round(Number(flags.seed));
const only = new Set(flags.only.split(',').map((name) => name.trim()));
for (const name of only) {
  if (!(contenderNames as readonly string[]).includes(name) && name !== 'startup') {
    console.error(`--only: unknown name "${name}"\n\n${usage}`);
    process.exit(2);
  }
}
if (flags.loadgen !== 'child' && flags.loadgen !== 'parent') {
  console.error(`--loadgen must be child or parent\n\n${usage}`);
  process.exit(2);
}
const taskwireRoot = path.resolve(flags['taskwire-root'] ?? repoRoot);
const taskwireMain = path.join(taskwireRoot, 'dist/cli/main.js');
const taskwireExtraEnv = envPairs(flags['taskwire-env']);

const AUTH_TOKEN = 'bench-twilio-auth-token-0123456789abcdef';
// Nothing leaves the machine: the REST API origin (media downloads, replies) is a closed
// loopback port, so media URLs on api.twilio.com are refused before any request is made.
const LOOPBACK_TWILIO_API = 'http://127.0.0.1:9';
const API_TOKEN = 'bench-api-token-0123456789abcdef';
const WEBHOOK_PATH = '/webhook/twilio';

// ---- cleanup on every way out ------------------------------------------------------------

cleanUpOnSignals();

// The bench ends on its own whatever happens: a generous budget, then cleanup and exit.
startWatchdog(
  10 * 60_000 +
    rounds * 4 * (warmupMs + durationMs + quietWaitMs + 3 * 60_000) +
    startupRuns * 90_000,
);

// ---- helpers -----------------------------------------------------------------------------

function startTaskwire(name: string, port: number, env: NodeJS.ProcessEnv, cwd: string): Child {
  const execArgv = flags['cpu-prof']
    ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(flags['cpu-prof'])]
    : [];
  return spawnChild(name, process.execPath, [...execArgv, taskwireMain, 'serve'], {
    cwd,
    echo: flags.verbose,
    env: {
      ...cleanEnv(),
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      API_TOKEN,
      LOG_LEVEL: 'warn',
      DATABASE_POOL_SIZE: String(poolSize),
      TWILIO_API_BASE_URL: LOOPBACK_TWILIO_API,
      ...env,
      ...taskwireExtraEnv,
    },
  });
}

async function runLoadSomewhere(spec: LoadSpec): Promise<LoadResult> {
  if (flags.loadgen === 'parent') return runLoad(spec);
  const { child, kill } = forkTsx(
    'load generator',
    path.join(repoRoot, 'bench/load-generator.ts'),
    repoRoot,
  );
  try {
    return await new Promise<LoadResult>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('the load generator did not finish in time')),
        spec.warmupMs + spec.durationMs + 120_000,
      );
      child.once('message', (result) => {
        clearTimeout(timer);
        resolve(result as LoadResult);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the load generator exited (${code}) without a result`));
      });
      child.send(spec);
    });
  } finally {
    await kill();
  }
}

interface DurabilityCheck {
  ackedSids: number;
  rows: number;
  duplicateRows: number;
  ackedMissing: number;
  forgedStored: number;
  /** Rows nobody was told about (a request failed after its commit); 0 in a clean run. */
  unackedRows: number;
  /** Rows the workers had processed by shutdown. */
  processed: number;
  ok: boolean;
}

function checkDurability(load: LoadResult, stored: StoredMessages): DurabilityCheck {
  const ackedMissing = load.ackedSids.filter((sid) => !stored.sids.has(sid)).length;
  const forgedStored = load.forgedSids.filter((sid) => stored.sids.has(sid)).length;
  const duplicateRows = stored.rows - stored.distinctSids;
  const unackedRows = stored.distinctSids - (load.ackedSids.length - ackedMissing);
  return {
    ackedSids: load.ackedSids.length,
    rows: stored.rows,
    duplicateRows,
    ackedMissing,
    forgedStored,
    unackedRows,
    processed: stored.processed,
    ok:
      ackedMissing === 0 &&
      duplicateRows === 0 &&
      forgedStored === 0 &&
      stored.rows === load.ackedSids.length,
  };
}

interface ContenderResult {
  name: ContenderName;
  round: number;
  label: string;
  load: LoadResult;
  durability: DurabilityCheck;
  stopped: string;
  /** --drain: how the workers worked off the backlog once the load stopped (Postgres). */
  drain?: DrainResult;
}

interface DrainResult {
  ms: number;
  /** Processed rows when the load stopped, and when the drain ended. */
  before: number;
  after: number;
  rows: number;
}

/**
 * After the load, the server keeps running for up to `drainMs` while its workers process
 * what was stored; ends early once every row is processed.
 */
async function watchDrain(url: string): Promise<DrainResult> {
  const started = performance.now();
  const first = await countProcessedPostgres(url);
  let last = first;
  while (performance.now() - started < drainMs && last.processed < last.rows) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    last = await countProcessedPostgres(url);
  }
  return {
    ms: performance.now() - started,
    before: first.processed,
    after: last.processed,
    rows: last.rows,
  };
}

async function runContender(
  name: ContenderName,
  index: number,
  round: number,
): Promise<ContenderResult> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  let child: Child;
  let readStored: () => Promise<StoredMessages>;
  let release: () => Promise<void>;
  let drainUrl: string | null = null;

  if (name === 'bare' || name === 'express') {
    const db = await createDatabase(name);
    await applyInitialMigration(db.url, repoRoot);
    child = spawnChild(
      name,
      process.execPath,
      ['--import', 'tsx', path.join(repoRoot, `bench/reference-${name}.ts`)],
      {
        cwd: repoRoot,
        echo: flags.verbose,
        env: {
          ...cleanEnv(),
          NODE_ENV: 'production',
          PORT: String(port),
          DATABASE_URL: db.url,
          TWILIO_AUTH_TOKEN: AUTH_TOKEN,
          POOL_SIZE: String(poolSize),
        },
      },
    );
    await waitForOk(`${origin}/health`, { timeoutMs: 60_000, child });
    readStored = () => readStoredPostgres(db.url);
    release = db.drop;
  } else if (name === 'postgres' || name === 'postgres-ingest') {
    const db = await createDatabase('taskwire');
    const { dir, remove } = tempDir(name);
    const extra = name === 'postgres-ingest' ? ingestOnlyEnv : {};
    child = startTaskwire(name, port, { DATABASE_URL: db.url, DATA_DIR: dir, ...extra }, dir);
    await waitForOk(`${origin}/ready`, { timeoutMs: 60_000, child });
    readStored = () => readStoredPostgres(db.url);
    if (name === 'postgres') drainUrl = db.url;
    release = async () => {
      await db.drop();
      await remove();
    };
  } else {
    const { dir, remove } = tempDir(name);
    const extra = name === 'pglite-ingest' ? ingestOnlyEnv : {};
    child = startTaskwire(name, port, { DATA_DIR: dir, ...extra }, dir);
    await waitForOk(`${origin}/ready`, { timeoutMs: 120_000, child });
    readStored = () => readStoredPglite(path.join(dir, 'pglite'));
    release = remove;
  }

  await checkpoint();
  if (quietWaitMs > 0) {
    const busy = await waitForQuietMachine(quietWaitMs);
    if (busy >= 0.12)
      console.error(`  the machine is still ${fmt(busy * 100, 0)}% busy; running anyway`);
  }
  console.error(`  ${labels[name]}: ${child.name} pid ${child.pid} on ${origin}, running…`);
  const load = await runLoadSomewhere({
    origin,
    path: WEBHOOK_PATH,
    authToken: AUTH_TOKEN,
    concurrency,
    warmupMs,
    durationMs,
    maxRate,
    seed: seed * 1000 + round * 10 + index,
    serverPid: child.pid,
  });
  const drain = drainMs > 0 && drainUrl ? await watchDrain(drainUrl) : undefined;
  // Stop first: what we count afterwards is what survived a graceful shutdown.
  const stopped = await child.stop();
  const stored = await readStored();
  await release();
  const durability = checkDurability(load, stored);
  const label = rounds > 1 ? `${labels[name]} #${round}` : labels[name];
  return { name, round, label, load, durability, stopped, drain };
}

interface StartupResult {
  healthMs: number[];
  readyMs: number[];
}

/**
 * "npm start → healthy": `node dist/cli/main.js serve` in an empty folder with no
 * configuration at all (embedded PGlite, generated development secrets in ./data), timed
 * from spawn until /health and then /ready answer 200. PORT and HOST only keep it on a
 * free loopback port, TWILIO_API_BASE_URL keeps any Twilio call on the machine.
 */
async function measureStartup(runs: number): Promise<StartupResult> {
  const result: StartupResult = { healthMs: [], readyMs: [] };
  for (let run = 0; run < runs; run += 1) {
    const { dir: cwd, remove } = tempDir('startup');
    const port = await freePort();
    const started = performance.now();
    const child = spawnChild('startup', process.execPath, [taskwireMain, 'serve'], {
      cwd,
      env: {
        ...cleanEnv(),
        PORT: String(port),
        HOST: '127.0.0.1',
        TWILIO_API_BASE_URL: LOOPBACK_TWILIO_API,
      },
    });
    try {
      await waitForOk(`http://127.0.0.1:${port}/health`, {
        timeoutMs: 60_000,
        child,
        intervalMs: 2,
      });
      result.healthMs.push(performance.now() - started);
      await waitForOk(`http://127.0.0.1:${port}/ready`, {
        timeoutMs: 60_000,
        child,
        intervalMs: 2,
      });
      result.readyMs.push(performance.now() - started);
    } finally {
      await child.stop();
      await remove();
    }
  }
  return result;
}

// ---- output ------------------------------------------------------------------------------

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = (sorted.length - 1) / 2;
  return ((sorted[Math.floor(middle)] ?? NaN) + (sorted[Math.ceil(middle)] ?? NaN)) / 2;
};

function statusSummary(counts: Record<string, number>): string {
  return Object.entries(counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([status, count]) => `${status}×${count}`)
    .join(' ');
}

/** Cores used during the timed window by processes that are neither contender, Postgres nor load generator. */
const othersCpu = (load: LoadResult) =>
  load.cpu.machineBusy * cpus().length -
  load.cpu.server -
  load.cpu.postgres -
  load.cpu.loadGenerator;

function printResults(results: ContenderResult[]): void {
  console.log(
    table(
      [
        'contender',
        'webhooks/s',
        'p50 ms',
        'p90 ms',
        'p99 ms',
        'max ms',
        'timed responses',
        'acked sids',
        'rows',
        'rows vs acks',
        'processed',
      ],
      results.map(({ label, load, durability }) => [
        label,
        fmt(load.throughput, 0),
        fmt(load.latencyMs.p50, 2),
        fmt(load.latencyMs.p90, 2),
        fmt(load.latencyMs.p99, 2),
        fmt(load.latencyMs.max, 1),
        statusSummary(load.timedStatus),
        String(durability.ackedSids),
        String(durability.rows),
        durability.ok
          ? 'OK (rows == acked)'
          : `FAIL: ${durability.ackedMissing} acked missing, ${durability.duplicateRows} duplicate, ` +
            `${durability.forgedStored} forged stored, ${durability.unackedRows} unacked rows`,
        String(durability.processed),
      ]),
    ),
  );
  console.log('');
  console.log(
    table(
      [
        'contender',
        'CPU server',
        'CPU postgres',
        'CPU load gen',
        'CPU others',
        'machine busy',
        'server+pg CPU ms/webhook',
        'unexpected answers',
        'requests prepared',
        'server exit',
      ],
      results.map(({ label, load, stopped }) => [
        label,
        `${fmt(load.cpu.server, 2)} cores`,
        `${fmt(load.cpu.postgres, 2)} cores`,
        `${fmt(load.cpu.loadGenerator, 2)} cores`,
        `${fmt(othersCpu(load), 2)} cores`,
        `${fmt(load.cpu.machineBusy * 100, 0)}%`,
        fmt(((load.cpu.server + load.cpu.postgres) * 1000) / load.throughput, 3),
        String(load.unexpected),
        `${load.prepared}${load.exhausted ? ' (ran out: raise --max-rate)' : ''}`,
        stopped,
      ]),
    ),
  );
  for (const { label, load } of results) {
    for (const sample of load.unexpectedSamples) console.log(`  ${label}: unexpected ${sample}`);
    const others = othersCpu(load);
    if (others > 0.15) {
      console.log(
        `  warning: ${label}: other processes used ${fmt(others, 2)} cores during the timed window; ` +
          'its figures are lower than on a quiet machine',
      );
    }
  }
}

interface Summary {
  throughput: number;
  p50: number;
  p99: number;
  min: number;
  max: number;
  runs: number;
  allDurable: boolean;
}

/** Per contender, the median over its rounds (the only run when --rounds 1). */
function summarize(results: ContenderResult[]): Map<ContenderName, Summary> {
  const summaries = new Map<ContenderName, Summary>();
  for (const name of contenderNames) {
    const runs = results.filter((result) => result.name === name);
    if (runs.length === 0) continue;
    const rates = runs.map((run) => run.load.throughput);
    summaries.set(name, {
      throughput: median(rates),
      p50: median(runs.map((run) => run.load.latencyMs.p50)),
      p99: median(runs.map((run) => run.load.latencyMs.p99)),
      min: Math.min(...rates),
      max: Math.max(...rates),
      runs: runs.length,
      allDurable: runs.every((run) => run.durability.ok),
    });
  }
  return summaries;
}

function printSummary(summaries: Map<ContenderName, Summary>): void {
  console.log(`
Median of ${rounds} rounds:
`);
  console.log(
    table(
      ['contender', 'webhooks/s', 'range', 'p50 ms', 'p99 ms', 'rows vs acks'],
      [...summaries].map(([name, summary]) => [
        labels[name],
        fmt(summary.throughput, 0),
        `${fmt(summary.min, 0)}–${fmt(summary.max, 0)}`,
        fmt(summary.p50, 2),
        fmt(summary.p99, 2),
        summary.allDurable ? `OK in all ${summary.runs}` : 'FAIL (see above)',
      ]),
    ),
  );
}

function printTargets(summaries: Map<ContenderName, Summary>, startup: StartupResult | null): void {
  const find = (name: ContenderName) => summaries.get(name);
  const postgres = find('postgres');
  const lines: string[] = [];
  const verdict = (ok: boolean) => (ok ? 'MET' : 'MISSED');
  const bare = find('bare');
  const express = find('express');
  if (postgres && bare) {
    const ratio = postgres.throughput / bare.throughput;
    lines.push(
      `Taskwire on Postgres / bare reference: ${fmt(ratio, 2)}×  (target ≥ 1.0×)  ${verdict(ratio >= 1)}`,
    );
  }
  if (postgres && express) {
    const ratio = postgres.throughput / express.throughput;
    lines.push(
      `Taskwire on Postgres / Express peer:   ${fmt(ratio, 2)}×  (target ≥ 2.0×)  ${verdict(ratio >= 2)}`,
    );
  }
  if (postgres) {
    const p99 = postgres.p99;
    lines.push(
      `Taskwire on Postgres p99:              ${fmt(p99, 2)} ms  (target ≤ 15 ms)  ${verdict(p99 <= 15)}`,
    );
  }
  const pglite = find('pglite');
  if (pglite) {
    const rate = pglite.throughput;
    lines.push(
      `Taskwire on PGlite:                    ${fmt(rate, 0)} webhooks/s  (target ≥ 2,000/s)  ${verdict(rate >= 2000)}`,
    );
  }
  for (const name of ['postgres-ingest', 'pglite-ingest'] as const) {
    const ingest = find(name);
    if (!ingest) continue;
    const versus = [bare ? `${fmt(ingest.throughput / bare.throughput, 2)}× bare` : null]
      .concat(express ? `${fmt(ingest.throughput / express.throughput, 2)}× Express` : null)
      .filter(Boolean)
      .join(', ');
    lines.push(
      `${labels[name]}: ${fmt(ingest.throughput, 0)} webhooks/s, p99 ${fmt(ingest.p99, 2)} ms` +
        (versus ? `  (${versus}; for comparison, not a target)` : ''),
    );
  }
  if (startup && startup.healthMs.length > 0) {
    const each = (values: number[]) => values.map((value) => fmt(value, 0)).join(', ');
    lines.push(
      `npm start → /health 200: ${fmt(median(startup.healthMs), 0)} ms, → /ready 200: ${fmt(median(startup.readyMs), 0)} ms` +
        `  (median of ${startup.healthMs.length}; /health ${each(startup.healthMs)} ms; /ready ${each(startup.readyMs)} ms)`,
    );
  }
  if (lines.length > 0) console.log(`\n${lines.join('\n')}`);
}

/** --drain: the backlog the workers processed once the load stopped. */
function printDrains(results: ContenderResult[]): void {
  const lines = results.flatMap(({ label, drain }) => {
    if (!drain) return [];
    const seconds = drain.ms / 1000;
    const done = drain.after - drain.before;
    const left = drain.rows - drain.after;
    return [
      `${label}: after the load, ${fmt(done, 0)} more processed in ${fmt(seconds, 1)} s ` +
        `(${fmt(done / seconds, 0)}/s); ${fmt(drain.after, 0)} of ${fmt(drain.rows, 0)} processed, ` +
        (left === 0 ? 'backlog cleared' : `${fmt(left, 0)} left`),
    ];
  });
  if (lines.length > 0) console.log(`\n${lines.join('\n')}`);
}

// ---- main --------------------------------------------------------------------------------

function describeMachine(pgVersion: string): string {
  const git = (args: string[]) => {
    try {
      return execFileSync('git', args, { cwd: taskwireRoot, encoding: 'utf8' }).trim();
    } catch {
      return '?';
    }
  };
  const dirty = git(['status', '--porcelain', 'src']).split('\n').filter(Boolean).length;
  return [
    `machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), Node ${process.version}, ${pgVersion}`,
    `taskwire: ${taskwireRoot} at ${git(['rev-parse', '--short', 'HEAD'])}${dirty > 0 ? ` + ${dirty} uncommitted file(s) in src/` : ''}`,
    `settings: ${rounds > 1 ? `${rounds} rounds, ` : ''}concurrency ${concurrency}, warm-up ${warmupMs / 1000} s, duration ${durationMs / 1000} s, ` +
      `pool size ${poolSize}, load generator in ${flags.loadgen === 'child' ? 'a child process' : 'the bench process'}` +
      (Object.keys(taskwireExtraEnv).length > 0
        ? `, Taskwire env ${JSON.stringify(taskwireExtraEnv)}`
        : ''),
  ].join('\n');
}

async function build(): Promise<void> {
  const tsc = path.join(repoRoot, 'node_modules/typescript/bin/tsc');
  try {
    await runCommand(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
      cwd: taskwireRoot,
      timeoutMs: 5 * 60_000,
    });
  } catch (error) {
    // Type errors still emit JavaScript; only a missing entry point is fatal.
    if (!existsSync(taskwireMain)) throw error;
    console.error(
      `warning: the build reported errors; benchmarking dist/ as emitted.\n${(error as Error).message}`,
    );
  }
  await runCommand(process.execPath, ['scripts/copy-assets.mjs'], {
    cwd: taskwireRoot,
    timeoutMs: 60_000,
  });
  // What `npm install` runs after the build (the package's `prepare`): the embedded
  // database's templates, so "npm start → healthy" is measured as a user meets it.
  const prepare = path.join(taskwireRoot, 'scripts/prepare-pglite-template.mjs');
  if (existsSync(prepare)) {
    await runCommand(process.execPath, [prepare], { cwd: taskwireRoot, timeoutMs: 120_000 });
  }
}

async function main(): Promise<number> {
  const pgVersion = await postgresVersion();
  console.log(describeMachine(pgVersion));

  const needsTaskwire =
    [...only].some((name) => name.startsWith('postgres') || name.startsWith('pglite')) ||
    only.has('startup');
  if (needsTaskwire && !flags['skip-build']) {
    const started = performance.now();
    await build();
    console.error(`built dist/ in ${fmt((performance.now() - started) / 1000, 1)} s`);
  }
  if (needsTaskwire && !existsSync(taskwireMain)) {
    throw new Error(`${taskwireMain} is missing: run npm run build`);
  }

  const results: ContenderResult[] = [];
  let failures = 0;
  for (let round = 1; round <= rounds; round += 1) {
    for (const [index, name] of contenderNames.entries()) {
      if (!only.has(name)) continue;
      try {
        results.push(await runContender(name, index, round));
      } catch (error) {
        failures += 1;
        console.error(`${labels[name]} failed: ${(error as Error).stack ?? String(error)}`);
        await runCleanups();
      }
    }
  }

  let startup: StartupResult | null = null;
  if (only.has('startup')) {
    console.error('  npm start → healthy: measuring…');
    try {
      startup = await measureStartup(startupRuns);
    } catch (error) {
      failures += 1;
      console.error(`startup measurement failed: ${(error as Error).message}`);
    }
  }

  console.log('');
  if (results.length > 0) printResults(results);
  const summaries = summarize(results);
  if (rounds > 1 && results.length > 0) printSummary(summaries);
  printTargets(summaries, startup);
  printDrains(results);
  if (flags.json) {
    const slim = results.map(({ load, ...rest }) => ({
      ...rest,
      load: { ...load, ackedSids: load.ackedSids.length, forgedSids: load.forgedSids.length },
    }));
    writeFileSync(flags.json, JSON.stringify({ results: slim, startup }, null, 2));
  }
  const broken = results.filter((result) => !result.durability.ok || result.load.unexpected > 0);
  return failures > 0 || broken.length > 0 ? 1 : 0;
}

main().then(
  (code) => exitAfterCleanup(code),
  (error: unknown) => {
    console.error(error);
    return exitAfterCleanup(1);
  },
);
