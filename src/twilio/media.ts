/**
 * Copies the media of an inbound message from Twilio into our bucket, one streamed item at
 * a time, and optionally deletes it at Twilio afterwards (TWILIO_DELETE_MEDIA).
 *
 * Rules this module keeps: Twilio's credentials go to the TWILIO_API_BASE_URL origin and
 * nowhere else (not to a foreign media URL, not across a redirect to the CDN); no item is
 * ever held whole in memory; an item over MEDIA_MAX_BYTES or MEDIA_TIMEOUT_MS fails alone
 * and leaves nothing in storage; every failure is a MediaDownloadError that says whether
 * retrying can help.
 */
import { Readable, Transform, pipeline, type TransformCallback } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { StoredObject } from '../domain/message.js';
import { MediaFingerprinter } from '../media/fingerprint.js';
import type { BlobStore } from '../storage/adapter.js';
import { extensionForContentType, resolveContentType } from './content-types.js';
import { MediaDownloadError, MediaTooLargeError } from './media-errors.js';
import {
  Deadline,
  httpError,
  parseTwilioMediaUrl,
  requestTwilio,
  type TwilioRequestOptions,
} from './media-http.js';

export {
  MediaDownloadError,
  MediaHttpError,
  MediaRefusedError,
  MediaTimeoutError,
  MediaTooLargeError,
  isPermanentMediaError,
} from './media-errors.js';
export { extensionForContentType } from './content-types.js';

export interface MediaDownloadOptions extends TwilioRequestOptions {
  /** MEDIA_MAX_BYTES (default 16 MiB): larger items fail with MediaTooLargeError. */
  maxBytes: number;
}

export interface MediaSource {
  /** The webhook's MediaUrlN. */
  url: string;
  /** The webhook's MediaContentTypeN: used when the download does not name a type. */
  contentType?: string | null;
}

export interface MediaTarget {
  store: BlobStore;
  /** The object key, or a function of the content type the download turned out to have. */
  key: string | ((contentType: string) => string);
}

/** `messages/<MessageSid>/<index>.<ext>`: no phone number in a key, one folder per message. */
export function mediaObjectKey(messageSid: string, index: number, contentType: string): string {
  if (!/^[A-Za-z0-9]{2,64}$/.test(messageSid)) {
    throw new TypeError('mediaObjectKey: a MessageSid is letters and digits only');
  }
  if (!Number.isInteger(index) || index < 0) {
    throw new TypeError('mediaObjectKey: the index is a whole number from 0');
  }
  return `messages/${messageSid}/${index}.${extensionForContentType(contentType)}`;
}

/**
 * Streams one media item from Twilio into `target.store`, hashing it on the way (proof
 * checks). Refuses (MediaRefusedError, before any request) a URL that is not a media
 * resource on the Twilio API origin.
 */
export async function downloadMediaToStore(
  item: MediaSource,
  target: MediaTarget,
  options: MediaDownloadOptions,
): Promise<StoredObject> {
  assertConfigured(options);
  const media = parseTwilioMediaUrl(item.url, options.apiBaseUrl);
  const label = `media ${media.mediaSid}`;
  const deadline = new Deadline(options.timeoutMs, options.signal);
  try {
    const request = { method: 'GET', url: media.url, label, followRedirects: true } as const;
    const response = await requestTwilio({ ...request, retryNotFound: true }, options, deadline);
    if (!response.ok || !response.body) throw await httpError(response, label, true);

    const announced = parseContentLength(response.headers.get('content-length'));
    if (announced !== null && announced > options.maxBytes) {
      await response.body.cancel().catch(() => {});
      throw new MediaTooLargeError(options.maxBytes, announced);
    }
    const contentType = resolveContentType(response.headers.get('content-type'), item.contentType);
    const key = typeof target.key === 'string' ? target.key : target.key(contentType);
    const stored = await streamToStore(response.body, target.store, key, {
      contentType,
      announced,
      maxBytes: options.maxBytes,
      deadline,
      label,
    });
    deadline.clear();
    // After the deadline: decoding for the difference hash is our work, not the download's.
    const fingerprint = await stored.fingerprinter.finish();
    // No store.url() here: URLs are made from the key when the API answers, and a signing
    // call that failed after the upload would fail an attempt that already stored the photo.
    return { key: stored.key, size: stored.size, content_type: stored.contentType, ...fingerprint };
  } finally {
    deadline.clear();
  }
}

/**
 * Counts bytes on their way to storage and fails the stream once they pass the limit;
 * shows every chunk that passes to `observe` (the fingerprinter), so hashing needs no
 * second read and no extra stream.
 */
class ByteLimit extends Transform {
  bytes = 0;
  exceeded = false;

