import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalidSignature, validationFailed } from '../../domain/errors.js';
import type { TwilioParams } from '../../domain/message.js';
import { type ReceiveInboundDeps, receiveInbound } from '../../services/receive-inbound.js';
import { parseInboundParams } from '../../twilio/inbound-params.js';
import { isSignedByTwilio, signedUrl } from '../../twilio/signature.js';
import { acceptOnlyFormBodies } from '../plugins/form-body.js';

// An empty TwiML document: "received, nothing to say now". Replies go out through the
// REST API after processing, so Twilio is never kept waiting on our work.
const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>';

export interface StatusUpdate {
  sid: string;
  status: string;
  errorCode: number | null;
}

export interface TwilioWebhookOptions {
  authToken: string;
  publicUrl: string | null;
  receive: ReceiveInboundDeps;
  /** Records a delivery status callback for one of our outbound messages. */
  recordStatus?: (update: StatusUpdate) => Promise<unknown>;
}

/**
 * Twilio's webhooks: POST /webhook/twilio ("A message comes in") and
 * POST /webhook/twilio/status (delivery status of what we sent). The signature is
 * checked before anything is stored; the answer is sent only after the write committed.
 */
export async function twilioWebhookRoutes(app: FastifyInstance, options: TwilioWebhookOptions) {
  acceptOnlyFormBodies(app);

  /** The posted form, once its signature is verified; throws 403 otherwise. */
  const verifiedParams = (request: FastifyRequest): TwilioParams => {
    const params = (request.body ?? {}) as TwilioParams;
    const url = signedUrl(options.publicUrl, {
      pathAndQuery: request.url,
      protocol: request.protocol,
      host: request.headers.host,
      forwardedProto: request.headers['x-forwarded-proto'],
      forwardedHost: request.headers['x-forwarded-host'],
    });
    const header = request.headers['x-twilio-signature'];
    const signature = Array.isArray(header) ? header[0] : header;
    if (!isSignedByTwilio(options.authToken, { signature, url, params })) {
      throw invalidSignature(
        signature
          ? `X-Twilio-Signature does not match ${url}. If Twilio calls a different public URL, set PUBLIC_URL.`
          : 'Missing X-Twilio-Signature header: only Twilio may call this webhook.',
      );
    }
    return params;
  };

  app.post('/webhook/twilio', { logLevel: 'warn' }, async (request, reply) => {
    const message = parseInboundParams(verifiedParams(request));
    await receiveInbound(message, options.receive);
    return reply.type('text/xml; charset=utf-8').send(EMPTY_TWIML);
  });

  app.post('/webhook/twilio/status', { logLevel: 'warn' }, async (request, reply) => {
    const params = verifiedParams(request);
    const first = (key: string): string | undefined => {
      const value = params[key];
      return Array.isArray(value) ? value[0] : value;
    };
    const sid = first('MessageSid') ?? first('SmsSid');
    const status = first('MessageStatus') ?? first('SmsStatus');
    if (!sid || !status) {
      throw validationFailed('A status callback needs MessageSid and MessageStatus.');
    }
    const errorCode = first('ErrorCode');
    await options.recordStatus?.({
      sid,
      status: status.toLowerCase(),
      errorCode: errorCode && /^\d+$/.test(errorCode) ? Number(errorCode) : null,
    });
    return reply.status(204).send();
  });
}
