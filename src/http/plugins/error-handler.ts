import type { FastifyError, FastifyInstance } from 'fastify';
import { isDataError, sqlState } from '../../db/data-errors.js';
import { isConnectionError } from '../../db/connection-errors.js';
import {
  AppError,
  type ErrorCode,
  errorBody,
  internalError,
  isAppError,
  notFound,
  serviceUnavailable,
  validationFailed,
} from '../../domain/errors.js';

// Fastify's own errors for malformed requests, mapped onto our error codes.
const fastifyCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'validation_failed',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'validation_failed',
  FST_ERR_CTP_INVALID_JSON_BODY: 'validation_failed',
  FST_ERR_VALIDATION: 'validation_failed',
  FST_ERR_RATE_LIMITED: 'rate_limited',
};

const friendlyMessages: Partial<Record<ErrorCode, string>> = {
  payload_too_large: 'Request body is too large: at most 1 MiB, 128 KiB for the Twilio webhooks.',
  unsupported_media_type: 'Unsupported Content-Type for this route.',
};

/** Seconds a client should wait before retrying a request the database could not take. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

const codeForStatus = (status: number): ErrorCode =>
  status === 404 ? 'not_found' : status === 401 ? 'unauthorized' : 'validation_failed';

/**
 * The one place where errors become HTTP answers: `{ "error": { "code", "message" } }`.
 * Client mistakes get their 4xx and a message that says what was wrong; anything
 * unexpected is logged and answered 500 without internals. A lost or refused database
 * connection is not a bug of the request: it is answered 503 with Retry-After, so Twilio
 * (which retries a webhook answered 5xx) delivers the message again once it is back.
 */
export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (isAppError(error)) {
      return reply.status(error.statusCode).send(errorBody(error));
    }
    if (error.validation) {
      const context = error.validationContext ?? 'request';
      const detail = error.validation
        .map((issue) => {
          const where = issue.instancePath ? issue.instancePath.slice(1).replaceAll('/', '.') : '';
          const field =
            where || (issue.params as { missingProperty?: string }).missingProperty || context;
          return `${field} ${issue.message ?? 'is invalid'}`;
        })
        .join('; ');
      return reply.status(400).send(errorBody(validationFailed(`Invalid ${context}: ${detail}`)));
    }
    // A value no schema caught and Postgres refused (a NUL, a number beyond bigint): the
    // request's fault, so a 400 rather than a 500. Logged, in case a schema should catch it.
    if (isDataError(error)) {
      request.log.warn({ sqlstate: sqlState(error) }, 'request value refused by the database');
      return reply
        .status(400)
        .send(
          errorBody(
            validationFailed(
              `A value in the request cannot be stored or compared (SQLSTATE ${sqlState(error)}): check its numbers and text.`,
            ),
          ),
        );
    }
    const mapped = error.code ? fastifyCodes[error.code] : undefined;
    const status = error.statusCode ?? 500;
    if (mapped || (status >= 400 && status < 500)) {
      const code = mapped ?? codeForStatus(status);
      // Fastify's own 4xx status stands, with the closest code of ours.
      return reply
        .status(status >= 400 && status < 500 ? status : 400)
        .send(errorBody(new AppError(code, friendlyMessages[code] ?? error.message)));
    }
    if (isConnectionError(error)) {
      // Only the driver's message: it names the failure, never the data being written.
      request.log.warn(
        { err: { message: error.message, code: error.code } },
        'database unreachable',
      );
      return reply
        .status(503)
        .header('retry-after', String(DATABASE_RETRY_AFTER_SECONDS))
        .send(
          errorBody(
            serviceUnavailable(
              'The database is unreachable right now, so this request could not be completed. Retry in a few seconds (a webhook delivered again is stored once).',
            ),
          ),
        );
    }
    request.log.error({ err: error }, 'request failed');
    return reply
      .status(500)
      .send(errorBody(internalError('Something went wrong on our side; it has been logged.')));
  });

  app.setNotFoundHandler((request, reply) => {
    void reply
      .status(404)
      .send(errorBody(notFound(`No route for ${request.method} ${request.url.split('?')[0]}`)));
  });
}
