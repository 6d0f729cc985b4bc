import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../config/config.js';
import { localServiceUrl } from '../start/processing.js';
import { WHATSAPP_SANDBOX_NUMBER } from '../start/send-now.js';
import { signAsTwilio } from '../twilio/signature.js';

/**
 * `taskwire simulate`: plays Twilio against a running service. Posts the webhook Twilio
 * would post for one WhatsApp message (same form parameters, signed with the configured
 * TWILIO_AUTH_TOKEN), after uploading the photo to the service's media stand-in when there
 * is one; then follows the message through the API and says what happened at each step.
 */
export interface SimulateOptions {
  /** The sender, E.164 (`+15551234567`), with or without `whatsapp:`. */
  from: string;
  body: string;
  /** A file to send as the photo (MediaUrl0). */
  image?: string;
  /** The WhatsApp profile name (ProfileName), which names an auto-registered user. */
  name?: string;
  /** Where the service runs; default the local PORT. */
  url?: string;
  /** How long to follow the message (default 30 s). */
  timeoutMs?: number;
}

const E164 = /^\+[1-9]\d{6,14}$/;

const contentTypes: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.heic': 'image/heic',
  '.mp4': 'video/mp4',
  '.pdf': 'application/pdf',
  '.txt': 'text/plain',
};

class SimulateError extends Error {}

interface MessageView {
  id: number;
  created_at: string;
  processing_status: 'pending' | 'processing' | 'processed' | 'failed';
  attempts: number;
  error: string | null;
  storage_urls: (string | null)[];
  /** Why the photo did not count as proof (a repeat, not a photo). */
  proof_rejection: { message: string } | null;
}

interface OutboundView {
  id: number;
  kind: string;
  user_id: number | null;
  status: string;
  body: string;
  twilio_sid: string | null;
  outbox: boolean;
  error_message: string | null;
  to_number: string;
}

interface UserView {
  id: number;
  username: string;
  points: number;
}

interface FeedView {
  items: {
    id: number;
    created_at: string;
    task_id: number | null;
    task_description: string | null;
    /** `published`; `pending_review` while the group (or its model) reviews it; `rejected`. */
    status: string;
  }[];
}

