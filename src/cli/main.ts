#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { loadOrCreateDevSecrets } from '../config/dev-secrets.js';
import { readEnvironment } from '../config/env-file.js';
import { variables } from '../config/variables.js';
import { DataDirLockedError } from '../db/data-dir-lock.js';
import { DatabaseConnectError } from '../db/connection-errors.js';
import { createLogger } from '../start/logger.js';
import { startService } from '../start/service.js';
import { WorkerNeedsPostgresError, startWorkerProcess } from '../start/worker-process.js';
import { runMigrations } from '../start/migrate-command.js';
import { sendNow } from '../start/send-now.js';
import { isAppError } from '../domain/errors.js';
import { describeDelivery } from '../start/processing.js';
import { stopOnSignals } from '../start/shutdown.js';
import { simulate } from './simulate.js';

const usage = `Usage: taskwire <command> [options]

Commands:
  serve      Run the HTTP service (webhook, API) on PORT (default 8000), with its workers
  worker     Process messages and send replies without an HTTP server (needs DATABASE_URL)
  send       Send a message: taskwire send --to +15551234567 [--sms] [--media URL] "Hello"
  simulate   Play Twilio against the running service: post a signed WhatsApp webhook and follow it:
             taskwire simulate --from +15551234567 [--image photo.jpg] [--name Ada]
                               [--url http://localhost:8000] "Done!"
  migrate    Apply database migrations and exit
  config     Show every configuration variable with its default and meaning
  help       Show this help

Configuration comes from the environment and an optional .env file in the current folder.
Without DATABASE_URL, data is kept in an embedded database in DATA_DIR (./data).`;

function readConfig(): Config {
  const env = readEnvironment(process.env, process.cwd());
  return loadConfig(env, { devSecrets: loadOrCreateDevSecrets });
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
      `  API token (development, kept in ${config.dataDir}/secrets.json): ${config.apiToken}`,
    );
  }
  if (config.twilio.authTokenSource === 'generated') {
    lines.push(
      '  TWILIO_AUTH_TOKEN is not set: a development token was generated, so only locally signed',
      '  webhooks are accepted. Set TWILIO_AUTH_TOKEN to receive messages from Twilio.',
    );
  }
  if (!config.twilio.accountSid) {
    lines.push(
      `  ${describeDelivery(config)}.`,
      '  Play Twilio: npx taskwire simulate --from +15551234567 --image photo.jpg "Done!"',
    );
  }
  lines.push('');
  console.error(lines.join('\n'));
}

async function serve(): Promise<void> {
  const config = readConfig();
  const log = createLogger(config.logLevel);
  const service = await startService(config, log);
  log.info({ address: service.address, database: service.databaseDescription }, 'taskwire started');
  if (!config.production)
    printDevelopmentBanner(config, service.address, service.databaseDescription);

  stopOnSignals(log, () => service.stop());
}

async function worker(): Promise<void> {
  const config = readConfig();
  const log = createLogger(config.logLevel);
  const running = await startWorkerProcess(config, log);
  stopOnSignals(log, () => running.stop());
}

async function send(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      to: { type: 'string' },
      sms: { type: 'boolean', default: false },
      media: { type: 'string', multiple: true },
    },
  });
  const body = positionals.join(' ');
  if (!values.to || (!body && !values.media)) {
    console.error('Usage: taskwire send --to +15551234567 [--sms] [--media URL] "Hello"');
    return 2;
  }
  const row = await sendNow(readConfig(), {
    to: values.to,
    body,
    channel: values.sms ? 'sms' : 'whatsapp',
    mediaUrls: values.media,
  });
  if (row.twilio_sid && row.outbox) {
    console.error(
      `Delivered to the local outbox (TWILIO_ACCOUNT_SID is not set): ${row.twilio_sid}, recorded as outbound message ${row.id}. Nothing was sent to ${row.to_number}.`,
    );
    return 0;
  }
  if (row.twilio_sid) {
    console.error(
      `Sent to ${row.to_number}: Twilio ${row.twilio_sid} (${row.status}). Recorded as outbound message ${row.id}.`,
    );
    return 0;
  }
  const reason = row.error_message ?? 'unknown error';
  if (row.status === 'failed') {
    console.error(`Not sent: ${reason}`);
    return 1;
  }
  console.error(
    `Not sent yet (${reason}); queued as outbound message ${row.id}: the service's worker will retry it.`,
  );
  return 1;
}

async function runSimulate(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      from: { type: 'string' },
      image: { type: 'string' },
      name: { type: 'string' },
      url: { type: 'string' },
      timeout: { type: 'string' },
    },
  });
  const body = positionals.join(' ');
  if (!values.from) {
    console.error(
      'Usage: taskwire simulate --from +15551234567 [--image photo.jpg] [--name Ada] [--url http://localhost:8000] [--timeout 30] "Done!"',
    );
    return 2;
  }
  return simulate(readConfig(), {
    from: values.from,
    body,
    image: values.image,
    name: values.name,
    url: values.url,
    timeoutMs: values.timeout ? Number(values.timeout) * 1000 : undefined,
  });
}

function showConfig(): void {
  for (const variable of variables) {
    console.log(`${variable.name}${variable.default === null ? '' : `=${variable.default}`}`);
    console.log(`    ${variable.description.replaceAll('`', '')}`);
  }
}

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: false,
    options: { help: { type: 'boolean', short: 'h' } },
  });
  const command = positionals[0] ?? 'help';
  if (values.help || command === 'help') {
    console.log(usage);
    return 0;
  }
  switch (command) {
    case 'serve':
      await serve();
      return -1; // keeps running
    case 'worker':
      await worker();
      return -1; // keeps running
    case 'send':
      return send(argv.slice(1));
    case 'simulate':
      return runSimulate(argv.slice(1));
    case 'migrate':
      return runMigrations(readConfig());
    case 'config':
      showConfig();
      return 0;
    default:
      console.error(`Unknown command "${command}".\n\n${usage}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof ConfigError) {
      console.error(
        `${error.message}\n\nSee \`taskwire config\` for every variable and its default.`,
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
