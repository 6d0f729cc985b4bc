/**
 * Every error a client can see, in one table. Domain and service code throws an
 * AppError built by one of the factories below; the HTTP layer's single error handler
 * turns it into `{ "error": { "code", "message" } }` with the status listed here.
 */
export const errorCodes = {
  validation_failed: 400,
  unauthorized: 401,
  invalid_signature: 403,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unprocessable: 422,
  rate_limited: 429,
  internal_error: 500,
  service_unavailable: 503,
} as const;

export type ErrorCode = keyof typeof errorCodes;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AppError';
    this.code = code;
    this.statusCode = errorCodes[code];
  }
}

export const isAppError = (error: unknown): error is AppError => error instanceof AppError;

export const validationFailed = (message: string) => new AppError('validation_failed', message);
export const unauthorized = (message: string) => new AppError('unauthorized', message);
export const invalidSignature = (message: string) => new AppError('invalid_signature', message);
export const forbidden = (message: string) => new AppError('forbidden', message);
export const notFound = (message: string) => new AppError('not_found', message);
export const conflict = (message: string) => new AppError('conflict', message);
export const unprocessable = (message: string) => new AppError('unprocessable', message);
export const rateLimited = (message: string) => new AppError('rate_limited', message);
export const serviceUnavailable = (message: string, options?: { cause?: unknown }) =>
  new AppError('service_unavailable', message, options);
export const internalError = (message: string) => new AppError('internal_error', message);

/** What a client reads: `{ "error": { "code", "message" } }`, the one shape of every error. */
export interface ErrorBodyOf {
  error: { code: ErrorCode; message: string };
}

/**
 * The body of an answer for `error`: built here only, so the error handler, the readiness
 * route and the answers of a server still starting all say it the same way.
 */
export const errorBody = (error: AppError): ErrorBodyOf => ({
  error: { code: error.code, message: error.message },
});
