import path from 'node:path';
import { ConfigError, loadConfig } from '../config/config.js';
import { devSecretsFile, readDevSecrets } from '../config/dev-secrets.js';
import { readEnvFile } from '../config/env-file.js';
import { variables } from '../config/variables.js';

/** Variables whose values are credentials: shown as their length only. */
const SECRET_VARIABLES = new Set([
  'API_TOKEN',
  'METRICS_TOKEN',
  'TWILIO_AUTH_TOKEN',
  'SUPABASE_KEY',
  'AWS_SECRET_ACCESS_KEY',
  'PROOF_MODEL_KEY',
]);

/** The development secrets loadConfig generates when unset, by variable. */
const DEV_SECRETS = { API_TOKEN: 'apiToken', TWILIO_AUTH_TOKEN: 'twilioAuthToken' } as const;

export interface ShownVariable {
  name: string;
  /** The value in effect, secrets masked; null when unset. */
  shown: string | null;
  source: string;
}

const mask = (value: string) => `******** (${value.length} characters)`;

/** A connection string without its password. */
function maskDatabaseUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.password) url.password = '****';
    return url.href;
  } catch {
    return '******** (not a URL)';
  }
}

/**
 * Each variable with the value in effect and where it comes from, as loadConfig reads
 * them: the environment over the `.env` file (an empty value counts as unset), then a
 * generated development secret or the default. Reads only: no secret is generated here.
 */
export function describeConfiguration(
  processEnv: NodeJS.ProcessEnv,
  cwd: string,
): { shown: ShownVariable[]; problems: readonly string[] } {
  const fromFile = readEnvFile(cwd);
  const env: Record<string, string | undefined> = { ...fromFile, ...processEnv };
  const value = (name: string) => env[name]?.trim() || null;
  const production = (value('NODE_ENV') ?? 'development') === 'production';
  const dataDir = path.resolve(cwd, value('DATA_DIR') ?? './data');
  const stored = production ? null : readDevSecrets(dataDir);

  const shown = variables.map((variable): ShownVariable => {
    const given = value(variable.name);
    const secret = SECRET_VARIABLES.has(variable.name);
    if (given !== null) {
      const source = processEnv[variable.name] !== undefined ? 'environment' : '.env';
      const display =
        variable.name === 'DATABASE_URL' ? maskDatabaseUrl(given) : secret ? mask(given) : given;
      return {
        name: variable.name,
        shown: display,
        source: variable.name === 'DATA_DIR' ? `${source}, ${dataDir}` : source,
      };
    }
    const generated = DEV_SECRETS[variable.name as keyof typeof DEV_SECRETS];
    if (generated && !production) {
      return stored
        ? {
            name: variable.name,
            shown: mask(stored[generated]),
            source: `generated for development, in ${devSecretsFile(dataDir)}`,
          }
        : {
            name: variable.name,
            shown: null,
            source: `not set: generated for development into ${devSecretsFile(dataDir)} at the first start`,
          };
    }
    if (variable.default !== null) {
      return {
        name: variable.name,
        shown: variable.default,
        source: variable.name === 'DATA_DIR' ? `default, ${dataDir}` : 'default',
      };
    }
    return { name: variable.name, shown: null, source: 'not set' };
  });

  let problems: readonly string[] = [];
  try {
    // Stand-ins for secrets not generated yet: `config` only looks, it writes nothing.
    loadConfig(env, {
      cwd,
      devSecrets: (dir) =>
        readDevSecrets(dir) ?? { apiToken: 'x'.repeat(48), twilioAuthToken: 'x'.repeat(32) },
    });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems = error.problems;
  }
  return { shown, problems };
}

/** The variables a problem names: `PORT="abc": …`, `SUPABASE_URL and SUPABASE_KEY: …`. */
const namedIn = (problem: string): string[] =>
  /^([A-Z][A-Z0-9_]*(?:(?:, | and )[A-Z][A-Z0-9_]*)*)[=:]/.exec(problem)?.[1]?.split(/, | and /) ??
  [];

/** `taskwire config`: the table on stdout, every problem on stderr; 1 when any. */
export function showConfig(
  processEnv: NodeJS.ProcessEnv,
  cwd: string,
  options: { describe: boolean },
): number {
  const { shown, problems } = describeConfiguration(processEnv, cwd);
  const invalid = new Set(problems.flatMap(namedIn));
  const descriptions = new Map(variables.map((v) => [v.name, v.description.replaceAll('`', '')]));
  // Aligned, but a long value (a connection string) does not push every comment away.
  const width =
    Math.min(Math.max(...shown.map((v) => `${v.name}=${v.shown ?? ''}`.length)), 40) + 2;
  const lines = shown.map((v) => {
    const assignment = `${v.name}=${v.shown ?? ''}`;
    const line = `${assignment.padEnd(width - 2)}  # ${v.source}${invalid.has(v.name) ? ' (invalid)' : ''}`;
    return options.describe ? `${line}\n    ${descriptions.get(v.name) ?? ''}` : line;
  });
  console.log(lines.join('\n'));
  if (problems.length === 0) return 0;
  console.error(`\n${new ConfigError(problems).message}`);
  return 1;
}