interface ReviewView {
  feed_id: number;
  method: 'peer' | 'model';
  status: 'pending' | 'approved' | 'rejected';
  decided_by: string | null;
  reason: string | null;
  /** The model's { matches, confidence, reason }, or why peers review instead; null: not yet. */
  model_verdict: { matches?: boolean; confidence?: number; reason?: string } | null;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export async function simulate(
  config: Config,
  options: SimulateOptions,
  print: (line: string) => void = (line) => console.log(line),
): Promise<number> {
  try {
    return await run(config, options, print);
  } catch (error) {
    if (error instanceof SimulateError) {
      print(`✗ ${error.message}`);
      return 1;
    }
    throw error;
  }
}

async function run(
  config: Config,
  options: SimulateOptions,
  print: (line: string) => void,
): Promise<number> {
  const from = options.from.replace(/^whatsapp:/, '').replace(/[\s().-]/g, '');
  if (!E164.test(from)) {
    throw new SimulateError(
      `--from must be an E.164 number such as +15551234567, got "${options.from}".`,
    );
  }
  const base = (options.url ?? localServiceUrl(config)).replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 30_000;
  const auth = { authorization: `Bearer ${config.apiToken}` };

  const call = async (
    pathAndQuery: string,
    init: RequestInit = {},
    withToken = true,
  ): Promise<Response> => {
    try {
      return await fetch(`${base}${pathAndQuery}`, {
        ...init,
        headers: {
          ...(withToken ? auth : {}),
          ...(init.headers as Record<string, string> | undefined),
        },
        signal: AbortSignal.timeout(10_000),
      });
    } catch (error) {
      const code = ((error as Error).cause as { code?: string } | undefined)?.code;
      throw new SimulateError(
        `No Taskwire service answers at ${base}${code ? ` (${code})` : ''}.\n` +
          '  Start it in another terminal with `npm start` (or `npx taskwire serve`) and run this again;\n' +
          '  if it runs elsewhere, pass --url http://host:port.',
      );
    }
  };
  const json = async <T>(pathAndQuery: string): Promise<T | null> => {
    const response = await call(pathAndQuery);
    if (response.status === 401) throw tokenRefused(base, config);
    if (!response.ok) return null;
    return (await response.json()) as T;
  };

  // 1. The service is there.
  await call('/health', {}, false);

  // 2. The photo, where the service fetches it the way it fetches Twilio's media.
  let media: { url: string; contentType: string; messageSid: string; accountSid: string } | null =
    null;
  if (options.image) {
    let bytes: Buffer;
    try {
      bytes = await readFile(options.image);
    } catch (error) {
      throw new SimulateError(
        `Cannot read ${options.image}: ${(error as NodeJS.ErrnoException).code ?? 'error'}.`,
      );
    }
    const contentType =
      contentTypes[path.extname(options.image).toLowerCase()] ?? 'application/octet-stream';
    const upload = await call('/simulator/media', {
      method: 'POST',
      headers: { 'content-type': contentType },
      body: bytes,
    });
    if (upload.status === 401) throw tokenRefused(base, config);
    if (upload.status === 404) {
      throw new SimulateError(
        `The service at ${base} does not simulate Twilio's media: it has TWILIO_ACCOUNT_SID set\n` +
          '  (or NODE_ENV=production), so photos must come from Twilio. Simulate a text message\n' +
          '  (without --image), or run the service without TWILIO_ACCOUNT_SID.',
      );
    }
    if (upload.status === 413) {
      throw new SimulateError(
        `${options.image} is larger than the service accepts (MEDIA_MAX_BYTES, ${config.media.maxBytes} bytes).`,
      );
    }
    if (upload.status !== 201) {
      throw new SimulateError(
        `Uploading ${options.image} failed: HTTP ${upload.status} ${await upload.text()}`,
      );
    }
    const uploaded = (await upload.json()) as {
      media_url: string;
      content_type: string;
      message_sid: string;
      account_sid: string;
      media_sid: string;
    };
    media = {
      url: uploaded.media_url,
      contentType: uploaded.content_type,
      messageSid: uploaded.message_sid,
      accountSid: uploaded.account_sid,
    };
    print(
      `✓ Uploaded ${path.basename(options.image)} (${(bytes.length / 1024).toFixed(1)} KiB, ${contentType}) as Twilio media ${uploaded.media_sid}`,
    );
  }

  // What was sent before this message: whatever comes after it was caused by it (on a
  // service nobody else is writing to), e.g. the other members told of a proof.
  const latest = await json<{ items: OutboundView[] }>('/outbound?limit=1');
  const sentBefore = latest?.items[0]?.id ?? 0;

  // 3. The webhook, as Twilio posts it for a WhatsApp message.
  const messageSid = media?.messageSid ?? `SM${randomBytes(16).toString('hex')}`;
  const to = config.twilio.whatsappNumber ?? WHATSAPP_SANDBOX_NUMBER;
  const params: Record<string, string> = {
    SmsMessageSid: messageSid,
    NumMedia: media ? '1' : '0',
    ProfileName: options.name ?? `User ${from.slice(-4)}`,
    MessageType: media ? (media.contentType.startsWith('image/') ? 'image' : 'document') : 'text',
    SmsSid: messageSid,
    WaId: from.slice(1),
    SmsStatus: 'received',
    Body: options.body,
    To: `whatsapp:${to}`,
    NumSegments: '1',
    ReferralNumMedia: '0',
    MessageSid: messageSid,
    AccountSid:
      media?.accountSid ??
      config.twilio.accountSid ??
      config.twilio.simulator?.accountSid ??
      `AC${'0'.repeat(32)}`,
    From: `whatsapp:${from}`,
    ApiVersion: '2010-04-01',
    ...(media ? { MediaUrl0: media.url, MediaContentType0: media.contentType } : {}),
  };
  // Signed for the URL the service checks: PUBLIC_URL when set, else where we post.
  const signedFor = `${config.publicUrl ?? base}/webhook/twilio`;
  const webhook = await call(
    '/webhook/twilio',
    {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': signAsTwilio(config.twilio.authToken, signedFor, params),
      },
      body: new URLSearchParams(params).toString(),
    },
    false,
  );
  if (webhook.status === 403) {
    throw new SimulateError(
      `The service refused the signature (403): it checks webhooks against another TWILIO_AUTH_TOKEN\n` +
        `  or URL. This CLI signed ${signedFor} with ${tokenSource(config)}; run it from the\n` +
        '  folder the service runs in (same .env and DATA_DIR), and set PUBLIC_URL alike.',
    );
  }
  if (webhook.status !== 200) {
    throw new SimulateError(
      `The webhook was answered HTTP ${webhook.status}: ${await webhook.text()}`,
    );
  }
  print(
    `✓ Webhook accepted: ${media ? 'photo' : 'text'} message ${messageSid} from whatsapp:${from} to whatsapp:${to}`,
  );

