#!/usr/bin/env node
import path from 'node:path';
import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { loadOrCreateDevSecrets } from '../config/dev-secrets.js';
import { readEnvFile, readEnvironment } from '../config/env-file.js';
import { DataDirLockedError } from '../db/data-dir-lock.js';
import { DatabaseConnectError } from '../db/connection-errors.js';
import { createLogger } from '../start/logger.js';
import { startService } from '../start/service.js';
import { WorkerNeedsPostgresError, startWorkerProcess } from '../start/worker-process.js';
import { runMigrations } from '../start/migrate-command.js';
import { isAppError } from '../domain/errors.js';
import { describeDelivery } from '../start/processing.js';
import { stopOnSignals } from '../start/shutdown.js';
import {
  type CommandSpec,
  type ParsedCommand,
  UsageError,
  commandHelp,
  findCommand,
  generalUsage,
  listValue,
  parseCommand,
  stringValue,
  usageLine,
} from './commands.js';
import { runSend } from './send.js';
import { reachableUrl, recordServiceAddress } from './service-file.js';
import { showConfig } from './show-config.js';
import { simulate } from './simulate.js';

function readConfig(): Config {
  const env = readEnvironment(process.env, process.cwd());
  return loadConfig(env, { devSecrets: loadOrCreateDevSecrets });
}

const shellWord = (word: string) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word}'`);

/**
 * The banner's example commands, runnable as printed from another terminal in this
 * folder: that shell has the `.env` file but not this process's environment, so the
 * DATA_DIR (where the development secrets and the service's address are) and the address
 * are spelled out when they differ from what the `.env` and the defaults give.
 */
export function bannerHints(config: Config, address: string, cwd: string): string[] {
  const fromFile = readEnvFile(cwd);
  const fileValue = (name: string) => fromFile[name]?.trim() || null;
  const url = reachableUrl(address);
  const fileHost = fileValue('HOST') ?? '0.0.0.0';
  const defaultUrl = reachableUrl(
    `http://${fileHost.includes(':') ? `[${fileHost}]` : fileHost}:${fileValue('PORT') ?? '8000'}`,
  );
  const prefix =
    path.resolve(cwd, fileValue('DATA_DIR') ?? './data') === config.dataDir
      ? 'npx taskwire'
      : `DATA_DIR=${shellWord(config.dataDir)} npx taskwire`;
  const urlFlag = url === defaultUrl ? '' : ` --url ${url}`;
  // On the embedded database `send` finds the service through DATA_DIR; on Postgres it
  // would send by itself, so the address sends it through this service.
  const sendUrlFlag = config.databaseUrl ? ` --url ${url}` : '';
  return [
    `  Play Twilio: ${prefix} simulate${urlFlag} --from +15551234567 --image photo.jpg "Done!"`,
    `  Send a message: ${prefix} send${sendUrlFlag} --to +15551234567 "Hello"`,
  ];
}

function printDevelopmentBanner(config: Config, address: string, database: string): void {
  const base = address.replace('0.0.0.0', 'localhost').replace('[::]', 'localhost');
  const lines = [
    '',
    `  Taskwire is running at ${base}`,
    `  Database: ${database}`,
    `  Twilio webhook: ${config.publicUrl ?? base}/webhook/twilio`,
  ];
  // Only generated development secrets are shown, never configured ones.
  if (config.apiTokenSource === 'generated') {
    lines.push(
      `  API token (development, kept in ${path.join(config.dataDir, 'secrets.json')}): ${config.apiToken}`,
    );
  }
  if (config.twilio.authTokenSource === 'generated') {
    lines.push(
      '  TWILIO_AUTH_TOKEN is not set: a development token was generated, so only locally signed',
      '  webhooks are accepted. Set TWILIO_AUTH_TOKEN to receive messages from Twilio.',
    );
  }
  if (!config.twilio.accountSid) lines.push(`  ${describeDelivery(config)}.`);
  lines.push(...bannerHints(config, address, process.cwd()), '');
  console.error(lines.join('\n'));
}

