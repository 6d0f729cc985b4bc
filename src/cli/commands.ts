import { type ParseArgsConfig, parseArgs } from 'node:util';
import { normalizePhoneNumber } from '../domain/phone.js';

/**
 * The one table of commands: their flags, arguments and descriptions. The general usage,
 * each command's help and the strict parsing of its flags are all generated from it, so
 * the help cannot drift from what is accepted.
 */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** May be given more than once (`--media A --media B`). */
  multiple?: boolean;
  /** The value's placeholder in the help: `--to NUMBER`. */
  value?: string;
  required?: boolean;
  description: string;
  /** What is wrong with `value`, or null when it is fine. */
  check?: (value: string) => string | null;
}

export interface CommandSpec {
  name: string;
  summary: string;
  /** The positional arguments in the usage line (`"message"`); absent: none are accepted. */
  args?: string;
  /** Paragraphs of the command's help. */
  description: string[];
  options: Record<string, OptionSpec>;
  examples?: string[];
}

const E164_HINT = 'expected an E.164 phone number such as +15551234567';

const phone = (value: string): string | null =>
  normalizePhoneNumber(value) === null ? `${E164_HINT}, got "${value}"` : null;

const httpUrl = (value: string): string | null => {
  try {
    const url = new URL(value);
    if (url.protocol === 'http:' || url.protocol === 'https:') return null;
  } catch {
    // Reported below.
  }
  return `expected an http(s) URL such as http://localhost:8000, got "${value}"`;
};

const seconds = (value: string): string | null =>
  /^\d+(\.\d+)?$/.test(value) && Number(value) > 0
    ? null
    : `expected a number of seconds such as 30, got "${value}"`;

const serviceUrl = (description: string): OptionSpec => ({
  type: 'string',
  value: 'URL',
  description,
  check: httpUrl,
});

export const commands: readonly CommandSpec[] = [
  {
    name: 'serve',
    summary: 'Run the HTTP service (webhook, API, dashboard) on PORT, with its workers',
    description: [
      'Listens on HOST:PORT (default 0.0.0.0:8000) for Twilio webhooks, the admin API and the dashboard, and runs the workers that process messages and send replies (RUN_WORKERS).',
      'Without DATABASE_URL the data is kept in an embedded database in DATA_DIR, which only this process may open; in development, missing secrets are generated into DATA_DIR/secrets.json and printed.',
    ],
    options: {},
  },
  {
    name: 'worker',
    summary: 'Process messages and send replies without an HTTP server (needs DATABASE_URL)',
    description: [
      'Runs the workers of `serve` alone, against the Postgres database in DATABASE_URL that the service shares; WORKER_PORT serves /health, /ready and /metrics.',
    ],
    options: {},
  },
  {
    name: 'send',
    summary: 'Send one WhatsApp message (or SMS) and say what became of it',
    args: '"message"',
    description: [
      'Records the message and sends it through Twilio, or, in development without TWILIO_ACCOUNT_SID, into the local outbox (from TWILIO_WHATSAPP_NUMBER, or the WhatsApp Sandbox number when it is unset).',
      'While `taskwire serve` runs on the embedded database, the message goes through the running service (POST /messages/send with API_TOKEN), which alone may open DATA_DIR; --url sends through the service there in any case.',
    ],
    options: {
      to: {
        type: 'string',
        value: 'NUMBER',
        required: true,
        description: 'The recipient, E.164 (+15551234567).',
        check: phone,
      },
      sms: {
        type: 'boolean',
        description: 'Send an SMS from TWILIO_PHONE_NUMBER instead of a WhatsApp message.',
      },
      media: {
        type: 'string',
        value: 'URL',
        multiple: true,
        description: 'A media URL to attach.',
        check: httpUrl,
      },
      url: serviceUrl('Send through the service at this address (http://host:port).'),
    },
    examples: [
      'taskwire send --to +15551234567 "Hello"',
      'taskwire send --to +15551234567 --sms "Your code is 1234"',
    ],
  },
  {
    name: 'simulate',
    summary: 'Play Twilio against the running service: post a signed webhook and follow it',
    args: '"message"',
    description: [
      'Posts the webhook Twilio would post for one WhatsApp message, signed with TWILIO_AUTH_TOKEN (the development one in DATA_DIR/secrets.json when unset), then follows the message through processing to its reply. Run it from the folder the service runs in (same .env and DATA_DIR).',
    ],
    options: {
      from: {
        type: 'string',
        value: 'NUMBER',
        required: true,
        description: 'The sender, E.164 (+15551234567).',
        check: phone,
      },
      image: {
        type: 'string',
        value: 'FILE',
        description: 'A photo (or other file) to send with the message.',
      },
      name: {
        type: 'string',
        value: 'NAME',
        description: 'The WhatsApp profile name, which names an auto-registered user.',
      },
      url: serviceUrl("The service's address; default the local HOST and PORT."),
      timeout: {
        type: 'string',
        value: 'SECONDS',
        description: 'How long to follow the message (default 30).',
        check: seconds,
      },
    },
    examples: ['taskwire simulate --from +15551234567 --image photo.jpg --name Ada "Done!"'],
  },
  {
    name: 'migrate',
    summary: 'Apply database migrations and exit',
    description: [
      'Applies the pending migrations to DATABASE_URL (or the embedded database in DATA_DIR). `serve` does this at start-up too.',
    ],
    options: {},
  },
  {
    name: 'config',
    summary: 'Show the configuration in effect, where each value comes from; exit 1 if invalid',
    description: [
      'Shows every variable with the value in effect and its source: the environment, the .env file in the current folder, a generated development secret, or the default. Secrets are masked. Exits 1, listing every problem, when a value is invalid.',
    ],
    options: {
      describe: { type: 'boolean', description: "Also print each variable's meaning." },
    },
  },
  {
    name: 'help',
    summary: "Show this help, or a command's: taskwire help <command>",
    args: '[command]',
    description: ['Shows the commands, or one command with its options.'],
    options: {},
  },
];

