import { createHmac } from 'node:crypto';
import { isIP } from 'node:net';
import path from 'node:path';
import { isE164 } from '../domain/phone.js';
import { variables } from './variables.js';

export type StorageDriverName = 'local' | 'supabase' | 's3';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  readonly production: boolean;
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly databaseUrl: string | null;
  readonly databasePoolSize: number;
  /** DATABASE_CONNECT_TIMEOUT_MS: how long start-up retries an unreachable Postgres. */
  readonly databaseConnectTimeoutMs: number;
  readonly apiToken: string;
  /** `generated`: made for development and kept in DATA_DIR; printed at start-up. */
  readonly apiTokenSource: 'env' | 'generated';
  /** METRICS_TOKEN: a second bearer token, accepted by GET /metrics only. */
  readonly metricsToken: string | null;
  /** API_RATE_LIMIT: admin API requests per minute from one client address; 0 = no limit. */
  readonly apiRateLimit: number;
  readonly publicUrl: string | null;
  /**
   * TRUST_PROXY, in the form Fastify's `trustProxy` takes: false (the socket address is the
   * client), a hop count, or the proxies' addresses/CIDRs. Never `true`: that would let any
   * client choose its own address and the URL its signature is checked against.
   */
  readonly trustProxy: false | number | readonly string[];
  readonly logLevel: LogLevel;
  readonly twilio: {
    readonly accountSid: string | null;
    readonly authToken: string;
    readonly authTokenSource: 'env' | 'generated';
    readonly phoneNumber: string | null;
    readonly whatsappNumber: string | null;
    readonly apiBaseUrl: string;
    readonly deleteMedia: boolean;
    /**
     * Development without TWILIO_ACCOUNT_SID: the service stands in for Twilio's media
     * server (`taskwire simulate --image`) under this made-up account, whose password is
     * TWILIO_AUTH_TOKEN. Null in production and whenever a real account is configured.
     */
    readonly simulator: { readonly accountSid: string } | null;
  };
  readonly storage: {
    readonly driver: StorageDriverName;
    readonly bucket: string;
    readonly public: boolean;
    readonly signedUrlTtlSeconds: number;
    /** STORAGE_TIMEOUT_MS: the longest one Supabase or S3 call may take. */
    readonly timeoutMs: number;
    readonly supabase: { readonly url: string; readonly key: string } | null;
    readonly s3: {
      readonly endpoint: string | null;
      readonly bucket: string;
      readonly region: string;
      readonly publicUrl: string | null;
      readonly accessKeyId: string | null;
      readonly secretAccessKey: string | null;
    } | null;
  };
  readonly media: {
    readonly maxBytes: number;
    readonly timeoutMs: number;
    /**
     * MEDIA_REDIRECT_ALLOWLIST, normalised: origins (`http://127.0.0.1:9000`), `host:port`
     * or bare hosts (any port). Consulted only with a non-default TWILIO_API_BASE_URL.
     */
    readonly redirectAllowlist: readonly string[];
  };
  /** AUTO_REGISTER */
  readonly autoRegister: boolean;
  /** POINTS_PER_TASK */
  readonly pointsPerTask: number;
  /** TZ: the time zone of users without their own; an IANA name. */
  readonly defaultTimezone: string;
  readonly reminders: {
    /** REMINDER_OFFSETS: minutes before the due time, largest (least urgent) first. */
    readonly offsetsMinutes: readonly number[];
    /** REMINDER_CONTENT_SID: template for reminders outside the 24-hour window. */
    readonly contentSid: string | null;
    /** REMINDER_BUTTONS_CONTENT_SID: quick-reply template for reminders inside the window. */
    readonly buttonsContentSid: string | null;
    /** TASK_NOTICE_CONTENT_SID: template for assignment notices outside the window. */
    readonly taskNoticeContentSid: string | null;
    /** REMINDER_SMS_FALLBACK (only when TWILIO_PHONE_NUMBER is set). */
    readonly smsFallback: boolean;
  };
  /** PROOF_DUPLICATE_DISTANCE: 0 = exact bytes only. */
  readonly proofDuplicateDistance: number;
  /** PAUSE_MAX_DAYS_PER_30: paused days a person may have in any 30. */
  readonly pauseMaxDaysPer30: number;
  readonly review: {
    /** REVIEW_TIMEOUT in ms. */
    readonly timeoutMs: number;
    /** PROOF_MODEL_URL and the rest; null when PROOF_MODEL_URL is unset. */
    readonly model: {
      readonly url: string;
      readonly model: string;
      readonly key: string | null;
      readonly timeoutMs: number;
      readonly minConfidence: number;
    } | null;
  };
  readonly digests: {
    /** SHARE_DIGEST_HOUR: the evening hour of group digests, in each group's zone. */
    readonly hour: number;
    /** DIGEST_CONTENT_SID: template for digests outside the 24-hour window. */
    readonly contentSid: string | null;
  };
  readonly worker: {
    /** RUN_WORKERS: whether `taskwire serve` processes messages itself. */
    readonly inServe: boolean;
    readonly concurrency: number;
    readonly maxAttempts: number;
    readonly backoffMs: number;
    readonly pollMs: number;
    readonly leaseMs: number;
    /** WORKER_PORT: where `taskwire worker` serves /health, /ready, /metrics; null: none. */
    readonly port: number | null;
  };
}

