import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { Database } from '../db/executor.js';
import { createInboundWorker, createQueueWorker, type QueueWorker } from '../jobs/queue-worker.js';
import { outboundQueue, sendOutboundJob } from '../jobs/send-outbound.js';
import { runAccountabilityLoop } from '../services/accountability.js';
import { type CopyMedia, processInboundMessage } from '../services/process-inbound.js';
import type { BlobStore } from '../storage/adapter.js';
import { createBlobStore, type SelectedBlobStore } from '../storage/index.js';
import { deleteTwilioMedia, downloadMediaToStore, mediaObjectKey } from '../twilio/media.js';
import { createTwilioSender } from '../twilio/sender.js';

/** The service's own base URL: PUBLIC_URL, or where this process listens locally. */
export const serviceBaseUrl = (config: Config): string =>
  config.publicUrl ?? `http://localhost:${config.port}`;

/** The bucket, by STORAGE_DRIVER; creates it when missing. */
export async function openBlobStore(config: Config): Promise<SelectedBlobStore> {
  const store = createBlobStore(config.storage, {
    dataDir: config.dataDir,
    baseUrl: serviceBaseUrl(config),
    // Derived, not configured: one secret fewer to manage; rotating API_TOKEN
    // invalidates the local driver's signed links, which expire anyway.
    signingSecret: createHmac('sha256', config.apiToken)
      .update('taskwire local storage links')
      .digest('hex'),
  });
  await store.ensureBucket();
  return store;
}

const twilioRequestOptions = (config: Config) => ({
  accountSid: config.twilio.accountSid ?? '',
  authToken: config.twilio.authToken,
  apiBaseUrl: config.twilio.apiBaseUrl,
  timeoutMs: config.media.timeoutMs,
});

/** Copies media from Twilio into the bucket; the URL recorded is loadable by a browser. */
export function mediaCopier(config: Config, store: BlobStore): CopyMedia {
  const options = { ...twilioRequestOptions(config), maxBytes: config.media.maxBytes };
  return async (item, target) => {
    const stored = await downloadMediaToStore(
      { url: item.url, contentType: item.content_type },
      { store, key: (contentType) => mediaObjectKey(target.messageSid, target.index, contentType) },
      options,
    );
    // A private bucket's URLs expire, so the row keeps the stable API address instead;
    // the API hands out fresh signed URLs when it is read.
    const url = config.storage.public
      ? stored.url
      : `${serviceBaseUrl(config)}/messages/${target.messageId}/media/${target.index}`;
    return { key: stored.key, size: stored.size, contentType: stored.contentType, url };
  };
}

export interface Workers {
  inbound: QueueWorker;
  outbound: QueueWorker;
  start(): Promise<void>;
  wake(): void;
  stop(graceMs: number): Promise<void>;
}

/** The inbound-processing and outbound-sending workers of one process. */
export function createWorkers(
  config: Config,
  db: Database,
  store: BlobStore,
  log: Logger,
): Workers {
  const workerLog = log.child({ component: 'worker' });
  const workerOptions = { ...config.worker, log: workerLog };
  const deleteMedia = config.twilio.deleteMedia
    ? async (item: { url: string }) => {
        await deleteTwilioMedia(item.url, twilioRequestOptions(config));
      }
    : undefined;

  const inbound = createInboundWorker(
    db,
    (message) =>
      processInboundMessage(message, {
        db,
        copyMedia: mediaCopier(config, store),
        deleteTwilioMedia: deleteMedia,
        onProcessed: (tx, processed, stored) =>
          runAccountabilityLoop(tx, processed, stored, { autoRegister: config.autoRegister }),
        log: workerLog,
      }),
    workerOptions,
  );

  const send = config.twilio.accountSid
    ? createTwilioSender({
        accountSid: config.twilio.accountSid,
        authToken: config.twilio.authToken,
        apiBaseUrl: config.twilio.apiBaseUrl,
        statusCallbackUrl: config.publicUrl ? `${config.publicUrl}/webhook/twilio/status` : null,
      })
    : null;
  const outbound = createQueueWorker(
    db,
    outboundQueue,
    sendOutboundJob({ db, send }),
    workerOptions,
  );

  return {
    inbound,
    outbound,
    async start() {
      await inbound.start();
      await outbound.start();
    },
    wake() {
      inbound.wake();
    },
    async stop(graceMs) {
      await Promise.all([inbound.stop(graceMs), outbound.stop(graceMs)]);
    },
  };
}
