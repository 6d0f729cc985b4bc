import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';

/**
 * The process environment over an optional `.env` file in `cwd`: a variable set in the
 * environment wins, as with dotenv. Nothing is written back to process.env.
 */
export function readEnvironment(
  processEnv: NodeJS.ProcessEnv,
  cwd: string,
): Record<string, string | undefined> {
  return { ...readEnvFile(cwd), ...processEnv };
}

/** The variables of the `.env` file in `cwd` alone (`taskwire config` names their source). */
export function readEnvFile(cwd: string): Record<string, string> {
  try {
    return parseEnv(readFileSync(path.join(cwd, '.env'), 'utf8')) as Record<string, string>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    return {};
  }
}
