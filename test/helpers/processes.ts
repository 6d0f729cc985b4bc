import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { variables } from '../../src/config/variables.js';
import { freePort } from './service.js';
import { TEST_ACCOUNT_SID, TEST_API_TOKEN, TEST_AUTH_TOKEN } from './twilio-webhook.js';
import { waitFor } from './worker.js';

// The CLI as `npx taskwire` runs it: real child processes, from source. The one copy of
// these helpers: every test that spawns the CLI uses them.
export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const cliEntry = path.join(repoRoot, 'src', 'cli', 'main.ts');
// Absolute, so that the CLI also runs in another working folder (one with its own `.env`).
const tsxLoader = import.meta.resolve('tsx');

/**
 * A clean environment: every Taskwire variable set empty (which counts as unset, and hides
 * a developer's `.env` in the repository), then `settings`.
 */
export function cleanEnv(settings: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
  for (const variable of variables) env[variable.name] = '';
  return { ...env, LOG_LEVEL: 'warn', ...settings };
}

export interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code, or the signal's name. */
  exited: Promise<number | string>;
  /** Sends `signal` unless the process has ended. */
  kill(signal?: NodeJS.Signals): void;
  /** Resolves with stderr once it matches `pattern`; rejects if the process exits first. */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

export interface CliOptions {
  /** The working folder (where `.env` is read); default the repository. */
  cwd?: string;
}

/** Starts `taskwire <args>`; output is collected (and echoed with DEBUG_CHILD=1). */
export function runCli(
  args: string[],
  env: NodeJS.ProcessEnv,
  options: CliOptions = {},
): CliProcess {
  const child = spawn(process.execPath, ['--import', tsxLoader, cliEntry, ...args], {
    cwd: options.cwd ?? repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    if (process.env.DEBUG_CHILD) process.stdout.write(chunk);
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
    if (process.env.DEBUG_CHILD) process.stderr.write(chunk);
  });
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    waitForStderr(pattern, timeoutMs = 60_000) {
      return new Promise<string>((resolve, reject) => {
        const check = () => {
          if (!pattern.test(err)) return;
          cleanup();
          resolve(err);
        };
        const onExit = (code: number | null) => {
          cleanup();
          reject(new Error(`exited (${code}) before ${pattern}:\n${err}`));
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${err}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          child.stderr?.off('data', check);
          child.off('exit', onExit);
        };
        child.stderr?.on('data', check);
        child.once('exit', onExit);
        check();
      });
    },
  };
}

/** Runs `taskwire <args>` to its end (killed after `timeoutMs`). */
export async function runCliToExit(
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 60_000,
  options: CliOptions = {},
) {
  const cli = runCli(args, env, options);
  const timer = setTimeout(() => cli.kill('SIGKILL'), timeoutMs);
  const code = await cli.exited;
  clearTimeout(timer);
  const stdout = cli.stdout();
  const stderr = cli.stderr();
  return { code, stdout, stderr, output: stdout + stderr };
}

/** Waits until GET /ready answers 200 (or the process ends, or 60 s pass). */
export async function waitReady(baseUrl: string, serve?: CliProcess): Promise<void> {
  await waitFor(async () => {
    if (serve && serve.child.exitCode !== null) {
      throw new Error(`taskwire serve exited ${serve.child.exitCode}:\n${serve.stderr()}`);
    }
    try {
      return (await fetch(`${baseUrl}/ready`)).ok;
    } catch {
      return false;
    }
  }, 60_000);
}

/**
 * What every test's `taskwire serve` is given: 127.0.0.1:`port`, the test API token and
 * Twilio credentials (so signedForm's signatures verify), and Twilio's API and media at the
 * fake's addresses.
 */
export function serveSettings(
  port: number,
  twilio: { apiBaseUrl: string; cdnBaseUrl: string },
): Record<string, string> {
  return {
    HOST: '127.0.0.1',
    PORT: String(port),
    API_TOKEN: TEST_API_TOKEN,
    TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN,
    TWILIO_ACCOUNT_SID: TEST_ACCOUNT_SID,
    TWILIO_API_BASE_URL: twilio.apiBaseUrl,
    MEDIA_REDIRECT_ALLOWLIST: twilio.cdnBaseUrl,
  };
}

export interface ServeProcess {
  process: CliProcess;
  baseUrl: string;
}

/**
 * Starts `taskwire serve` on a free port in a clean environment with serveSettings and then
 * `settings`. It does not wait: `waitReady(baseUrl, process)` (several may start at once).
 */
export async function startServe(
  twilio: { apiBaseUrl: string; cdnBaseUrl: string },
  settings: Record<string, string>,
): Promise<ServeProcess> {
  const port = await freePort();
  const serve = runCli(['serve'], cleanEnv({ ...serveSettings(port, twilio), ...settings }));
  return { process: serve, baseUrl: `http://127.0.0.1:${port}` };
}
