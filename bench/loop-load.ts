// The open-loop load generator of `npm run bench:loop`, in a process of its own (forked
// with an IPC channel). Every webhook is built and signed before the clock starts; during a
// step each leaves at its planned time whether or not earlier ones were answered (open
// loop: a slow server meets the same offered rate, and its queueing shows in the latency
// instead of lowering the rate). Latency counts from the planned time, so a late dispatch
// (this process or the connection pool falling behind) is charged to the latency too.
import { getExpectedTwilioSignature } from 'twilio/lib/webhooks/webhooks.js';
import { Pool } from 'undici';
import { whatsAppParams } from '../test/helpers/twilio-webhook.js';
import type { Plan } from './loop-plan.js';
import { answerRpc } from './rpc-child.js';

export type LoadRequest =
  | {
      type: 'prepare';
      origin: string;
      path: string;
      authToken: string;
      accountSid: string;
      plan: Plan;
      mediaUrls: string[];
      connections: number;
    }
  | { type: 'run'; step: number };

export interface StepLoad {
  /** Planned departure of each message, ms on the monotonic clock (process.hrtime). */
  sentAt: number[];
  /** Planned departure → response, ms; -1 when the request failed. */
  ackMs: number[];
  /** HTTP status of each response, 0 for a failed request. */
  status: number[];
  /** How far behind its planned time the latest-dispatched request left, ms. */
  maxDispatchLagMs: number;
  failureSamples: string[];
}

export type LoadResponse = { type: 'prepared'; ms: number } | { type: 'ran'; load: StepLoad };

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const bodies = ['Done!', 'Finished my run', 'Gym ✅', 'Read 30 pages today'];

interface Signed {
  body: Buffer;
  headers: Record<string, string>;
}

let prepared: { spec: Extract<LoadRequest, { type: 'prepare' }>; steps: Signed[][] } | null = null;
let pool: Pool | null = null;

function prepare(spec: Extract<LoadRequest, { type: 'prepare' }>): void {
  const url = `${spec.origin}${spec.path}`;
  const steps = spec.plan.steps.map((step) =>
    step.messages.map((message, index): Signed => {
      const mediaUrl = message.media >= 0 ? spec.mediaUrls[message.media] : undefined;
      const params = whatsAppParams({
        messageSid: message.sid,
        from: message.from,
        profileName: `Member ${message.from.slice(-4)}`,
        body: mediaUrl ? 'Here is the proof' : (bodies[index % bodies.length] ?? 'Done!'),
        media: mediaUrl ? [{ url: mediaUrl, contentType: 'image/jpeg' }] : [],
        extra: { AccountSid: spec.accountSid },
      });
      return {
        body: Buffer.from(new URLSearchParams(params).toString()),
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-twilio-signature': getExpectedTwilioSignature(spec.authToken, url, params),
        },
      };
    }),
  );
  prepared = { spec, steps };
  pool = new Pool(spec.origin, {
    connections: spec.connections,
    pipelining: 1,
    headersTimeout: 60_000,
    bodyTimeout: 60_000,
  });
}

async function run(stepIndex: number): Promise<StepLoad> {
  if (!prepared || !pool) throw new Error('run before prepare');
  const { spec } = prepared;
  const step = spec.plan.steps[stepIndex];
  const signed = prepared.steps[stepIndex];
  if (!step || !signed) throw new Error(`no step ${stepIndex}`);
  const count = step.messages.length;
  const sentAt = new Array<number>(count).fill(0);
  const ackMs = new Array<number>(count).fill(-1);
  const status = new Array<number>(count).fill(0);
  const failureSamples: string[] = [];
  const inFlight: Promise<void>[] = [];
  let maxDispatchLagMs = 0;
  const activePool = pool;

  const fire = (index: number) => {
    const request = signed[index] as Signed;
    const planned = sentAt[index] as number;
    inFlight.push(
      activePool
        .request({ method: 'POST', path: spec.path, headers: request.headers, body: request.body })
        .then(async (response) => {
          const text = await response.body.text();
          ackMs[index] = nowMs() - planned;
          status[index] = response.statusCode;
          if (response.statusCode !== 200 && failureSamples.length < 5) {
            failureSamples.push(`${response.statusCode} ${text.slice(0, 200)}`);
          }
        })
        .catch((error: unknown) => {
          if (failureSamples.length < 5) failureSamples.push((error as Error).message);
        }),
    );
  };

  const start = nowMs() + 20;
  for (let index = 0; index < count; index += 1) {
    sentAt[index] = start + (step.messages[index]?.at ?? 0);
  }
  let next = 0;
  while (next < count) {
    const now = nowMs();
    while (next < count && (sentAt[next] as number) <= now) {
      maxDispatchLagMs = Math.max(maxDispatchLagMs, now - (sentAt[next] as number));
      fire(next);
      next += 1;
    }
    if (next >= count) break;
    const wait = (sentAt[next] as number) - nowMs();
    // Timers are good to about a millisecond; below that, yield to I/O and look again.
    await new Promise<void>((resolve) =>
      wait >= 1.5 ? setTimeout(resolve, Math.floor(wait - 0.5)) : setImmediate(resolve),
    );
  }
  await Promise.all(inFlight);
  return { sentAt, ackMs, status, maxDispatchLagMs, failureSamples };
}

async function handle(request: LoadRequest): Promise<LoadResponse> {
  if (request.type === 'prepare') {
    const started = performance.now();
    await pool?.close();
    prepare(request);
    return { type: 'prepared', ms: performance.now() - started };
  }
  return { type: 'ran', load: await run(request.step) };
}

if (process.send) {
  answerRpc(handle);
  process.once('disconnect', () => process.exit(0));
}
