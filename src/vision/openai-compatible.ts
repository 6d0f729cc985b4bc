/**
 * A proof judge over an OpenAI-compatible chat-completions endpoint with vision: OpenAI
 * itself, or Ollama, vLLM or LM Studio locally (`PROOF_MODEL_URL`, `PROOF_MODEL`,
 * `PROOF_MODEL_KEY`). One request per attempt, in OpenAI's published format: a user message
 * whose content is the task as text and the photo as an `image_url` part (a `data:` URL),
 * and `response_format: { type: "json_schema" }` asking for { matches, confidence, reason }.
 *
 * Bounded: each attempt is cut at `timeoutMs`, and a failed attempt (network error, 408,
 * 429, 5xx, a timeout) is retried at most `retries` times; a 4xx, a refusal or an answer not
 * in the schema is not retried. The key goes in the Authorization header only, never in an
 * error message.
 */

export interface ProofVerdict {
  matches: boolean;
  /** 0 to 1. */
  confidence: number;
  reason: string;
}

export interface ProofQuestion {
  /** What the task says was to be done. */
  task: string;
  /** The photo, as a `data:image/...;base64,` URL or a URL the endpoint can fetch. */
  imageUrl: string;
}

export type JudgeProof = (question: ProofQuestion) => Promise<ProofVerdict>;

export interface OpenAiCompatibleOptions {
  /** The API base (`https://api.openai.com/v1`) or the full `…/chat/completions` URL. */
  url: string;
  model: string;
  /** Bearer key; none for a local server that wants none. */
  key: string | null;
  /** Per attempt (default 20 s). */
  timeoutMs?: number;
  /** Further attempts after a retryable failure (default 1). */
  retries?: number;
  /** Tests inject one. */
  fetch?: typeof fetch;
}

export class VisionError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'VisionError';
  }
}

const verdictSchema = {
  type: 'object',
  properties: {
    matches: {
      type: 'boolean',
      description: 'Whether the photo shows the task done.',
    },
    confidence: {
      type: 'number',
      description: 'How sure, from 0 (a guess) to 1 (certain).',
    },
    reason: { type: 'string', description: 'One short sentence saying why.' },
  },
  required: ['matches', 'confidence', 'reason'],
  additionalProperties: false,
} as const;

const instructions =
  'You check photos sent as proof that a task was done, for an accountability group. ' +
  'Say whether the photo plausibly shows the task done, how confident you are (0 to 1), ' +
  'and why in one short sentence. A photo unrelated to the task does not match.';

export const chatCompletionsUrl = (url: string): string => {
  const base = url.replace(/\/+$/, '');
  return base.endsWith('/chat/completions') ? base : `${base}/chat/completions`;
};

/** The request body (exported for the fake's tests). */
export function verdictRequest(model: string, question: ProofQuestion): object {
  return {
    model,
    temperature: 0,
    messages: [
      { role: 'system', content: instructions },
      {
        role: 'user',
        content: [
          { type: 'text', text: `The task: ${question.task}` },
          { type: 'image_url', image_url: { url: question.imageUrl } },
        ],
      },
    ],
    response_format: {
      type: 'json_schema',
      json_schema: { name: 'proof_verdict', strict: true, schema: verdictSchema },
    },
  };
}

function parseVerdict(body: unknown): ProofVerdict {
  const choice = (body as { choices?: { message?: { content?: unknown; refusal?: unknown } }[] })
    ?.choices?.[0]?.message;
  if (typeof choice?.refusal === 'string' && choice.refusal) {
    throw new VisionError(`The model refused: ${choice.refusal.slice(0, 200)}`, false);
  }
  if (typeof choice?.content !== 'string') {
    throw new VisionError('The answer has no choices[0].message.content.', false);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(choice.content);
  } catch {
    throw new VisionError('The answer is not the JSON the schema asks for.', false);
  }
  const verdict = parsed as Partial<ProofVerdict>;
  if (
    typeof verdict.matches !== 'boolean' ||
    typeof verdict.confidence !== 'number' ||
    !Number.isFinite(verdict.confidence) ||
    typeof verdict.reason !== 'string'
  ) {
    throw new VisionError('The answer does not follow the verdict schema.', false);
  }
  return {
    matches: verdict.matches,
    confidence: Math.min(1, Math.max(0, verdict.confidence)),
    reason: verdict.reason.slice(0, 500),
  };
}

export function createOpenAiCompatibleJudge(options: OpenAiCompatibleOptions): JudgeProof {
  const endpoint = chatCompletionsUrl(options.url);
  const timeoutMs = options.timeoutMs ?? 20_000;
  const retries = options.retries ?? 1;
  const doFetch = options.fetch ?? fetch;

  async function attempt(question: ProofQuestion): Promise<ProofVerdict> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (options.key) headers.authorization = `Bearer ${options.key}`;
    let response: Response;
    try {
      response = await doFetch(endpoint, {
        method: 'POST',
        headers,
        body: JSON.stringify(verdictRequest(options.model, question)),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      const timedOut = error instanceof Error && error.name === 'TimeoutError';
      throw new VisionError(
        timedOut
          ? `No answer within ${timeoutMs} ms.`
          : `The endpoint could not be reached (${error instanceof Error ? error.name : 'error'}).`,
        true,
      );
    }
    if (!response.ok) {
      await response.body?.cancel();
      const retryable =
        response.status === 408 || response.status === 429 || response.status >= 500;
      throw new VisionError(`The endpoint answered HTTP ${response.status}.`, retryable);
    }
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      throw new VisionError('The answer is not JSON.', false);
    }
    return parseVerdict(body);
  }

  return async (question) => {
    for (let tries = 0; ; tries += 1) {
      try {
        return await attempt(question);
      } catch (error) {
        if (!(error instanceof VisionError) || !error.retryable || tries >= retries) throw error;
      }
    }
  };
}
