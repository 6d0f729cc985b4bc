import pino, { type Logger } from 'pino';
import type { LogLevel } from '../config/config.js';

/**
 * JSON logs. Secrets and phone numbers stay out: authorization and signature headers are
 * redacted wherever they appear, and request URLs are logged without their query string.
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
      serializers: {
        req: (req: { method?: string; url?: string; id?: string }) => ({
          id: req.id,
          method: req.method,
          path: req.url?.split('?')[0],
        }),
      },
    },
    destination,
  );
}
