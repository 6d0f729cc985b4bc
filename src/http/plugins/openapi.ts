import { STATUS_CODES } from 'node:http';
import { createRequire } from 'node:module';
import swagger, { type SwaggerTransform } from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { ErrorBody } from '../schemas.js';

/** Where the interactive documentation and the raw document are served (no token). */
export const DOCS_PREFIX = '/docs';
export const OPENAPI_PATH = '/openapi.json';

// src/http/plugins/ and dist/http/plugins/ are both three folders below package.json.
const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string };

const ERROR_BODY_REF = { $ref: '#/components/schemas/ErrorBody' };

/** What each error status means on this API, for the documentation. */
const errorMeanings: Record<string, string> = {
  '400': 'The request is invalid; `error.message` says which field and why.',
  '401': 'Missing or invalid API token.',
  '403': 'Refused: a missing, wrong or expired signature.',
  '404': 'Not found.',
  '409': 'Conflicts with the current state; `error.message` says what to do.',
  '413': 'The request body is too large: over 1 MiB, or over 128 KiB for the Twilio webhooks.',
  '415': 'Unsupported Content-Type for this route.',
  '422': 'Well-formed, but refers to something that does not exist.',
  '429': 'Too many requests; wait and try again.',
  '500': 'Something went wrong on our side; it has been logged.',
  '503': 'Not ready.',
};

const successMeanings: Record<string, string> = {
  '200': 'OK',
  '201': 'Created',
  '202': 'Accepted',
  '204': 'No content',
};

/**
 * The document's view of one route: error responses point at the one `ErrorBody` component
 * instead of repeating it, every response has a description, and every operation lists
 * the 500 any route can answer.
 */
const documentRoute: SwaggerTransform = ({ schema, url }) => {
  if (!schema) return { schema, url };
  const responses: Record<string, unknown> = {};
  const declared = { ...(schema.response as Record<string, unknown> | undefined) };
  declared['500'] ??= ErrorBody;
  for (const [status, response] of Object.entries(declared)) {
    if (response === ErrorBody) {
      responses[status] = {
        description: errorMeanings[status] ?? STATUS_CODES[Number(status)] ?? 'Error',
        content: { 'application/json': { schema: ERROR_BODY_REF } },
      };
      continue;
    }
    const described = response as { description?: string };
    responses[status] = described.description
      ? response
      : {
          ...described,
          description: successMeanings[status] ?? STATUS_CODES[Number(status)] ?? 'Response',
        };
  }
  // Fastify's wildcard `*` becomes a named path parameter, as OpenAPI requires.
  const params = schema.params as { properties?: Record<string, unknown> } | undefined;
  if (url.endsWith('*') && params?.properties?.['*']) {
    const { '*': rest, ...others } = params.properties;
    return {
      url: `${url.slice(0, -1)}:key`,
      schema: {
        ...schema,
        response: responses,
        params: { ...params, properties: { ...others, key: rest }, required: undefined },
      },
    };
  }
  return { schema: { ...schema, response: responses }, url };
};

const { $id: _errorBodyId, ...errorBodySchema } = ErrorBody as typeof ErrorBody & { $id?: string };

/**
 * OpenAPI 3.1 generated from the route schemas (`@fastify/swagger`), served at
 * GET /openapi.json, and Swagger UI at GET /docs with its own assets (no CDN). Must be
 * registered before the routes: the generator learns them as they are added.
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Taskwire API',
        version,
        description:
          'WhatsApp (and SMS) as an accountability loop: users, tasks with due times, photo ' +
          'proof through Twilio, a feed and a leaderboard.\n\n' +
          'Every route except the Twilio webhooks, `/health`, `/ready` and the local storage ' +
          'files requires `Authorization: Bearer <API_TOKEN>`. Errors always have the body ' +
          '`{ "error": { "code": "...", "message": "..." } }`.',
      },
      tags: [
        { name: 'users', description: 'The people of the group.' },
        { name: 'tasks', description: 'What each person promised to do, and by when.' },
        {
          name: 'habits',
          description: 'Recurring tasks, their occurrences (tasks with `habit_id`) and streaks.',
        },
        { name: 'feed', description: 'Photo proofs of completed tasks.' },
        {
          name: 'groups',
          description:
            'Groups, their members and invite links; every task, habit and post belongs to one.',
        },
        {
          name: 'reviews',
          description: 'Proofs waiting for a peer or the vision model, and their decisions.',
        },
        { name: 'leaderboard', description: 'Users by points.' },
        { name: 'messages', description: 'Inbound messages, their processing and media.' },
        { name: 'outbound', description: 'Replies and messages Taskwire sends.' },
        { name: 'events', description: 'Live changes as Server-Sent Events.' },
        { name: 'twilio', description: "Twilio's webhooks (form-encoded, signed)." },
        { name: 'storage', description: "The local storage driver's files." },
        { name: 'health', description: 'Liveness and readiness probes.' },
        { name: 'operations', description: 'Metrics for monitoring.' },
        {
          name: 'simulator',
          description: 'Development only: stand-ins for Twilio used by `taskwire simulate`.',
        },
      ],
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            description:
              'The API_TOKEN. In development it is generated once and printed at start-up.',
          },
          eventsToken: {
            type: 'apiKey',
            in: 'query',
            name: 'token',
            description:
              'A short-lived token from POST /events/token (EventSource sends no headers).',
          },
          twilioSignature: {
            type: 'apiKey',
            in: 'header',
            name: 'X-Twilio-Signature',
            description:
              "Twilio's signature: base64 HMAC-SHA1, keyed with TWILIO_AUTH_TOKEN, of the URL " +
              'Twilio called (PUBLIC_URL + path) followed by every form parameter, sorted by ' +
              'name, as name + value. A request without a valid signature is answered 403.',
          },
        },
        schemas: { ErrorBody: errorBodySchema },
      },
    },
    transform: documentRoute,
  });

  await app.register(swaggerUi, {
    routePrefix: DOCS_PREFIX,
    uiConfig: { docExpansion: 'list', deepLinking: true, defaultModelsExpandDepth: 0 },
    theme: { title: 'Taskwire API' },
  });

  app.get(OPENAPI_PATH, { schema: { hide: true } }, async () => app.swagger());
}
