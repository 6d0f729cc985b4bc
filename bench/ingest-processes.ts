// Child processes, cleanup and CPU accounting for the benchmarks (bench:ingest, bench:loop
// and the others). Every resource a bench acquires registers its release here, so a
// failure, Ctrl-C or the watchdog still kills the servers, drops the databases and removes
// the temporary folders.
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { variables } from '../src/config/variables.js';

type Cleanup = () => Promise<void> | void;

const cleanups: { label: string; run: Cleanup }[] = [];

/** Registers a release; returns a function that runs it now (once) and unregisters it. */
export function onCleanup(label: string, run: Cleanup): () => Promise<void> {
  const entry = { label, run };
  cleanups.push(entry);
  return async () => {
    const index = cleanups.indexOf(entry);
    if (index === -1) return;
    cleanups.splice(index, 1);
    await entry.run();
  };
}

/** Runs every registered release, newest first; errors are reported, never thrown. */
export async function runCleanups(): Promise<void> {
  while (cleanups.length > 0) {
    const entry = cleanups.pop() as { label: string; run: Cleanup };
    try {
      await entry.run();
    } catch (error) {
      console.error(`cleanup "${entry.label}" failed: ${(error as Error).message}`);
    }
  }
}

let exiting = false;

/** Runs every release (given 30 s at most), then exits with `code`; a later call only exits. */
export async function exitAfterCleanup(code: number): Promise<never> {
  if (!exiting) {
    exiting = true;
    setTimeout(() => process.exit(code), 30_000).unref();
    await runCleanups();
  }
  process.exit(code);
}

/** Ctrl-C or SIGTERM: clean up, then exit 130. */
export function cleanUpOnSignals(): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: cleaning up`);
      void exitAfterCleanup(130);
    });
  }
}

/** The bench stops by itself whatever happens: after `budgetMs`, cleanup and exit 3. */
export function startWatchdog(budgetMs: number): void {
  setTimeout(() => {
    console.error(`watchdog: the bench ran longer than ${Math.round(budgetMs / 1000)} s; stopping`);
    void exitAfterCleanup(3);
  }, budgetMs).unref();
}

/** A fresh temporary folder, and the function that removes it (also run by the cleanup). */
export function tempDir(label: string): { dir: string; remove: () => Promise<void> } {
  const dir = mkdtempSync(path.join(tmpdir(), `taskwire-bench-${label}-`));
  const remove = onCleanup(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  return { dir, remove };
}

/** Our environment without any Taskwire variable, so nothing leaks in from the shell. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const variable of variables) delete env[variable.name];
  return env;
}

/** Repeated `K=V` options as an environment (a bare `K` sets it empty). */
export function envPairs(pairs: string[]): Record<string, string> {
  return Object.fromEntries(
    pairs.map((pair) => {
      const at = pair.indexOf('=');
      return at === -1 ? [pair, ''] : [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}

/** A free TCP port on the loopback interface. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface Child {
  name: string;
  process: ChildProcess;
  pid: number;
  /** The last output of the child (stdout and stderr), for error messages. */
  output(): string;
  /** Resolves with the exit code (or signal) once the child has exited. */
  exited: Promise<string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<string>;
}

export interface SpawnOptions {
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Echo the child's output to our stderr as it arrives. */
  echo?: boolean;
}

const OUTPUT_TAIL = 16 * 1024;

export function spawnChild(
  name: string,
  command: string,
  args: string[],
  options: SpawnOptions,
): Child {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not start ${name}: ${command}`);
  let tail = '';
  const collect = (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    if (options.echo) process.stderr.write(`[${name}] ${text}`);
    tail = (tail + text).slice(-OUTPUT_TAIL);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve(signal ?? `exit ${code ?? '?'}`));
  });
  let unregister: (() => Promise<void>) | null = null;
  const stop = async (graceMs = 15_000): Promise<string> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const how = await exited;
      clearTimeout(timer);
      await unregister?.();
      return how;
    }
    await unregister?.();
    return exited;
  };
  unregister = onCleanup(`stop ${name}`, async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
  });
  return { name, process: child, pid: child.pid, output: () => tail, exited, stop };
}

/** Polls `url` until it answers 200; fails early when `child` exits first. */
export async function waitForOk(
  url: string,
  options: { timeoutMs: number; child?: Child; intervalMs?: number },
): Promise<number> {
  const started = performance.now();
  let exitedHow: string | null = null;
  void options.child?.exited.then((how) => (exitedHow = how));
  for (;;) {
    if (exitedHow !== null) {
      throw new Error(
        `${options.child?.name} exited (${exitedHow}) before ${url} answered 200:\n${options.child?.output()}`,
      );
    }
    try {
      const response = await request(url, { headersTimeout: 2_000, bodyTimeout: 2_000 });
      await response.body.dump();
      if (response.statusCode === 200) return performance.now() - started;
    } catch {
      // Not listening yet.
    }
    if (performance.now() - started > options.timeoutMs) {
      throw new Error(
        `${url} did not answer 200 within ${options.timeoutMs} ms${
          options.child ? `; output of ${options.child.name}:\n${options.child.output()}` : ''
        }`,
      );
    }
    await sleep(options.intervalMs ?? 10);
  }
}

