import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { DASHBOARD_ROOT } from '../src/http/plugins/dashboard.js';
import { pglite } from './helpers/databases.js';
import { startTestService, type TestService } from './helpers/service.js';

interface Operation {
  summary?: string;
  tags?: string[];
  security?: Record<string, string[]>[];
  parameters?: { in: string; name: string; required?: boolean }[];
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<
    string,
    { description?: string; content?: Record<string, { schema?: Record<string, unknown> }> }
  >;
}

interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string };
  tags: { name: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<string, Record<string, unknown>>;
    securitySchemes: Record<string, Record<string, unknown>>;
  };
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** Every method and path of the app, read from the route tree `printRoutes()` draws. */
function registeredRoutes(app: FastifyInstance): { method: string; path: string }[] {
  const routes: { method: string; path: string }[] = [];
  const stack: string[] = [];
  for (const line of app.printRoutes().split('\n')) {
    const match = /^((?:│ {3}| {4})*)(?:├── |└── )(\S+)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match) continue;
    const depth = (match[1] as string).length / 4;
    stack.length = depth;
    stack.push(match[2] as string);
    for (const method of match[3]?.split(', ') ?? []) routes.push({ method, path: stack.join('') });
  }
  return routes;
}

/** Fastify's `/users/:id` and `/storage/:bucket/*` as OpenAPI writes them. */
const openApiPath = (fastifyPath: string) =>
  fastifyPath.replace(/:(\w+)/g, '{$1}').replace(/\*$/, '{key}');

/** The dashboard's files, each served at its own path (and index.html at `/`). */
const dashboardPaths = new Set([
  '/',
  ...readdirSync(DASHBOARD_ROOT, { recursive: true })
    .map(String)
    .filter((file) => statSync(path.join(DASHBOARD_ROOT, file)).isFile())
    .map((file) => `/${file.split(path.sep).join('/')}`),
]);

/** Routes left out of the API description on purpose, and why. */
function undocumentedReason(routePath: string): string | null {
  if (dashboardPaths.has(routePath)) return 'a dashboard file';
  if (routePath === '/openapi.json') return 'the document itself';
  // The participant app (issue 17): its pages, files and session-cookie API are the app's
  // own back end, not an integration surface for API-token holders.
  if (routePath === '/app' || routePath.startsWith('/app/')) return 'the participant app';
  if (routePath === '/docs' || routePath.startsWith('/docs/')) return 'Swagger UI';
  return null;
}

const isErrorBody = (schema: Record<string, unknown> | undefined, errorBody: unknown): boolean =>
  schema?.$ref === '#/components/schemas/ErrorBody' ||
  JSON.stringify((schema?.properties as Record<string, unknown> | undefined)?.error) ===
    JSON.stringify((errorBody as { properties: { error: unknown } }).properties.error);

