/**
 * Why copying one media item from Twilio failed. `permanent` tells the job layer whether
 * another attempt could succeed; the messages end up in the message's `error` column, so
 * they never carry a credential, a query string or a phone number.
 */
export type MediaFailureReason =
  'refused' | 'too_large' | 'timeout' | 'http' | 'network' | 'redirect' | 'not_configured';

export class MediaDownloadError extends Error {
  readonly reason: MediaFailureReason;
  /** True when trying again cannot help: record the failure and stop retrying the job. */
  readonly permanent: boolean;

  constructor(
    reason: MediaFailureReason,
    message: string,
    options: { permanent: boolean; cause?: unknown },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MediaDownloadError';
    this.reason = reason;
    this.permanent = options.permanent;
  }
}

/** The URL is not one we may fetch with Twilio credentials; nothing was requested. */
export class MediaRefusedError extends MediaDownloadError {
  constructor(message: string) {
    super('refused', `${message} Permanent: the media was not requested.`, { permanent: true });
    this.name = 'MediaRefusedError';
  }
}

export class MediaTooLargeError extends MediaDownloadError {
  constructor(
    readonly maxBytes: number,
    /** The announced Content-Length, or null when the body streamed past the limit. */
    readonly announcedBytes: number | null,
  ) {
    super(
      'too_large',
      announcedBytes === null
        ? `Media is larger than MEDIA_MAX_BYTES (${maxBytes} bytes): download stopped at the limit. Permanent; nothing was stored.`
        : `Media is ${announcedBytes} bytes, more than MEDIA_MAX_BYTES (${maxBytes} bytes). Permanent; nothing was stored.`,
      { permanent: true },
    );
    this.name = 'MediaTooLargeError';
  }
}

export class MediaTimeoutError extends MediaDownloadError {
  constructor(readonly timeoutMs: number) {
    super(
      'timeout',
      `Media download did not finish within MEDIA_TIMEOUT_MS (${timeoutMs} ms). Transient: a later attempt may succeed.`,
      { permanent: false },
    );
    this.name = 'MediaTimeoutError';
  }
}

/** Twilio or its CDN answered with an error status (after any retries). */
export class MediaHttpError extends MediaDownloadError {
  constructor(
    readonly status: number,
    /** Twilio's error code from the JSON error body (20003, 20404, ...), when it sent one. */
    readonly twilioCode: number | null,
    message: string,
    permanent: boolean,
  ) {
    super('http', message, { permanent });
    this.name = 'MediaHttpError';
  }
}

export const isPermanentMediaError = (error: unknown): boolean =>
  error instanceof MediaDownloadError && error.permanent;