  // 4. Stored, then processed by a worker.
  const deadline = Date.now() + timeoutMs;
  let message = await json<MessageView>(`/messages/${messageSid}`);
  if (!message)
    throw new SimulateError(`The service acknowledged ${messageSid} but does not list it.`);
  print(`✓ Stored as message ${message.id}`);
  while (message.processing_status === 'pending' || message.processing_status === 'processing') {
    if (Date.now() > deadline) {
      throw new SimulateError(
        `Message ${message.id} is still ${message.processing_status} after ${timeoutMs / 1000} s (attempt ${message.attempts}${message.error ? `, last error: ${message.error}` : ''}).\n` +
          '  Is a worker running? With RUN_WORKERS=false, start `npx taskwire worker`.',
      );
    }
    await sleep(200);
    message = (await json<MessageView>(`/messages/${messageSid}`)) ?? message;
  }
  if (message.processing_status === 'failed') {
    throw new SimulateError(
      `Processing failed after ${plural(message.attempts, 'attempt')}: ${message.error ?? 'no reason recorded'}`,
    );
  }
  const seconds = ((Date.now() - new Date(message.created_at).getTime()) / 1000).toFixed(1);
  // The local driver's URLs are relative (they load on any address of the service).
  const stored = message.storage_urls.map((url) =>
    url === null ? '(no URL: storage did not give one)' : new URL(url, `${base}/`).href,
  );
  print(
    `✓ Processed in ${seconds} s${stored.length > 0 ? `: photo stored at ${stored.join(', ')}` : ''}${message.error ? ` (${message.error})` : ''}`,
  );

  // 5. The reply: recorded in the processing transaction, then sent (or put in the outbox).
  let reply: OutboundView | undefined;
  for (;;) {
    const page = await json<{ items: OutboundView[] }>(
      `/outbound?inbound_message_id=${message.id}`,
    );
    reply = page?.items[0];
    if (reply && reply.status !== 'pending' && reply.status !== 'submitting') break;
    if (Date.now() > deadline) break;
    await sleep(200);
  }

  // 6. The task and points, through the user the reply went to.
  const reviewOf = async (feedId: number) =>
    (await json<{ items: ReviewView[] }>('/reviews?limit=20'))?.items.find(
      (item) => item.feed_id === feedId,
    );
  let modelReview: { feedId: number; userId: number } | null = null;
  if (reply?.user_id) {
    const user = await json<UserView>(`/users/${reply.user_id}`);
    const feed = await json<FeedView>(`/feed?user_id=${reply.user_id}&limit=1`);
    const post = feed?.items[0];
    const postedNow =
      post && new Date(post.created_at).getTime() >= new Date(message.created_at).getTime();
    // A proof of a group with review: the model's verdict may already be in: say it below.
    const review = postedNow && post.status !== 'rejected' ? await reviewOf(post.id) : undefined;
    const points = async (taskId: number | null) => {
      const task = taskId ? await json<{ points: number }>(`/tasks/${taskId}`) : null;
      return task ? ` earns ${plural(task.points, 'point')} once approved` : '';
    };
    if (postedNow && user && review?.method === 'model') {
      modelReview = { feedId: post.id, userId: user.id };
      print(
        `· Sent to the vision model (the group's review is model): "${post.task_description ?? 'task'}"${await points(post.task_id)}.`,
      );
    } else if (postedNow && user && post.status === 'pending_review') {
      print(
        `· Waiting for review by the group: "${post.task_description ?? 'task'}"${await points(post.task_id)}; ${user.username} has ${plural(user.points, 'point')}.`,
      );
    } else if (postedNow && user) {
      const task = post.task_id ? await json<{ points: number }>(`/tasks/${post.task_id}`) : null;
      print(
        `✓ Task completed: "${post.task_description ?? 'task'}"${task ? ` (+${plural(task.points, 'point')})` : ''}; ${user.username} now has ${plural(user.points, 'point')}. It is on the feed.`,
      );
    } else if (user) {
      print(`· No task completed; ${user.username} has ${plural(user.points, 'point')}.`);
    }
  }
  if (message.proof_rejection) {
    print(`· Not counted as proof: ${message.proof_rejection.message}`);
  }