export interface DevSecrets {
  apiToken: string;
  twilioAuthToken: string;
}

/**
 * The development simulator's made-up account SID: derived from the auth token, so the
 * service and `taskwire simulate` agree on it without another secret to keep.
 */
export const simulatorAccountSid = (authToken: string): string =>
  `AC${createHmac('sha256', authToken).update('taskwire simulator account').digest('hex').slice(0, 32)}`;

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export interface LoadConfigOptions {
  /** Base for relative paths such as DATA_DIR. */
  cwd?: string;
  /** Supplies generated secrets in development when API_TOKEN / TWILIO_AUTH_TOKEN are unset. */
  devSecrets?: (dataDir: string) => DevSecrets;
}

const logLevels: readonly LogLevel[] = [
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
];
const defaults = new Map(variables.map((v) => [v.name, v.default]));

/**
 * Reads and validates the environment once. Every problem is collected and reported
 * together, naming the variable and what it expects, so one restart fixes them all.
 */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>>,
  options: LoadConfigOptions = {},
): Config {
  const problems: string[] = [];
  const raw = (name: string): string | null => {
    const value = env[name]?.trim();
    if (value !== undefined && value !== '') return value;
    return defaults.get(name) ?? null;
  };
  const text = (name: string): string | null => raw(name);
  const int = (name: string, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const value = raw(name) ?? '';
    const parsed = Number(value);
    if (!/^\d+$/.test(value) || parsed < min || parsed > max) {
      problems.push(`${name}="${value}": expected a whole number between ${min} and ${max}`);
      return min;
    }
    return parsed;
  };
  const bool = (name: string): boolean => {
    const value = (raw(name) ?? '').toLowerCase();
    if (['true', '1', 'yes'].includes(value)) return true;
    if (['false', '0', 'no'].includes(value)) return false;
    problems.push(`${name}="${value}": expected true or false`);
    return false;
  };
  const url = (name: string): string | null => {
    const value = raw(name);
    if (value === null) return null;
    try {
      const parsed = new URL(value);
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('protocol');
      return value.replace(/\/+$/, '');
    } catch {
      problems.push(`${name}="${value}": expected an http(s) URL such as https://example.com`);
      return null;
    }
  };
  const databaseUrl = (): string | null => {
    const value = raw('DATABASE_URL');
    if (value === null) return null;
    if (!/^postgres(ql)?:\/\//.test(value)) {
      problems.push('DATABASE_URL: expected a postgres:// or postgresql:// connection string');
      return null;
    }
    return value;
  };

  const nodeEnv = raw('NODE_ENV') ?? 'development';
  const production = nodeEnv === 'production';
  const dataDir = path.resolve(options.cwd ?? process.cwd(), raw('DATA_DIR') ?? './data');

  const logLevel = (raw('LOG_LEVEL') ?? 'info') as LogLevel;
  if (!logLevels.includes(logLevel)) {
    problems.push(`LOG_LEVEL="${logLevel}": expected one of ${logLevels.join(', ')}`);
  }

  let apiToken = text('API_TOKEN');
  let twilioAuthToken = text('TWILIO_AUTH_TOKEN');
  const apiTokenSource = apiToken ? 'env' : 'generated';
  const authTokenSource = twilioAuthToken ? 'env' : 'generated';
  if (production) {
    if (!apiToken)
      problems.push(
        'API_TOKEN: required when NODE_ENV=production (the bearer token for admin routes)',
      );
    if (!twilioAuthToken)
      problems.push(
        'TWILIO_AUTH_TOKEN: required when NODE_ENV=production (from the Twilio console)',
      );
  }
  if (apiToken && apiToken.length < 16) {
    problems.push(
      'API_TOKEN: expected at least 16 characters; generate one with `openssl rand -hex 32`',
    );
  }
  const metricsToken = text('METRICS_TOKEN');
  if (metricsToken && metricsToken.length < 16) {
    problems.push(
      'METRICS_TOKEN: expected at least 16 characters; generate one with `openssl rand -hex 32`',
    );
  }

  const accountSid = text('TWILIO_ACCOUNT_SID');
  if (accountSid && !/^AC[0-9a-fA-F]{32}$/.test(accountSid)) {
    problems.push(
      'TWILIO_ACCOUNT_SID: expected "AC" followed by 32 hex characters, as shown in the Twilio console',
    );
  }
  const phoneNumber = text('TWILIO_PHONE_NUMBER');
  if (phoneNumber && !isE164(phoneNumber)) {
    problems.push('TWILIO_PHONE_NUMBER: expected an E.164 number such as +15551234567');
  }
  const whatsappNumber = text('TWILIO_WHATSAPP_NUMBER');
  if (whatsappNumber && !isE164(whatsappNumber.replace(/^whatsapp:/, ''))) {
    problems.push(
      'TWILIO_WHATSAPP_NUMBER: expected an E.164 number such as +14155238886 (with or without "whatsapp:")',
    );
  }

  const supabaseUrl = url('SUPABASE_URL');
  const supabaseKey = text('SUPABASE_KEY');
  const driverValue = raw('STORAGE_DRIVER') ?? (supabaseUrl ? 'supabase' : 'local');
  let driver: StorageDriverName = 'local';
  if (driverValue === 'local' || driverValue === 'supabase' || driverValue === 's3') {
    driver = driverValue;
  } else {
    problems.push(`STORAGE_DRIVER="${driverValue}": expected local, supabase or s3`);
  }
  const bucket = raw('SUPABASE_BUCKET') ?? 'notes';
  if (driver === 'supabase' && (!supabaseUrl || !supabaseKey)) {
    problems.push('SUPABASE_URL and SUPABASE_KEY: both required for STORAGE_DRIVER=supabase');
  }
  const s3Bucket = raw('S3_BUCKET') ?? bucket;
  const s3Endpoint = url('S3_ENDPOINT');
  const s3PublicUrl = url('S3_PUBLIC_URL');

  const defaultTimezone = raw('TZ') ?? 'UTC';
  if (!isTimeZone(defaultTimezone)) {
    problems.push(
      `TZ="${defaultTimezone}": expected an IANA time zone such as Europe/Paris or UTC`,
    );
  }
  const reminderOffsets = parseReminderOffsets(raw('REMINDER_OFFSETS') ?? '60,15', problems);
  const contentSid = (name: string) => {
    const sid = text(name);
    if (sid && !/^HX[0-9a-fA-F]{32}$/.test(sid)) {
      problems.push(
        `${name}: expected "HX" followed by 32 hex characters, as shown in Twilio's Content Template Builder`,
      );
    }
    return sid;
  };
  const reminderContentSid = contentSid('REMINDER_CONTENT_SID');
  const proofModelUrl = url('PROOF_MODEL_URL');

  if (!production && options.devSecrets && (!apiToken || !twilioAuthToken)) {
    const generated = options.devSecrets(dataDir);
    apiToken ??= generated.apiToken;
    twilioAuthToken ??= generated.twilioAuthToken;
  }

  const config: Config = {
    production,
    host: raw('HOST') ?? '0.0.0.0',
    port: int('PORT', 0, 65535),
    dataDir,
    databaseUrl: databaseUrl(),
    databasePoolSize: int('DATABASE_POOL_SIZE', 1, 1000),
    databaseConnectTimeoutMs: int('DATABASE_CONNECT_TIMEOUT_MS', 0, 3_600_000),
    apiToken: apiToken ?? '',
    apiTokenSource,
    metricsToken,
    apiRateLimit: int('API_RATE_LIMIT', 0, 1_000_000),
    publicUrl: url('PUBLIC_URL'),
    trustProxy: parseTrustProxy(raw('TRUST_PROXY'), problems),
    logLevel,
    twilio: {
      accountSid,
      authToken: twilioAuthToken ?? '',
      authTokenSource,
      phoneNumber,
      whatsappNumber: whatsappNumber ? whatsappNumber.replace(/^whatsapp:/, '') : null,
      apiBaseUrl: url('TWILIO_API_BASE_URL') ?? 'https://api.twilio.com',
      deleteMedia: bool('TWILIO_DELETE_MEDIA'),
      simulator:
        !production && !accountSid && twilioAuthToken
          ? { accountSid: simulatorAccountSid(twilioAuthToken) }
          : null,
    },
    storage: {
      driver,
      bucket,
      public: bool('STORAGE_PUBLIC'),
      signedUrlTtlSeconds: int('STORAGE_SIGNED_URL_TTL', 1, 604800),
      timeoutMs: int('STORAGE_TIMEOUT_MS', 100),
      supabase: supabaseUrl && supabaseKey ? { url: supabaseUrl, key: supabaseKey } : null,
      s3:
        driver === 's3'
          ? {
              endpoint: s3Endpoint,
              bucket: s3Bucket,
              region: raw('S3_REGION') ?? 'us-east-1',
              publicUrl: s3PublicUrl,
              accessKeyId: text('AWS_ACCESS_KEY_ID'),
              secretAccessKey: text('AWS_SECRET_ACCESS_KEY'),
            }
          : null,
    },
    media: {
      maxBytes: int('MEDIA_MAX_BYTES', 1),
      timeoutMs: int('MEDIA_TIMEOUT_MS', 100),
      redirectAllowlist: parseRedirectAllowlist(raw('MEDIA_REDIRECT_ALLOWLIST'), problems),
    },
    autoRegister: bool('AUTO_REGISTER'),
    pointsPerTask: int('POINTS_PER_TASK', 0, 100000),
    defaultTimezone,
    reminders: {
      offsetsMinutes: reminderOffsets,
      contentSid: reminderContentSid,
      buttonsContentSid: contentSid('REMINDER_BUTTONS_CONTENT_SID'),
      taskNoticeContentSid: contentSid('TASK_NOTICE_CONTENT_SID'),
      smsFallback: bool('REMINDER_SMS_FALLBACK'),
    },
    proofDuplicateDistance: int('PROOF_DUPLICATE_DISTANCE', 0, 64),
    pauseMaxDaysPer30: int('PAUSE_MAX_DAYS_PER_30', 0, 30),
    review: {
      timeoutMs: parseDuration('REVIEW_TIMEOUT', raw('REVIEW_TIMEOUT') ?? '12h', problems),
      model: proofModelUrl
        ? {
            url: proofModelUrl,
            model: raw('PROOF_MODEL') ?? 'gpt-4o-mini',
            key: text('PROOF_MODEL_KEY'),
            timeoutMs: int('PROOF_MODEL_TIMEOUT_MS', 100, 600_000),
            minConfidence: parseConfidence(raw('PROOF_MODEL_CONFIDENCE') ?? '0.8', problems),
          }
        : null,
    },
    digests: {
      hour: int('SHARE_DIGEST_HOUR', 0, 23),
      contentSid: contentSid('DIGEST_CONTENT_SID'),
    },
    worker: {
      inServe: bool('RUN_WORKERS'),
      concurrency: int('WORKER_CONCURRENCY', 1, 256),
      maxAttempts: int('WORKER_MAX_ATTEMPTS', 1, 100),
      backoffMs: int('WORKER_BACKOFF_MS', 0),
      pollMs: int('WORKER_POLL_MS', 10),
      leaseMs: int('WORKER_LEASE_MS', 1000),
      port: raw('WORKER_PORT') === null ? null : int('WORKER_PORT', 1, 65535),
    },
  };

  if (!config.apiToken && problems.length === 0) {
    problems.push('API_TOKEN: not set and no development secret could be generated');
  }
  // An empty auth token would accept webhooks signed by anyone (an HMAC with an empty key).
  if (!config.twilio.authToken && problems.length === 0) {
    problems.push('TWILIO_AUTH_TOKEN: not set and no development secret could be generated');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}

/** Whether `name` is a time zone this runtime knows (IANA names, `UTC`). */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** `60,15` → [60, 15]: distinct whole minutes, largest first; empty → no reminders. */
function parseReminderOffsets(value: string, problems: string[]): number[] {
  const parts = value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  const minutes = parts.map(Number);
  if (minutes.some((m) => !Number.isInteger(m) || m < 1 || m > 10080)) {
    problems.push(
      `REMINDER_OFFSETS="${value}": expected whole minutes between 1 and 10080, comma-separated, such as 60,15`,
    );
    return [];
  }
  return [...new Set(minutes)].sort((a, b) => b - a);
}

/** Proxy-addr's names for the ranges they cover, as Fastify's `trustProxy` accepts them. */
const proxyRangeNames = ['loopback', 'linklocal', 'uniquelocal'];

/** TRUST_PROXY: unset/`false`/`0` → off; `2` → two hops; `10.0.0.0/8,127.0.0.1` → those proxies. */
function parseTrustProxy(value: string | null, problems: string[]): false | number | string[] {
  if (value === null || ['false', 'no', 'off', '0'].includes(value.toLowerCase())) return false;
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (hops <= 64) return hops;
  }
  if (['true', 'yes', 'on'].includes(value.toLowerCase())) {
    problems.push(
      `TRUST_PROXY="${value}": trusting every hop lets any client choose its own address; give the number of proxies in front of the service (1 on Railway) or their addresses`,
    );
    return false;
  }
  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  const valid = (entry: string): boolean => {
    if (proxyRangeNames.includes(entry)) return true;
    const [address = '', prefix, ...rest] = entry.split('/');
    const family = isIP(address);
    if (family === 0 || rest.length > 0) return false;
    if (prefix === undefined) return true;
    return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
  };
  const invalid = entries.filter((entry) => !valid(entry));
  if (entries.length === 0 || invalid.length > 0) {
    problems.push(
      `TRUST_PROXY="${value}": expected a hop count (1 to 64) or comma-separated proxy addresses or CIDRs such as 10.0.0.0/8,127.0.0.1`,
    );
    return false;
  }
  return entries;
}

