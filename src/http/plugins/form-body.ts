import { parse } from 'node:querystring';
import type { FastifyInstance } from 'fastify';
import type { TwilioParams } from '../../domain/message.js';

/**
 * Accepts only `application/x-www-form-urlencoded`, the way Twilio posts webhooks; any
 * other content type is answered 415 by Fastify. Repeated keys keep every value.
 */
export function acceptOnlyFormBodies(scope: FastifyInstance): void {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => {
      done(null, parse(body as string) as TwilioParams);
    },
  );
}
