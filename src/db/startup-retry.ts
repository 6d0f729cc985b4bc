import { isConnectionError } from './connection-errors.js';

export interface StartupRetryOptions {
  /** How long to keep trying (DATABASE_CONNECT_TIMEOUT_MS); 0 tries once. */
  budgetMs: number;
  /** Told about each failed attempt that will be retried. */
  onRetry?: (error: unknown, waitedMs: number) => void;
}

// The start-up back-off: 250 ms after the first failure, doubling, at most 2 s apart.
const FIRST_DELAY_MS = 250;
const MAX_DELAY_MS = 2000;

/**
 * Runs a start-up step that needs the database (the first connection, the first LISTEN,
 * a scheduler's backfill), retrying it while the database is unreachable (an error
 * isConnectionError recognises) within `budgetMs`, so a database that is briefly away at
 * that instant delays start-up instead of failing it. Any other error (a wrong password, a
 * bug), or the last one once the budget is spent, rejects as it was thrown.
 */
export async function retryWhileUnreachable<T>(
  step: () => Promise<T>,
  options: StartupRetryOptions,
): Promise<T> {
  const started = Date.now();
  let delayMs = FIRST_DELAY_MS;
  for (;;) {
    try {
      return await step();
    } catch (error) {
      const waitedMs = Date.now() - started;
      if (!isConnectionError(error) || waitedMs + delayMs > options.budgetMs) {
        throw error;
      }
      options.onRetry?.(error, waitedMs);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      delayMs = Math.min(delayMs * 2, MAX_DELAY_MS);
    }
  }
}
