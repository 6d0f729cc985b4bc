import { TransientJobError } from '../domain/processing-errors.js';

/** STORAGE_TIMEOUT_MS when a driver is built without one (tests, hand-made stores). */
export const DEFAULT_STORAGE_TIMEOUT_MS = 30_000;

/**
 * The storage backend could not be used right now: a call that did not finish within
 * STORAGE_TIMEOUT_MS, a 5xx answer, a connection refused. Transient, so the media job is
 * retried with back-off; the message names the backend and never a key's credentials.
 */
export class StorageUnavailableError extends TransientJobError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageUnavailableError';
  }
}

export class StorageTimeoutError extends StorageUnavailableError {
  constructor(
    readonly backend: string,
    readonly action: string,
    readonly timeoutMs: number,
  ) {
    super(
      `${backend}: ${action} did not finish within STORAGE_TIMEOUT_MS (${timeoutMs} ms). ` +
        'Transient: a later attempt may succeed.',
    );
    this.name = 'StorageTimeoutError';
  }
}

/**
 * An abort signal that fires after `timeoutMs` with a StorageTimeoutError as its reason
 * (so `fetch` and the AWS SDK reject with it), and `clear()` to stop the clock once the
 * call no longer needs it: a download's body keeps streaming after its headers arrived,
 * and a signal that fired then would cut off a reader that is merely slow.
 */
export function storageDeadline(
  backend: string,
  action: string,
  timeoutMs: number,
): { signal: AbortSignal; clear(): void; expired(): StorageTimeoutError | null } {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new StorageTimeoutError(backend, action, timeoutMs)),
    timeoutMs,
  );
  // A deadline alone must not keep a finished process alive.
  timer.unref();
  return {
    signal: controller.signal,
    clear: () => clearTimeout(timer),
    expired: () =>
      controller.signal.aborted && controller.signal.reason instanceof StorageTimeoutError
        ? controller.signal.reason
        : null,
  };
}