  if (!reply) {
    print('✗ No reply was recorded.');
    return 1;
  }
  if (reply.status === 'pending' || reply.status === 'submitting') {
    print(
      `✗ The reply is still ${reply.status} after ${timeoutMs / 1000} s${reply.error_message ? ` (${reply.error_message})` : ''}.`,
    );
    return 1;
  }
  if (reply.status === 'failed' || reply.status === 'undelivered') {
    print(`✗ The reply failed: ${reply.error_message ?? reply.status}`);
    return 1;
  }
  const via = reply.outbox
    ? `to the local outbox (${reply.twilio_sid}; TWILIO_ACCOUNT_SID is not set)`
    : `through Twilio (${reply.twilio_sid}, ${reply.status})`;
  print(`✓ Reply ${via}:`);
  print(reply.body.replace(/^/gm, '    '));

  // 7. A vision model reviewing the proof: its verdict comes from a job, after the reply.
  if (modelReview) {
    const { feedId, userId } = modelReview;
    for (;;) {
      const review = await reviewOf(feedId);
      if (!review) break;
      const confidence =
        review.model_verdict?.confidence !== undefined
          ? ` (confidence ${review.model_verdict.confidence})`
          : '';
      if (review.status !== 'pending') {
        const user = await json<UserView>(`/users/${userId}`);
        print(
          `✓ The ${review.decided_by === 'model' ? 'model' : (review.decided_by ?? 'review')} ${review.status} it${confidence}${review.reason ? `: ${review.reason}` : ''}${user ? `; ${user.username} has ${plural(user.points, 'point')}` : ''}.`,
        );
        break;
      }
      if (review.model_verdict) {
        print(`· The model did not decide${confidence}: the group's members review it instead.`);
        break;
      }
      if (Date.now() > deadline) {
        print(
          `· The model has not answered after ${timeoutMs / 1000} s (PROOF_MODEL_URL, PROOF_MODEL_TIMEOUT_MS).`,
        );
        break;
      }
      await sleep(200);
    }
  }

  // 8. Everything else this message made the service send: the other members told of a
  // proof or asked to review it, the owner told of a decision.
  const recent = await json<{ items: OutboundView[] }>('/outbound?limit=50');
  const others = (recent?.items ?? [])
    .filter((item) => item.id > sentBefore && item.id !== reply.id)
    .sort((a, b) => a.id - b.id);
  const names = new Map<number, string>();
  for (const item of others) {
    let name = item.to_number;
    if (item.user_id !== null) {
      if (!names.has(item.user_id)) {
        const user = await json<UserView>(`/users/${item.user_id}`);
        names.set(item.user_id, user?.username ?? item.to_number);
      }
      name = names.get(item.user_id) ?? name;
    }
    print(`✓ Also sent to ${name} (${item.kind}, ${item.status}):`);
    print(item.body.replace(/^/gm, '    '));
  }
  return 0;
}

const tokenSource = (config: Config) =>
  config.twilio.authTokenSource === 'env'
    ? 'TWILIO_AUTH_TOKEN'
    : `the development TWILIO_AUTH_TOKEN in ${path.join(config.dataDir, 'secrets.json')}`;

const tokenRefused = (base: string, config: Config) =>
  new SimulateError(
    `The service at ${base} refused the API token (401). This CLI uses ${
      config.apiTokenSource === 'env'
        ? 'API_TOKEN'
        : `the development token in ${path.join(config.dataDir, 'secrets.json')}`
    };\n  run it from the folder the service runs in (same .env and DATA_DIR).`,
  );
