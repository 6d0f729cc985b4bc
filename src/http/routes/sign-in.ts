import type { FastifyInstance, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Queryable } from '../../db/executor.js';
import {
  SIGN_IN_PATH,
  endSession,
  exchangeSignInToken,
  signInLinkUsable,
} from '../../services/sign-in.js';
import { SESSION_COOKIE, readCookie, setSessionCookie } from '../plugins/session-auth.js';
import {
  DEFAULT_SIGN_IN_LIMITS,
  type SignInLimits,
  signInLimitHook,
} from '../plugins/sign-in-limits.js';
import { sessionOf } from '../../services/sign-in.js';

export interface SignInRoutesOptions {
  db: Queryable;
  clock: () => Date;
  /** Requests per client address and per link (default DEFAULT_SIGN_IN_LIMITS). */
  limits?: SignInLimits;
}

const escapeHtml = (text: string): string =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );

/** A small page of our own (no script: the form works without one). */
function page(reply: FastifyReply, status: number, title: string, body: string): FastifyReply {
  return (
    reply
      .status(status)
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      // The token is in this page's URL: never send it on as a Referer.
      .header('referrer-policy', 'no-referrer')
      .send(
        `<!doctype html><html lang="en"><head><meta charset="utf-8">` +
          `<meta name="viewport" content="width=device-width, initial-scale=1">` +
          `<meta name="robots" content="noindex">` +
          `<title>${escapeHtml(title)} · Taskwire</title>` +
          `<link rel="stylesheet" href="/app/styles.css"></head>` +
          `<body class="sign-in"><main class="sign-in-card"><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`,
      )
  );
}

const expiredBody =
  '<p>This sign-in link was already used or has expired (links last 15 minutes and work once).</p>' +
  '<p>Send <strong>link</strong> to Taskwire on WhatsApp for a new one.</p>';

const Query = Type.Object({ token: Type.Optional(Type.String({ maxLength: 200 })) });

/**
 * The magic link (services/sign-in.ts). GET only shows a Continue button and consumes
 * nothing, since WhatsApp and other apps fetch links to draw their previews; the button
 * POSTs to the same URL, which exchanges the token for the session cookie. The token rides
 * in the query string, which the access log leaves out.
 */
export async function signInRoutes(app: FastifyInstance, options: SignInRoutesOptions) {
  // The Continue button posts an (empty) HTML form; its body is not read.
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 4096 },
    (_request, _body, done) => done(null, {}),
  );
  app.addHook('onRoute', (route) => {
    // Pages for people, not API operations.
    route.schema = { ...route.schema, hide: true };
  });
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  // Both the page and Continue count: either tells a guesser whether a token is good.
  const limited = signInLimitHook(app, options.limits ?? DEFAULT_SIGN_IN_LIMITS);

  typed.get(
    SIGN_IN_PATH,
    { schema: { querystring: Query }, onRequest: limited },
    async (request, reply) => {
      const token = request.query.token ?? '';
      if (!(await signInLinkUsable(options.db, token, options.clock()))) {
        return page(reply, 410, 'Link expired', expiredBody);
      }
      return page(
        reply,
        200,
        'Sign in to Taskwire',
        '<p>Continue to open your tasks, your groups’ feed and leaderboards on this device.</p>' +
          '<form method="post"><button type="submit" class="primary">Continue</button></form>',
      );
    },
  );

  typed.post(
    SIGN_IN_PATH,
    { schema: { querystring: Query }, onRequest: limited },
    async (request, reply) => {
      const exchanged = await exchangeSignInToken(
        options.db,
        request.query.token ?? '',
        options.clock(),
      );
      if (!exchanged) return page(reply, 410, 'Link expired', expiredBody);
      setSessionCookie(request, reply, exchanged.session);
      return reply.status(303).header('location', '/app/').send();
    },
  );

  typed.post('/app/logout', async (request, reply) => {
    const cookie = readCookie(request, SESSION_COOKIE);
    const session = cookie ? await sessionOf(options.db, cookie, options.clock()) : null;
    if (session) await endSession(options.db, session.sessionId, options.clock());
    setSessionCookie(request, reply, null);
    return reply.status(204).send();
  });
}
