import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for an OpenAI-compatible chat-completions endpoint with vision, following
 * OpenAI's published format (POST /v1/chat/completions): it checks the request the way the
 * API would (a model, messages whose user content has a `text` part and an `image_url` part,
 * `response_format: { type: "json_schema", json_schema: { name, schema } }`, a Bearer key
 * when one is expected) and answers a chat.completion whose choices[0].message.content is
 * the verdict as JSON text. What it answers is up to the test (`answer`).
 */

export interface VisionRequest {
  authorization: string | null;
  model: string;
  text: string;
  imageUrl: string;
  body: Record<string, unknown>;
}

export type VisionAnswer =
  | { verdict: { matches: boolean; confidence: number; reason: string } }
  /** Never answers (the client's timeout ends it). */
  | { hang: true }
  | { status: number };

export interface FakeVision {
  /** The base URL to configure as PROOF_MODEL_URL (`http://127.0.0.1:<port>/v1`). */
  url: string;
  requests: VisionRequest[];
  /** Requests refused as malformed (400), with why. */
  refused: string[];
  answer: (request: VisionRequest) => VisionAnswer;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const invalid = (res: ServerResponse, fake: FakeVision, message: string) => {
  fake.refused.push(message);
  send(res, 400, {
    error: { message, type: 'invalid_request_error', param: null, code: null },
  });
};

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

/** `port`: where to listen on 127.0.0.1 (default a free one). */
export async function startFakeVision(
  options: { key?: string; port?: number } = {},
): Promise<FakeVision> {
  const hanging = new Set<ServerResponse>();
  const fake: FakeVision = {
    url: '',
    requests: [],
    refused: [],
    answer: () => ({ verdict: { matches: true, confidence: 0.99, reason: 'Looks done.' } }),
    close: async () => {},
  };
  const server = createServer((req, res) => {
    void (async () => {
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
        send(res, 404, { error: { message: 'Unknown route', type: 'invalid_request_error' } });
        return;
      }
      const authorization = req.headers.authorization ?? null;
      if (options.key && authorization !== `Bearer ${options.key}`) {
        send(res, 401, {
          error: {
            message: 'Incorrect API key provided',
            type: 'invalid_request_error',
            code: 'invalid_api_key',
          },
        });
        return;
      }
      let body: Record<string, unknown>;
      try {
        body = (await readJson(req)) as Record<string, unknown>;
      } catch {
        invalid(res, fake, 'We could not parse the JSON body of your request.');
        return;
      }
      if (typeof body.model !== 'string') return invalid(res, fake, 'model is required');
      const messages = body.messages as { role: string; content: unknown }[] | undefined;
      const user = Array.isArray(messages) ? messages.find((m) => m.role === 'user') : undefined;
      const parts = Array.isArray(user?.content)
        ? (user.content as { type: string; text?: string; image_url?: { url?: string } }[])
        : [];
      const text = parts.find((p) => p.type === 'text')?.text;
      const imageUrl = parts.find((p) => p.type === 'image_url')?.image_url?.url;
      if (!text || !imageUrl) {
        return invalid(res, fake, 'the user message needs a text part and an image_url part');
      }
      if (!/^(data:image\/[\w.+-]+;base64,|https?:\/\/)/.test(imageUrl)) {
        return invalid(res, fake, 'image_url.url must be a data: URL or an http(s) URL');
      }
      const format = body.response_format as
        | { type?: string; json_schema?: { name?: string; schema?: unknown; strict?: boolean } }
        | undefined;
      if (
        format?.type !== 'json_schema' ||
        !format.json_schema?.name ||
        !format.json_schema.schema
      ) {
        return invalid(
          res,
          fake,
          "response_format must be { type: 'json_schema', json_schema: { name, schema } }",
        );
      }
      const request: VisionRequest = { authorization, model: body.model, text, imageUrl, body };
      fake.requests.push(request);
      const answer = fake.answer(request);
      if ('hang' in answer) {
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return;
      }
      if ('status' in answer) {
        send(res, answer.status, {
          error: { message: 'The server had an error', type: 'server_error' },
        });
        return;
      }
      send(res, 200, {
        id: `chatcmpl-${fake.requests.length}`,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: body.model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: JSON.stringify(answer.verdict), refusal: null },
            logprobs: null,
            finish_reason: 'stop',
          },
        ],
        usage: { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120 },
      });
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  fake.url = `http://127.0.0.1:${port}/v1`;
  fake.close = async () => {
    for (const res of hanging) res.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return fake;
}