  constructor(
    private readonly maxBytes: number,
    private readonly observe: (chunk: Buffer) => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
    this.bytes += chunk.byteLength;
    if (this.bytes > this.maxBytes) {
      this.exceeded = true;
      callback(new MediaTooLargeError(this.maxBytes, null));
      return;
    }
    this.observe(chunk);
    callback(null, chunk);
  }
}

async function streamToStore(
  body: ReadableStream<Uint8Array>,
  store: BlobStore,
  key: string,
  context: {
    contentType: string;
    announced: number | null;
    maxBytes: number;
    deadline: Deadline;
    label: string;
  },
): Promise<{ key: string; size: number; contentType: string; fingerprinter: MediaFingerprinter }> {
  const source = Readable.fromWeb(body as WebReadableStream<Uint8Array>);
  const fingerprinter = new MediaFingerprinter(context.contentType, {
    announcedBytes: context.announced,
  });
  const counter = new ByteLimit(context.maxBytes, (chunk) => fingerprinter.update(chunk));
  let downloadError: unknown = null;
  // An error that reaches the source while the counter is still alive came from the
  // download; once the store has given up, the counter is destroyed first.
  source.once('error', (error) => {
    if (!counter.destroyed) downloadError = error;
  });
  // pipeline, not pipe: an error on either side destroys both, so the store sees the
  // failure and the connection to Twilio is closed instead of draining an unwanted body.
  pipeline(source, counter, () => {});
  try {
    const stored = await store.put(key, counter, {
      contentType: context.contentType,
      ...(context.announced === null ? {} : { contentLength: context.announced }),
    });
    return { key: stored.key, size: stored.size, contentType: context.contentType, fingerprinter };
  } catch (error) {
    if (counter.exceeded) throw new MediaTooLargeError(context.maxBytes, null);
    const aborted = context.deadline.abortReason();
    if (aborted) throw aborted;
    if (downloadError) {
      throw new MediaDownloadError(
        'network',
        `The download of ${context.label} broke off. Transient: a later attempt may succeed.`,
        { permanent: false, cause: downloadError },
      );
    }
    throw error;
  } finally {
    if (!counter.destroyed) counter.destroy();
  }
}

/** Twilio's media, fetched and deleted with the account its URL belongs to. */
export interface TwilioMedia {
  download(item: MediaSource, target: MediaTarget): Promise<StoredObject>;
  delete(url: string): Promise<'deleted' | 'already_deleted'>;
}

/**
 * Twilio's media with these settings. With a `standIn` (the development simulator, in
 * development without a Twilio account), a URL under its API base is fetched from it with
 * its account, exactly as from Twilio (basic auth, then a redirect); every other URL keeps
 * the configured account, so neither account's credentials go to the other's origin.
 * Only `download` knows the stand-in.
 */
export function createTwilioMedia(
  options: MediaDownloadOptions,
  standIn?: { accountSid: string; apiBaseUrl: string } | null,
): TwilioMedia {
  const optionsFor = (url: string): MediaDownloadOptions =>
    standIn && url.startsWith(`${standIn.apiBaseUrl}/`)
      ? { ...options, accountSid: standIn.accountSid, apiBaseUrl: standIn.apiBaseUrl }
      : options;
  return {
    download: (item, target) => downloadMediaToStore(item, target, optionsFor(item.url)),
    // Only at Twilio: the simulator keeps its uploads and has no DELETE.
    delete: (url) => deleteTwilioMedia(url, options),
  };
}

/**
 * Deletes a media item at Twilio (TWILIO_DELETE_MEDIA), on the documented `.json` resource.
 * `already_deleted` for a 404, so a retried job does not fail on its own earlier success.
 */
export async function deleteTwilioMedia(
  url: string,
  options: TwilioRequestOptions,
): Promise<'deleted' | 'already_deleted'> {
  assertConfigured(options);
  const media = parseTwilioMediaUrl(url, options.apiBaseUrl, { allowJson: true });
  if (!media.url.pathname.endsWith('.json')) media.url.pathname += '.json';
  const label = `media ${media.mediaSid}`;
  const deadline = new Deadline(options.timeoutMs, options.signal);
  try {
    const request = { method: 'DELETE', url: media.url, label, followRedirects: false } as const;
    const response = await requestTwilio({ ...request, retryNotFound: false }, options, deadline);
    if (response.status === 404) {
      await response.body?.cancel().catch(() => {});
      return 'already_deleted';
    }
    if (!response.ok) throw await httpError(response, label, false);
    await response.body?.cancel().catch(() => {});
    return 'deleted';
  } finally {
    deadline.clear();
  }
}

function assertConfigured(options: TwilioRequestOptions): void {
  if (!options.accountSid || !options.authToken) {
    throw new MediaDownloadError(
      'not_configured',
      'TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN must both be set to fetch media from Twilio. Permanent until configured.',
      { permanent: true },
    );
  }
}

function parseContentLength(value: string | null): number | null {
  if (value === null || !/^\d+$/.test(value.trim())) return null;
  return Number(value.trim());
}
