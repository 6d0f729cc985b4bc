import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { forbidden, notFound, unauthorized, validationFailed } from '../../domain/errors.js';
import type { BlobStore } from '../../storage/adapter.js';
import type { AdminGuard } from '../plugins/security.js';
import { requireBearerToken } from '../plugins/bearer-auth.js';

/**
 * Development without a Twilio account: the service stands in for Twilio's media server,
 * so `taskwire simulate --image photo.jpg` exercises the very download path real photos
 * take. Served only when TWILIO_ACCOUNT_SID is unset and NODE_ENV is not production.
 *
 * - `POST /simulator/media` (API token): the CLI uploads the photo; the answer names the
 *   MessageSid to post the webhook with and the MediaUrl0 to put in it.
 * - `GET /simulator/2010-04-01/Accounts/{AC}/Messages/{MM}/Media/{ME}`: as at Twilio, HTTP
 *   basic auth with the (simulator) account SID and TWILIO_AUTH_TOKEN, answered with a
 *   redirect to a signed, expiring "CDN" URL.
 * - `GET /simulator/cdn/{MM}/{ME}?expires=&signature=`: the bytes, no credentials needed.
 */
export interface SimulatorRoutesOptions {
  /** The simulator's made-up account: the basic-auth user name. */
  accountSid: string;
  /** TWILIO_AUTH_TOKEN: the basic-auth password. */
  authToken: string;
  /** The admin token, for uploads. */
  apiToken: string;
  /** What media URLs start with, e.g. http://127.0.0.1:8000/simulator (see simulatorApiBaseUrl). */
  apiBaseUrl: string;
  /** Where uploaded photos are kept until the service has copied them. */
  store: BlobStore;
  /** MEDIA_MAX_BYTES. */
  maxBytes: number;
  guard?: AdminGuard;
}

/** How long a redirect to the "CDN" stays valid (Twilio's last about four hours). */
const CDN_URL_TTL_SECONDS = 3600;
const SID = /^[A-Z]{2}[0-9a-f]{32}$/;

const newSid = (prefix: string) => `${prefix}${randomBytes(16).toString('hex')}`;
const digest = (value: string) => createHash('sha256').update(value).digest();
const objectKey = (messageSid: string, mediaSid: string) => `media/${messageSid}/${mediaSid}`;

export async function simulatorRoutes(app: FastifyInstance, options: SimulatorRoutesOptions) {
  const expectedAuth = digest(
    `Basic ${Buffer.from(`${options.accountSid}:${options.authToken}`).toString('base64')}`,
  );
  const signingKey = createHmac('sha256', options.authToken)
    .update('taskwire simulator cdn')
    .digest();
  const sign = (messageSid: string, mediaSid: string, expires: number) =>
    createHmac('sha256', signingKey).update(`${messageSid}/${mediaSid}:${expires}`).digest('hex');

  // Uploads: any content type, as raw bytes, up to MEDIA_MAX_BYTES.
  await app.register(async (admin) => {
    options.guard?.protect(admin);
    requireBearerToken(admin, options.apiToken);
    admin.removeAllContentTypeParsers();
    admin.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) =>
      done(null, body),
    );
    admin.post(
      '/simulator/media',
      {
        bodyLimit: options.maxBytes,
        schema: {
          summary: 'Development: upload a photo for `taskwire simulate --image`',
          description:
            'Only without TWILIO_ACCOUNT_SID (development). The body is the file; its Content-Type is kept. Answers the MessageSid and MediaUrl0 to post the webhook with.',
          tags: ['simulator'],
        },
      },
      async (request, reply) => {
        const body = request.body;
        if (!Buffer.isBuffer(body) || body.length === 0) {
          throw validationFailed('Send the file as the request body, with its Content-Type.');
        }
        const contentType = (request.headers['content-type'] ?? 'application/octet-stream')
          .split(';')[0]
          ?.trim()
          .toLowerCase() as string;
        const messageSid = newSid('MM');
        const mediaSid = newSid('ME');
        await options.store.put(objectKey(messageSid, mediaSid), Readable.from([body]), {
          contentType,
          contentLength: body.length,
        });
        return reply.status(201).send({
          account_sid: options.accountSid,
          message_sid: messageSid,
          media_sid: mediaSid,
          media_url: `${options.apiBaseUrl}/2010-04-01/Accounts/${options.accountSid}/Messages/${messageSid}/Media/${mediaSid}`,
          content_type: contentType,
          size: body.length,
        });
      },
    );
  });

  app.get<{ Params: { accountSid: string; messageSid: string; mediaSid: string } }>(
    '/simulator/2010-04-01/Accounts/:accountSid/Messages/:messageSid/Media/:mediaSid',
    { schema: { hide: true } },
    async (request, reply) => {
      const given = digest(request.headers.authorization ?? '');
      if (!timingSafeEqual(given, expectedAuth)) {
        void reply.header('www-authenticate', 'Basic realm="Twilio API"');
        throw unauthorized('Authenticate with the account SID and TWILIO_AUTH_TOKEN.');
      }
      const { accountSid, messageSid, mediaSid } = request.params;
      const missing = () => notFound(`No media ${mediaSid} in message ${messageSid}.`);
      if (accountSid !== options.accountSid || !SID.test(messageSid) || !SID.test(mediaSid)) {
        throw missing();
      }
      const object = await options.store.get(objectKey(messageSid, mediaSid));
      if (!object) throw missing();
      object.body.destroy();
      const expires = Math.floor(Date.now() / 1000) + CDN_URL_TTL_SECONDS;
      const signature = sign(messageSid, mediaSid, expires);
      return reply.redirect(
        `/simulator/cdn/${messageSid}/${mediaSid}?expires=${expires}&signature=${signature}`,
        307,
      );
    },
  );

  app.get<{
    Params: { messageSid: string; mediaSid: string };
    Querystring: { expires?: string; signature?: string };
  }>('/simulator/cdn/:messageSid/:mediaSid', { schema: { hide: true } }, async (request, reply) => {
    const { messageSid, mediaSid } = request.params;
    const { expires, signature } = request.query;
    const denied = () => forbidden('Access denied: a missing, wrong or expired signature.');
    if (!SID.test(messageSid) || !SID.test(mediaSid)) throw denied();
    if (typeof expires !== 'string' || !/^\d{1,12}$/.test(expires)) throw denied();
    if (typeof signature !== 'string' || !/^[0-9a-f]{64}$/.test(signature)) throw denied();
    const expected = Buffer.from(sign(messageSid, mediaSid, Number(expires)), 'hex');
    if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) throw denied();
    if (Number(expires) < Date.now() / 1000) throw denied();
    const object = await options.store.get(objectKey(messageSid, mediaSid));
    if (!object) throw notFound(`No media ${mediaSid}.`);
    return reply
      .header('content-type', object.contentType)
      .header('content-length', object.size)
      .header('x-content-type-options', 'nosniff')
      .send(object.body);
  });
}