async function serve(): Promise<void> {
  const config = readConfig();
  const log = createLogger(config.logLevel);
  const service = await startService(config, log);
  // Where `taskwire send` finds this service while it holds the embedded database.
  const forget = config.databaseUrl
    ? () => {}
    : recordServiceAddress(config.dataDir, service.address);
  log.info({ address: service.address, database: service.databaseDescription }, 'taskwire started');
  if (!config.production)
    printDevelopmentBanner(config, service.address, service.databaseDescription);

  stopOnSignals(log, async () => {
    forget();
    await service.stop();
  });
}

async function worker(): Promise<void> {
  const config = readConfig();
  const log = createLogger(config.logLevel);
  const running = await startWorkerProcess(config, log);
  stopOnSignals(log, () => running.stop());
}

function send({ values, positionals }: ParsedCommand, command: CommandSpec): Promise<number> {
  const body = positionals.join(' ');
  const mediaUrls = listValue(values, 'media');
  if (!body && !mediaUrls)
    throw new UsageError('the message text (or --media) is missing', command);
  return runSend(
    readConfig(),
    {
      to: stringValue(values, 'to') ?? '',
      body,
      channel: values.sms ? 'sms' : 'whatsapp',
      mediaUrls,
    },
    { url: stringValue(values, 'url') },
  );
}

function runSimulate({ values, positionals }: ParsedCommand): Promise<number> {
  const timeout = stringValue(values, 'timeout');
  return simulate(readConfig(), {
    from: stringValue(values, 'from') ?? '',
    body: positionals.join(' '),
    image: stringValue(values, 'image'),
    name: stringValue(values, 'name'),
    url: stringValue(values, 'url'),
    timeoutMs: timeout ? Number(timeout) * 1000 : undefined,
  });
}

function help({ positionals }: ParsedCommand, command: CommandSpec): number {
  const [name, ...rest] = positionals;
  if (rest.length > 0) throw new UsageError('help takes one command', command);
  if (!name) {
    console.log(generalUsage());
    return 0;
  }
  const described = findCommand(name);
  if (!described) throw new UsageError(`unknown command "${name}"`, null);
  console.log(commandHelp(described));
  return 0;
}

/** Each command of the table in commands.ts, by name; -1: keeps running. */
const runners: Record<
  string,
  (parsed: ParsedCommand, command: CommandSpec) => Promise<number> | number
> = {
  serve: async () => {
    await serve();
    return -1;
  },
  worker: async () => {
    await worker();
    return -1;
  },
  send,
  simulate: runSimulate,
  migrate: () => runMigrations(readConfig()),
  config: ({ values }) =>
    showConfig(process.env, process.cwd(), { describe: values.describe === true }),
  help,
};

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h') {
    console.log(generalUsage());
    return 0;
  }
  if (first.startsWith('-'))
    throw new UsageError(`unknown option ${first}: give a command first`, null);
  const command = findCommand(first);
  if (!command) throw new UsageError(`unknown command "${first}"`, null);
  const parsed = parseCommand(command, rest);
  if (parsed.help) {
    console.log(commandHelp(command));
    return 0;
  }
  const run = runners[command.name];
  if (!run) throw new Error(`taskwire ${command.name}: no runner`);
  return run(parsed, command);
}

/** One line saying what is wrong, then the usage that shows what is right. */
function reportUsageError(error: UsageError): void {
  const usage = error.command
    ? `Usage: ${usageLine(error.command)}\nRun \`taskwire help ${error.command.name}\` for its options.`
    : generalUsage();
  console.error(`taskwire: ${error.message}\n\n${usage}`);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      reportUsageError(error);
      process.exit(2);
    }
    if (error instanceof ConfigError) {
      console.error(
        `${error.message}\n\nRun \`taskwire config\` to see the values in effect and where each comes from.`,
      );
    } else if (isAppError(error)) {
      console.error(error.message);
    } else if (
      error instanceof DataDirLockedError ||
      error instanceof WorkerNeedsPostgresError ||
      // One line naming the server, the cause and what to check, not a stack trace.
      error instanceof DatabaseConnectError
    ) {
      console.error(error.message);
    } else if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      console.error(`Port in use: ${(error as Error).message}. Set PORT to another port.`);
    } else {
      console.error(error);
    }
    process.exit(1);
  },
);
