import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { invalidSignature, isAppError, validationFailed } from '../../domain/errors.js';
import type { TwilioParams } from '../../domain/message.js';
import { type ReceiveInboundDeps, receiveInbound } from '../../services/receive-inbound.js';
import { isTwilioSid, parseInboundParams } from '../../twilio/inbound-params.js';
import { isSignedByTwilio, signedUrl } from '../../twilio/signature.js';
import { acceptOnlyFormBodies } from '../plugins/form-body.js';
import { documentationOnly, ErrorBody } from '../schemas.js';

// An empty TwiML document: "received, nothing to say now". Replies go out through the
// REST API after processing, so Twilio is never kept waiting on our work.
const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>';

const FORM = ['application/x-www-form-urlencoded'];
const SIGNED = [{ twilioSignature: [] }];
const TwimlResponse = {
  description: 'Empty TwiML: received. Replies go out through the REST API after processing.',
  content: { 'text/xml': { schema: { type: 'string', examples: [EMPTY_TWIML] } } },
};
const webhookErrors = { 400: ErrorBody, 403: ErrorBody, 413: ErrorBody, 415: ErrorBody };

// No security headers on what only Twilio reads: TwiML or nothing, never a page a browser
// renders. @fastify/helmet builds its middleware again on every request it handles, which
// cost 7.5% of the server's CPU on this, the busiest route.
const NO_HELMET = { helmet: { skipRoute: true } };

/**
 * Twilio's posts are a few KiB: 4,096 characters of emoji percent-encoded are 48 KiB, ten
 * media URLs 2 KiB more. A longer body is refused from its Content-Length before a byte of
 * it is read, and a chunked one as soon as it passes the limit (Fastify's body reader
 * answers 413 and closes the connection), before the signature check or any parsing; so
 * junk from anyone who knows the URL costs next to nothing (BENCHMARKS.md, bench:junk).
 */
export const WEBHOOK_BODY_LIMIT = 128 * 1024;

// A status Twilio sends (`delivered`, `partially_delivered`) and its numeric ErrorCode;
// anything else would only fail in the database.
const STATUS = /^[a-z_]{1,32}$/;
const ERROR_CODE = /^\d{1,9}$/;

// What Twilio posts. Documentation only (see documentationOnly): the handler parses it.
const InboundForm = Type.Object(
  {
    MessageSid: Type.String({ description: '`SM...` (text) or `MM...` (with media).' }),
    AccountSid: Type.String({ description: 'Your `AC...` Account SID.' }),
    From: Type.String({
      description: 'The sender, e.g. `whatsapp:+15551234567` or `+15551234567`.',
    }),
    To: Type.String({ description: 'Your Twilio number or WhatsApp sender.' }),
    Body: Type.Optional(Type.String({ description: 'The text, possibly empty.' })),
    NumMedia: Type.Optional(Type.String({ description: 'How many media items, `0` to `10`.' })),
    ProfileName: Type.Optional(Type.String({ description: "The sender's WhatsApp profile name." })),
    WaId: Type.Optional(Type.String({ description: "The sender's WhatsApp id." })),
    MessageType: Type.Optional(Type.String({ description: 'E.g. `text`, `image`.' })),
    MediaUrl0: Type.Optional(
      Type.String({
        description: 'Twilio URL of the first media item; `MediaUrl1` to `MediaUrl9` follow.',
      }),
    ),
    MediaContentType0: Type.Optional(
      Type.String({ description: 'Its Content-Type; `MediaContentTypeN` for item N.' }),
    ),
  },
  {
    additionalProperties: Type.String({
      description: "Any other parameter Twilio sends; kept in the message's `raw`.",
    }),
  },
);
const StatusForm = Type.Object(
  {
    MessageSid: Type.String({ description: 'The SID of a message Taskwire sent.' }),
    MessageStatus: Type.String({
      description: '`queued`, `sent`, `delivered`, `read`, `undelivered` or `failed`.',
    }),
    ErrorCode: Type.Optional(Type.String({ description: "Twilio's error code, when failed." })),
    AccountSid: Type.Optional(Type.String()),
  },
  { additionalProperties: Type.String() },
);

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
      // Forwarded headers count only from a TRUST_PROXY proxy; Fastify applies that rule.
      protocol: request.protocol,
      host: request.host,
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

  app.post(
    '/webhook/twilio',
    {
      logLevel: 'warn',
      config: NO_HELMET,
      bodyLimit: WEBHOOK_BODY_LIMIT,
      validatorCompiler: documentationOnly,
      schema: {
        summary: 'Twilio webhook: a message comes in',
        description:
          'Set as "A message comes in" (POST) on your WhatsApp sender or number. Checks ' +
          '`X-Twilio-Signature`, stores the message once per `MessageSid` and answers at once; ' +
          'processing (media, task completion, reply) follows in the workers.',
        tags: ['twilio'],
        consumes: FORM,
        security: SIGNED,
        body: InboundForm,
        response: { 200: TwimlResponse, ...webhookErrors },
      },
    },
    async (request, reply) => {
      const message = parseInboundParams(verifiedParams(request));
      try {
        await receiveInbound(message, options.receive);
      } catch (error) {
        // A message lost for good (Twilio does not retry a 4xx) is worth a line; the error
        // names only the SQLSTATE, never the parameters.
        if (isAppError(error) && error.code === 'unprocessable') {
          request.log.warn({ error: error.message }, 'inbound message refused by the database');
        }
        throw error;
      }
      return reply.type('text/xml; charset=utf-8').send(EMPTY_TWIML);
    },
  );

  app.post(
    '/webhook/twilio/status',
    {
      logLevel: 'warn',
      config: NO_HELMET,
      bodyLimit: WEBHOOK_BODY_LIMIT,
      validatorCompiler: documentationOnly,
      schema: {
        summary: 'Twilio webhook: delivery status of a message Taskwire sent',
        description:
          'The StatusCallback of every reply (PUBLIC_URL + this path). Signed like the inbound ' +
          'webhook; a status never moves backwards (a late `sent` after `delivered` is ignored).',
        tags: ['twilio'],
        consumes: FORM,
        security: SIGNED,
        body: StatusForm,
        response: { 204: { description: 'Recorded.', type: 'null' }, ...webhookErrors },
      },
    },
    async (request, reply) => {
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
      if (!isTwilioSid(sid) || !STATUS.test(status.toLowerCase())) {
        throw validationFailed(
          'MessageSid must be letters and digits, MessageStatus a status such as `delivered`.',
        );
      }
      const errorCode = first('ErrorCode');
      await options.recordStatus?.({
        sid,
        status: status.toLowerCase(),
        errorCode: errorCode && ERROR_CODE.test(errorCode) ? Number(errorCode) : null,
      });
      return reply.status(204).send();
    },
  );
}
