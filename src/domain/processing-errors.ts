/**
 * Thrown by a job step when trying again cannot help (a refused media host, a message
 * Twilio rejects as invalid): the message is marked failed at once instead of retried.
 */
export class PermanentJobError extends Error {
  readonly permanent = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentJobError';
  }
}

/**
 * Thrown when another attempt may well succeed (a storage call that timed out, or that the
 * backend answered with a 5xx): the job is retried with back-off, as a media download is.
 * Any error that is not permanent retries; this class says so explicitly, so a wrapper
 * further up (the media copy) can keep it rather than blame something else.
 */
export class TransientJobError extends Error {
  readonly permanent = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransientJobError';
  }
}

export const isPermanent = (error: unknown): boolean =>
  typeof error === 'object' &&
  error !== null &&
  (error as { permanent?: unknown }).permanent === true;

/** A message for the `error` column: what went wrong, without stack or secrets. */
export const describeError = (error: unknown): string =>
  (error instanceof Error ? error.message : String(error)).slice(0, 1000);

/**
 * The message was taken over by another worker (our lease expired) or handed back at
 * shutdown before we finished: our final transaction must not commit.
 */
export class ClaimLostError extends Error {
  constructor(messageId: number) {
    super(`message ${messageId}: processing claim lost`);
    this.name = 'ClaimLostError';
  }
}
