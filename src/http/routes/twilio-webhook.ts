import type { FastifyInstance } from 'fastify';
import { invalidSignature } from '../../domain/errors.js';
import type { TwilioParams } from '../../domain/message.js';
import { type ReceiveInboundDeps, receiveInbound } from '../../services/receive-inbound.js';
import { parseInboundParams } from '../../twilio/inbound-params.js';
import { isSignedByTwilio, signedUrl } from '../../twilio/signature.js';
import { acceptOnlyFormBodies } from '../plugins/form-body.js';

// An empty TwiML document: "received, nothing to say now". Replies go out through the
// REST API after processing, so Twilio is never kept waiting on our work.
const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>';

export interface TwilioWebhookOptions {
  authToken: string;
  publicUrl: string | null;
  receive: ReceiveInboundDeps;
}

/**
 * POST /webhook/twilio — Twilio's "A message comes in" webhook. The signature is checked
 * before anything is stored; the answer is sent only after the message is committed.
 */
export async function twilioWebhookRoutes(app: FastifyInstance, options: TwilioWebhookOptions) {
  acceptOnlyFormBodies(app);

  app.post('/webhook/twilio', { logLevel: 'warn' }, async (request, reply) => {
    const params = (request.body ?? {}) as TwilioParams;
    const url = signedUrl(options.publicUrl, {
      pathAndQuery: request.url,
      protocol: request.protocol,
      host: request.headers.host,
      forwardedProto: request.headers['x-forwarded-proto'],
      forwardedHost: request.headers['x-forwarded-host'],
    });
    const signature = request.headers['x-twilio-signature'];
    if (
      !isSignedByTwilio(options.authToken, {
        signature: Array.isArray(signature) ? signature[0] : signature,
        url,
        params,
      })
    ) {
      throw invalidSignature(
        signature
          ? `X-Twilio-Signature does not match ${url}. If Twilio calls a different public URL, set PUBLIC_URL.`
          : 'Missing X-Twilio-Signature header: only Twilio may call this webhook.',
      );
    }
    const message = parseInboundParams(params);
    await receiveInbound(message, options.receive);
    return reply.type('text/xml; charset=utf-8').send(EMPTY_TWIML);
  });
}