const helpOption: OptionSpec = { type: 'boolean', short: 'h', description: 'Show this help.' };

export const findCommand = (name: string): CommandSpec | undefined =>
  commands.find((command) => command.name === name);

/** A mistake on the command line: one line saying what is wrong; the usage follows it. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command: CommandSpec | null,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

const flag = (name: string, option: OptionSpec) =>
  option.type === 'boolean' ? `--${name}` : `--${name} ${option.value ?? 'VALUE'}`;

/** `taskwire send --to NUMBER [--sms] [--media URL]... [--url URL] "message"` */
export function usageLine(command: CommandSpec): string {
  const parts = [`taskwire ${command.name}`];
  for (const [name, option] of Object.entries(command.options)) {
    const text = flag(name, option);
    parts.push(option.required ? text : `[${text}]${option.multiple ? '...' : ''}`);
  }
  if (command.args) parts.push(command.args);
  return parts.join(' ');
}

export function generalUsage(): string {
  const width = Math.max(...commands.map((command) => command.name.length)) + 3;
  return [
    'Usage: taskwire <command> [options]',
    '',
    'Commands:',
    ...commands.map((command) => `  ${command.name.padEnd(width)}${command.summary}`),
    '',
    'Run `taskwire help <command>` (or `taskwire <command> --help`) for its options.',
    'Configuration comes from the environment and an optional .env file in the current folder',
    '(`taskwire config` shows it). Without DATABASE_URL, data is kept in an embedded database',
    'in DATA_DIR (./data).',
  ].join('\n');
}

export function commandHelp(command: CommandSpec): string {
  const options = [...Object.entries(command.options), ['help', helpOption] as const];
  const labels = options.map(([name, option]) =>
    option.short ? `-${option.short}, ${flag(name, option)}` : `    ${flag(name, option)}`,
  );
  const width = Math.max(...labels.map((label) => label.length)) + 3;
  const lines = [`Usage: ${usageLine(command)}`, ''];
  for (const paragraph of command.description) lines.push(...wrap(paragraph, 88), '');
  lines.push('Options:');
  options.forEach(([, option], index) => {
    const notes = [option.required ? 'Required.' : '', option.multiple ? 'Repeatable.' : '']
      .filter(Boolean)
      .join(' ');
    lines.push(
      `  ${(labels[index] as string).padEnd(width)}${option.description}${notes ? ` ${notes}` : ''}`,
    );
  });
  if (command.examples) lines.push('', 'Examples:', ...command.examples.map((e) => `  ${e}`));
  return lines.join('\n');
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + word.length + 1 > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

export type OptionValues = Record<string, string | boolean | string[] | undefined>;

export interface ParsedCommand {
  values: OptionValues;
  positionals: string[];
  help: boolean;
}

/**
 * Parses `args` (after the command's name) strictly against the command's options: an
 * unknown flag, a missing or bad value, a missing required flag or an argument the command
 * does not take is a UsageError saying which.
 */
export function parseCommand(command: CommandSpec, args: string[]): ParsedCommand {
  const options: NonNullable<ParseArgsConfig['options']> = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const [name, option] of Object.entries(command.options)) {
    options[name] = {
      type: option.type,
      ...(option.short ? { short: option.short } : {}),
      ...(option.multiple ? { multiple: true } : {}),
    };
  }
  let parsed: { values: OptionValues; positionals: string[] };
  try {
    // Only string options are `multiple`, so their arrays hold strings.
    parsed = parseArgs({
      args,
      options,
      strict: true,
      allowPositionals: Boolean(command.args),
    }) as { values: OptionValues; positionals: string[] };
  } catch (error) {
    throw new UsageError(describeParseError(error, command), command);
  }
  const { values, positionals } = parsed;
  if (values.help) return { values, positionals, help: true };
  for (const [name, option] of Object.entries(command.options)) {
    const given = values[name];
    if (given === undefined) {
      if (option.required) throw new UsageError(`--${name} is required`, command);
      continue;
    }
    for (const value of typeof given === 'string' ? [given] : Array.isArray(given) ? given : []) {
      const problem = option.check?.(value);
      if (problem) throw new UsageError(`--${name}: ${problem}`, command);
    }
  }
  return { values, positionals, help: false };
}

/** Node's parseArgs messages, as one short line in our words. */
function describeParseError(error: unknown, command: CommandSpec): string {
  const { code, message } = error as { code?: string; message?: string };
  const token = /'([^']+)'/.exec(message ?? '')?.[1] ?? '';
  const option = token.split(' ')[0] ?? token;
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${option} for \`taskwire ${command.name}\``;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /does not take an argument/.test(message ?? '')
        ? `${option} takes no value`
        : `${option} needs a value`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `\`taskwire ${command.name}\` takes no arguments, got "${token}"`;
    default:
      return message ?? String(error);
  }
}

export const stringValue = (values: OptionValues, name: string): string | undefined => {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
};

export const listValue = (values: OptionValues, name: string): string[] | undefined => {
  const value = values[name];
  return Array.isArray(value) ? value : undefined;
};