/**
 * Runs a command to completion (SIGKILL after `timeoutMs`), failing with its output on a
 * non-zero exit. `name` names it in that error (by default the command line); `env` is ours
 * unless given.
 */
export async function runCommand(
  command: string,
  args: string[],
  options: {
    cwd: string;
    timeoutMs: number;
    env?: NodeJS.ProcessEnv;
    name?: string;
    echo?: boolean;
  },
): Promise<void> {
  const name = options.name ?? command;
  const child = spawnChild(name, command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    echo: options.echo,
  });
  const timer = setTimeout(() => child.process.kill('SIGKILL'), options.timeoutMs);
  const how = await child.exited;
  clearTimeout(timer);
  await child.stop();
  if (how !== 'exit 0') {
    throw new Error(
      `${options.name ?? `${command} ${args.join(' ')}`} failed (${how}):\n${child.output()}`,
    );
  }
}

/**
 * A TypeScript file of ours in a child process through tsx, with an IPC channel; the
 * cleanup kills it. Resolves nothing: `kill()` kills it now (and unregisters the cleanup).
 */
export function forkTsx(
  name: string,
  file: string,
  cwd: string,
): { child: ChildProcess; kill: () => Promise<void> } {
  const child = fork(file, [], {
    cwd,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const kill = onCleanup(`stop ${name}`, () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return { child, kill };
}

// ---- CPU accounting from /proc (Linux) -------------------------------------------------

/** Clock ticks per second of /proc's utime/stime: 100 on every mainstream Linux build. */
const CLOCK_TICKS = 100;

/** CPU ms (user + system, all its threads) a process has used so far; null if it is gone. */
export function cpuMsOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces; fields after it are space-separated.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/** CPU seconds (user + system) a process has used so far; 0 if it is gone. */
function processCpuSeconds(pid: number): number {
  return (cpuMsOf(pid) ?? 0) / 1000;
}

/** CPU seconds used so far by every process named `postgres` (server and backends). */
function postgresCpuSeconds(): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) !== 'postgres') continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    } catch {
      // Exited while we looked.
    }
  }
  return total;
}

/** Busy and total CPU seconds of the whole machine (all cores). */
function machineCpuSeconds(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const values = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = values.reduce((sum, value) => sum + value, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  return { busy: (total - idle) / CLOCK_TICKS, total: total / CLOCK_TICKS };
}

/**
 * Waits (up to `maxWaitMs`) until the machine is quiet: less than `maxBusy` of its CPU
 * busy over a 3-second look. For shared machines, so no contender runs next to a build.
 * Resolves with the busy share last seen.
 */
export async function waitForQuietMachine(maxWaitMs: number, maxBusy = 0.12): Promise<number> {
  const deadline = performance.now() + maxWaitMs;
  for (;;) {
    const before = machineCpuSeconds();
    await sleep(3_000);
    const after = machineCpuSeconds();
    const busy = (after.busy - before.busy) / Math.max(1e-9, after.total - before.total);
    if (busy < maxBusy || performance.now() >= deadline) return busy;
  }
}

export interface CpuSample {
  at: number;
  server: number;
  postgres: number;
  self: number;
  machineBusy: number;
  machineTotal: number;
}

export function sampleCpu(serverPid: number | null): CpuSample {
  const usage = process.cpuUsage();
  const machine = machineCpuSeconds();
  return {
    at: performance.now(),
    server: serverPid === null ? 0 : processCpuSeconds(serverPid),
    postgres: postgresCpuSeconds(),
    self: (usage.user + usage.system) / 1e6,
    machineBusy: machine.busy,
    machineTotal: machine.total,
  };
}

/** Cores in use (1.0 = one core busy) between two samples. */
export interface CpuUse {
  server: number;
  postgres: number;
  loadGenerator: number;
  /** Share of the whole machine's CPU time that was busy, 0..1. */
  machineBusy: number;
}

export function cpuBetween(start: CpuSample, end: CpuSample): CpuUse {
  const seconds = (end.at - start.at) / 1000;
  return {
    server: (end.server - start.server) / seconds,
    postgres: (end.postgres - start.postgres) / seconds,
    loadGenerator: (end.self - start.self) / seconds,
    machineBusy:
      (end.machineBusy - start.machineBusy) / Math.max(1e-9, end.machineTotal - start.machineTotal),
  };
}
