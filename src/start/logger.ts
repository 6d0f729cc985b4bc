import pino, { type Logger } from 'pino';
import type { LogLevel } from '../config/config.js';
import { maskPhoneNumbersDeep, maskPhoneNumbersInLogText } from '../domain/redact.js';

/**
 * JSON logs, one object a line, each request's lines carrying its `reqId`. Secrets and
 * phone numbers stay out: authorization and signature headers are redacted wherever they
 * appear, request URLs are logged without their query string, and every string of every
 * record (the message, fields, serialized errors such as a Postgres `detail` quoting a
 * duplicate number) has its phone numbers masked (`+*********67`) on the way out.
 */
export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'taskwire' },
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers["x-twilio-signature"]',
          'headers.authorization',
          'headers["x-twilio-signature"]',
          '*.apiToken',
          '*.authToken',
          'apiToken',
          'authToken',
        ],
        censor: '[redacted]',
      },
      formatters: {
        log: (record) => maskPhoneNumbersDeep(record) as Record<string, unknown>,
      },
      serializers: {
        req: (req: { method?: string; url?: string; id?: string }) => ({
          id: req.id,
          method: req.method,
          path: req.url?.split('?')[0],
        }),
        err: (error: unknown) =>
          maskPhoneNumbersDeep(
            // The serialized error's prototype is pino's own: copy its fields to mask them.
            error instanceof Error ? { ...pino.stdSerializers.err(error) } : error,
          ),
        // The message, after any `%s` interpolation and when taken from a logged error.
        msg: (message: unknown) =>
          typeof message === 'string' ? maskPhoneNumbersInLogText(message) : message,
      },
    },
    destination,
  );
}