/**
 * MEDIA_REDIRECT_ALLOWLIST: `http://127.0.0.1:9000` → its origin; `cdn.local:9000` →
 * `cdn.local:9000`; `cdn.local` → any port of it. Hosts are lower-cased, IPv6 in brackets.
 */
function parseRedirectAllowlist(value: string | null, problems: string[]): string[] {
  if (value === null) return [];
  const entries: string[] = [];
  for (const entry of value.split(',').map((part) => part.trim())) {
    if (entry === '') continue;
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(entry)) {
      try {
        const parsed = new URL(entry);
        const bare = parsed.pathname === '/' && !parsed.search && !parsed.hash;
        if ((parsed.protocol === 'http:' || parsed.protocol === 'https:') && bare) {
          if (!parsed.username && !parsed.password) {
            entries.push(parsed.origin);
            continue;
          }
        }
      } catch {
        // Reported below.
      }
    } else {
      const match = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d{1,5}))?$/i.exec(entry);
      const port = match?.[2];
      if (match && (port === undefined || Number(port) <= 65535)) {
        const host = (match[1] as string).toLowerCase();
        entries.push(port === undefined ? host : `${host}:${Number(port)}`);
        continue;
      }
    }
    problems.push(
      `MEDIA_REDIRECT_ALLOWLIST: "${entry}" is not an origin (http://127.0.0.1:9000), host:port or host`,
    );
  }
  return entries;
}

/** REVIEW_TIMEOUT: `12h`, `90m`, `45s`, `2d` → milliseconds (1 second to 30 days). */
function parseDuration(name: string, value: string, problems: string[]): number {
  const match = /^(\d+)\s*(s|m|h|d)$/i.exec(value);
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  const ms = match
    ? Number(match[1]) * unit[(match[2] ?? 's').toLowerCase() as keyof typeof unit]
    : Number.NaN;
  if (!(ms >= 1000 && ms <= 30 * 86_400_000)) {
    problems.push(`${name}="${value}": expected a duration such as 12h, 90m or 2d (at most 30d)`);
    return 12 * 3_600_000;
  }
  return ms;
}

/** PROOF_MODEL_CONFIDENCE: a number from 0 to 1. */
function parseConfidence(value: string, problems: string[]): number {
  const parsed = Number(value);
  if (!/^\d*\.?\d+$/.test(value) || parsed < 0 || parsed > 1) {
    problems.push(`PROOF_MODEL_CONFIDENCE="${value}": expected a number from 0 to 1, such as 0.8`);
    return 0.8;
  }
  return parsed;
}
