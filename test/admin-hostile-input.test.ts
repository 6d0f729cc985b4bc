import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/databases.js';
import { signedForm, whatsAppParams } from './helpers/twilio-webhook.js';

interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  anyOf?: JsonSchema[];
}

interface Operation {
  security?: Record<string, unknown>[];
  parameters?: { name: string; in: 'path' | 'query'; schema: JsonSchema }[];
  responses?: Record<string, { content?: Record<string, unknown> }>;
  requestBody?: { content: Record<string, { schema: JsonSchema }> };
}

/** Every operation of the OpenAPI document that needs the API token: the admin routes. */
async function adminOperations(t: TestApp) {
  const response = await t.app.inject({ url: '/openapi.json' });
  const doc = response.json() as { paths: Record<string, Record<string, Operation>> };
  return Object.entries(doc.paths).flatMap(([path, operations]) =>
    Object.entries(operations)
      .filter(([, operation]) => operation.security?.some((s) => 'bearerAuth' in s))
      // A Server-Sent Events stream answers a fine request by staying open: never done.
      // Its parameters are checked where it is tested (test/live-events.test.ts).
      .filter(([, operation]) => !operation.responses?.['200']?.content?.['text/event-stream'])
      .map(([method, operation]) => ({ method: method.toUpperCase(), path, operation })),
  );
}

const isNumeric = (schema: JsonSchema | undefined): boolean =>
  schema?.type === 'integer' ||
  schema?.type === 'number' ||
  (schema?.anyOf ?? []).some((inner) => isNumeric(inner));

// Path and query values, as they appear in a URL.
const NUL_TEXT = ['%00', 'a%00b'];
const HUGE_TEXT = ['1e300', '99999999999999999999', '-1e300', '-99999999999999999999'];
// JSON bodies: the number literals, and the same as strings (coerced like query values).
const HUGE_JSON = ['1e300', '99999999999999999999', '-1e300', '"1e300"', '"99999999999999999999"'];

for (const engine of engines) {
  describe(`hostile input on every admin route [${engine.name}]`, { skip: engine.skip }, () => {
    let t: TestApp;
    /** Valid values for path parameters, so that only the hostile one is wrong. */
    const valid: Record<string, string> = { media_index: '0' };
    /** Valid bodies to put one hostile field into. */
    const bodies: Record<string, Record<string, unknown>> = {};

    before(async () => {
      t = await createTestApp(engine, { apiRateLimit: 0 });
      const user = await t.app.inject({
        method: 'POST',
        url: '/users',
        headers: t.auth,
        payload: { username: 'Ada', phone_number: '+15550001111' },
      });
      assert.equal(user.statusCode, 201, user.body);
      const userId = (user.json() as { id: number }).id;
      const taskBody = { user_id: userId, description: 'Gym', due_time: '2030-01-01T18:00:00Z' };
      const task = await t.app.inject({
        method: 'POST',
        url: '/tasks',
        headers: t.auth,
        payload: taskBody,
      });
      assert.equal(task.statusCode, 201, task.body);
      const params = whatsAppParams({ from: '+15550001111' });
      const stored = await t.app.inject({
        method: 'POST',
        url: '/webhook/twilio',
        ...signedForm('http://localhost/webhook/twilio', params),
      });
      assert.equal(stored.statusCode, 200);
      valid.id = String(userId);
      valid.message_id = params.MessageSid as string;
      bodies['POST /users'] = { username: 'Bea', phone_number: '+15550002222' };
      bodies['PATCH /users/{id}'] = { username: 'Ada L.' };
      bodies['POST /tasks'] = taskBody;
      bodies['PATCH /tasks/{id}'] = { description: 'Gym, twice' };
      bodies['POST /messages/send'] = { to: '+15550001111', body: 'Hi' };
    });
    after(async () => t?.close());

    const urlOf = (path: string, pathValues: Record<string, string>, query: string) =>
      path.replaceAll(/\{(\w+)\}/g, (_match, name: string) => pathValues[name] ?? '1') +
      (query ? `?${query}` : '');

    /**
     * Sends one request: never a 5xx; a 400 with the error body when `expect400` (the value
     * cannot be right), else whatever a value of the right type may get (`1e300` is a fine
     * `from_number` to search for), with the error body when it is a 4xx.
     */
    const check = async (
      label: string,
      request: { method: string; url: string; payload?: string },
      expect400: boolean,
    ) => {
      const response = await t.app.inject({
        method: request.method as 'GET',
        url: request.url,
        headers: { ...t.auth, ...(request.payload ? { 'content-type': 'application/json' } : {}) },
        payload: request.payload,
      });
      const where = `${label}: ${request.method} ${request.url} ${request.payload ?? ''} -> ${response.statusCode} ${response.body}`;
      assert.ok(response.statusCode < 500, where);
      if (expect400) assert.equal(response.statusCode, 400, where);
      if (response.statusCode < 400) return;
      const body = response.json() as { error?: { code?: unknown; message?: unknown } };
      assert.equal(typeof body.error?.code, 'string', where);
      assert.equal(typeof body.error?.message, 'string', where);
    };

    test('NUL anywhere, and numbers beyond bigint where a number goes, are 400 with the error body; nothing is a 5xx', async () => {
      const operations = await adminOperations(t);
      assert.ok(operations.length >= 15, 'the sweep found the admin routes');
      let sent = 0;
      for (const { method, path, operation } of operations) {
        const key = `${method} ${path}`;
        for (const parameter of operation.parameters ?? []) {
          const numeric = isNumeric(parameter.schema);
          for (const value of [...NUL_TEXT, ...HUGE_TEXT]) {
            const nul = value.includes('%00');
            const url =
              parameter.in === 'path'
                ? urlOf(path, { ...valid, [parameter.name]: value }, '')
                : urlOf(path, valid, `${parameter.name}=${value}`);
            const payload = bodies[key] ? JSON.stringify(bodies[key]) : undefined;
            await check(key, { method, url, payload }, nul || numeric);
            sent += 1;
          }
        }
        const schema = operation.requestBody?.content['application/json']?.schema;
        if (!schema) continue;
        const base = bodies[key] ?? {};
        const url = urlOf(path, valid, '');
        for (const [name, property] of Object.entries(schema.properties ?? {})) {
          const others = JSON.stringify({ ...base, [name]: undefined }).slice(1, -1);
          const withField = (json: string) => `{${others}${others ? ',' : ''}"${name}":${json}}`;
          await check(key, { method, url, payload: withField('"a\\u0000b"') }, true);
          await check(key, { method, url, payload: withField('["\\u0000"]') }, true);
          for (const huge of HUGE_JSON) {
            await check(key, { method, url, payload: withField(huge) }, isNumeric(property));
          }
          sent += 2 + HUGE_JSON.length;
        }
        await check(key, { method, url, payload: JSON.stringify({ ...base, 'x\u0000': 1 }) }, true);
      }
      assert.ok(sent > 100, `the sweep sent ${sent} requests`);
    });
  });
}
