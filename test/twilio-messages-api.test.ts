import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import {
  createMessage,
  listMessages,
  mediaResource,
  messageResource,
  operations,
  type ResourceFacts,
  securityScheme,
} from './fixtures/twilio-messages-api.js';

// The facts the tests use about Twilio's Messages API (test/fixtures/twilio-messages-api.ts)
// against Twilio's own OpenAPI document. That document lives beside the project, never in
// it (../shared/twilio/README.md): CI and developer machines have it; a fresh clone does not,
// and there only this check skips — the tests that use the facts still run.

const specPath = path.resolve(
  import.meta.dirname,
  '..',
  '..',
  'shared',
  'twilio',
  'messages-api-v2010.openapi.json',
);
const specMissing = existsSync(specPath)
  ? false
  : `Twilio's OpenAPI document is not at ${specPath} (it lives beside the project, in ` +
    '../shared/twilio, not in it): nothing to check the facts against';

interface Operation {
  parameters?: { name: string; in: string }[];
  requestBody?: {
    content: Record<string, { schema: { required?: string[]; properties: object } } | undefined>;
  };
  responses: Record<string, unknown>;
  security?: unknown;
}
interface ListResponse {
  content: Record<string, { schema: { properties: object } } | undefined>;
}
interface Spec {
  paths: Record<string, Record<string, Operation | undefined> | undefined>;
  components: {
    schemas: Record<
      string,
      | { properties?: Record<string, { pattern?: string; $ref?: string }>; enum?: string[] }
      | undefined
    >;
  };
}

describe(
  "the Messages API facts agree with Twilio's OpenAPI document",
  { skip: specMissing },
  () => {
    const spec = (): Spec => JSON.parse(readFileSync(specPath, 'utf8')) as Spec;

    test('every operation the fake serves exists, answers its status on success, with basic auth', () => {
      for (const { path: apiPath, method, status } of operations) {
        const operation = spec().paths[apiPath]?.[method];
        assert.ok(operation, `${method.toUpperCase()} ${apiPath}`);
        assert.deepEqual(Object.keys(operation.responses), [status], `${method} ${apiPath}`);
        assert.deepEqual(operation.security, [{ [securityScheme]: [] }]);
      }
    });

    test('POST Messages.json takes exactly these form parameters, To alone required', () => {
      const operation = spec().paths[operations[0]!.path]?.post;
      const form = operation?.requestBody?.content[createMessage.contentType]?.schema;
      assert.ok(form, 'a form-encoded request body');
      assert.deepEqual(Object.keys(form.properties).sort(), [...createMessage.parameters].sort());
      assert.deepEqual(form.required, createMessage.required);
    });

    test('GET Messages.json takes exactly these query parameters and answers a page of these fields', () => {
      const operation = spec().paths[operations[1]!.path]?.get as
        (Operation & { responses: Record<string, ListResponse> }) | undefined;
      assert.ok(operation);
      const query = (operation.parameters ?? []).filter((p) => p.in === 'query');
      assert.deepEqual(query.map((p) => p.name).sort(), [...listMessages.query].sort());
      const page = operation.responses['200']?.content['application/json']?.schema.properties;
      assert.deepEqual(Object.keys(page ?? {}).sort(), [...listMessages.pageFields].sort());
    });

    const agrees = (facts: ResourceFacts) => {
      const { schemas } = spec().components;
      const properties = schemas[facts.schema]?.properties;
      assert.ok(properties, facts.schema);
      assert.deepEqual(Object.keys(properties).sort(), [...facts.fields].sort(), 'fields');
      const patterns = Object.fromEntries(
        Object.entries(properties).flatMap(([name, p]) => (p.pattern ? [[name, p.pattern]] : [])),
      );
      assert.deepEqual(patterns, facts.patterns, 'SID patterns');
      const enums = Object.fromEntries(
        Object.entries(properties).flatMap(([name, p]) => {
          const ref = p.$ref?.split('/').pop();
          return ref ? [[name, schemas[ref]?.enum]] : [];
        }),
      );
      assert.deepEqual(enums, facts.enums, 'enum values');
    };

    test('a Message has these fields, patterns and enum values', () => agrees(messageResource));
    test('a Media resource has these fields and patterns', () => agrees(mediaResource));
  },
);