describe('the OpenAPI document of the running service [pglite]', () => {
  let t: TestService;
  let doc: OpenApiDocument;
  const operations: { method: string; path: string; operation: Operation }[] = [];

  before(async () => {
    // The test client poses as the proxy, so each request below can name its own address.
    t = await startTestService(pglite, { TRUST_PROXY: '127.0.0.1' });
    const response = await fetch(`${t.baseUrl}/openapi.json`);
    assert.equal(response.status, 200);
    doc = (await response.json()) as OpenApiDocument;
    for (const [routePath, item] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        if (METHODS.includes(method)) operations.push({ method, path: routePath, operation });
      }
    }
  });
  after(async () => {
    await t?.close();
  });

  test('is OpenAPI 3.1 at /openapi.json, with Swagger UI at /docs, both without a token', async () => {
    assert.equal(doc.openapi, '3.1.0');
    assert.equal(doc.info.title, 'Taskwire API');
    const docs = await fetch(`${t.baseUrl}/docs`);
    assert.equal(docs.status, 200);
    assert.match(docs.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await docs.text(), /swagger-ui/);
    const json = (await (await fetch(`${t.baseUrl}/docs/json`)).json()) as OpenApiDocument;
    assert.deepEqual(Object.keys(json.paths), Object.keys(doc.paths));
  });

  test('documents every route the service registers, and no route it does not', () => {
    const registered = registeredRoutes(t.service.app).filter((route) => route.method !== 'HEAD');
    assert.ok(registered.length > 20, `found the routes (${registered.length})`);
    const documented = new Set(operations.map((op) => `${op.method.toUpperCase()} ${op.path}`));
    const missing = registered
      .filter((route) => !undocumentedReason(route.path))
      .map((route) => `${route.method} ${openApiPath(route.path)}`)
      .filter((key) => !documented.has(key));
    assert.deepEqual(missing, [], 'registered but not in /openapi.json');

    const registeredKeys = new Set(registered.map((r) => `${r.method} ${openApiPath(r.path)}`));
    assert.deepEqual(
      [...documented].filter((key) => !registeredKeys.has(key)),
      [],
      'in /openapi.json but not registered',
    );
    for (const route of ['/', '/docs', '/openapi.json']) {
      assert.ok(
        registered.some((r) => r.path === route && r.method === 'GET'),
        `GET ${route} is served`,
      );
    }
  });

  test('every operation has a summary, a declared tag and described responses', () => {
    const tags = new Set(doc.tags.map((tag) => tag.name));
    for (const { method, path: routePath, operation } of operations) {
      const name = `${method.toUpperCase()} ${routePath}`;
      assert.ok(operation.summary, `${name} has a summary`);
      assert.ok(operation.tags?.length, `${name} has a tag`);
      for (const tag of operation.tags ?? []) assert.ok(tags.has(tag), `${name}: tag ${tag}`);
      const statuses = Object.keys(operation.responses);
      assert.ok(
        statuses.some((status) => /^2/.test(status)),
        `${name} documents its success`,
      );
      for (const [status, response] of Object.entries(operation.responses)) {
        assert.ok(response.description, `${name} ${status} has a description`);
        if (/^[45]/.test(status)) {
          const schema = response.content?.['application/json']?.schema;
          assert.ok(
            isErrorBody(schema, doc.components.schemas.ErrorBody),
            `${name} ${status} answers the ErrorBody`,
          );
        }
      }
    }
  });

  test('ErrorBody is one shared component: { error: { code, message } }', () => {
    const errorBody = doc.components.schemas.ErrorBody as {
      required: string[];
      properties: { error: { required: string[] } };
    };
    assert.deepEqual(errorBody.required, ['error']);
    assert.deepEqual(errorBody.properties.error.required, ['code', 'message']);
  });

  test('admin routes declare bearerAuth and answer 401 without a token; open routes do not', async () => {
    assert.deepEqual(doc.components.securitySchemes.bearerAuth, {
      type: 'http',
      scheme: 'bearer',
      description: doc.components.securitySchemes.bearerAuth?.description,
    });
    const open = operations
      .filter((op) => !op.operation.security?.some((s) => 'bearerAuth' in s))
      .map((op) => `${op.method.toUpperCase()} ${op.path}`)
      .sort();
    assert.deepEqual(open, [
      'GET /health',
      'GET /ready',
      'GET /storage/{bucket}/{key}',
      'POST /webhook/twilio',
      'POST /webhook/twilio/status',
    ]);
    let client = 0;
    for (const { method, path: routePath, operation } of operations) {
      const url = routePath.replace(/\{(\w+)\}/g, (_match, param: string) =>
        param === 'key' ? 'messages/MM1/0.jpg' : '1',
      );
      const response = await fetch(`${t.baseUrl}${url}`, {
        method: method.toUpperCase(),
        // One client address per request (the proxy's X-Forwarded-For, TRUST_PROXY), so
        // the limit on repeated authentication failures does not kick in.
        headers: { 'x-forwarded-for': `10.0.0.${(client += 1)}` },
      });
      const needsToken = operation.security?.some((s) => 'bearerAuth' in s) ?? false;
      const name = `${method.toUpperCase()} ${routePath}`;
      if (needsToken) {
        assert.equal(response.status, 401, `${name} without a token`);
        const body = (await response.json()) as { error: { code: string } };
        assert.equal(body.error.code, 'unauthorized');
      } else {
        assert.notEqual(response.status, 401, `${name} is open`);
        await response.arrayBuffer();
      }
    }
  });

  test('the Twilio webhooks are documented as form posts signed with X-Twilio-Signature', () => {
    assert.deepEqual(doc.components.securitySchemes.twilioSignature, {
      type: 'apiKey',
      in: 'header',
      name: 'X-Twilio-Signature',
      description: doc.components.securitySchemes.twilioSignature?.description,
    });
    for (const route of ['/webhook/twilio', '/webhook/twilio/status']) {
      const operation = doc.paths[route]?.post as Operation;
      assert.deepEqual(operation.security, [{ twilioSignature: [] }]);
      assert.deepEqual(Object.keys(operation.requestBody?.content ?? {}), [
        'application/x-www-form-urlencoded',
      ]);
      assert.ok(operation.responses['403'], `${route} documents the 403 for a bad signature`);
    }
    const inbound = doc.paths['/webhook/twilio']?.post as Operation;
    const form = inbound.requestBody?.content['application/x-www-form-urlencoded']?.schema as {
      properties: Record<string, unknown>;
    };
    for (const field of ['MessageSid', 'From', 'To', 'Body', 'NumMedia', 'MediaUrl0']) {
      assert.ok(form.properties[field], `the inbound form documents ${field}`);
    }
    assert.ok(inbound.responses['200']?.content?.['text/xml'], 'answers TwiML');
  });

  test('every $ref resolves and every path parameter is declared', () => {
    const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
    assert.ok(refs.length > 0);
    for (const ref of refs) {
      const target = ref.slice('"$ref":"'.length, -1);
      assert.match(target, /^#\/components\/schemas\//);
      assert.ok(doc.components.schemas[target.split('/').pop() as string], `${target} exists`);
    }
    for (const { method, path: routePath, operation } of operations) {
      for (const [, param] of routePath.matchAll(/\{(\w+)\}/g)) {
        assert.ok(
          operation.parameters?.some((p) => p.in === 'path' && p.name === param && p.required),
          `${method.toUpperCase()} ${routePath} declares path parameter ${param}`,
        );
      }
    }
  });

  test('/docs and the dashboard load nothing from another origin (no CDN, no web fonts)', async () => {
    const pages = ['/docs', '/docs/static/swagger-initializer.js', ...dashboardPaths];
    for (const page of pages) {
      const response = await fetch(`${t.baseUrl}${page}`);
      assert.equal(response.status, 200, `${page} is served`);
      const text = await response.text();
      if (page.endsWith('.svg')) continue;
      const external = text.match(/(?:src|href|url)\s*[=(]\s*["']?(?:https?:)?\/\/[^"')\s]+/gi);
      assert.equal(external, null, `${page} references another origin`);
    }
    const index = await (await fetch(`${t.baseUrl}/`)).text();
    assert.match(index, /<title>Taskwire<\/title>/);
  });
});
