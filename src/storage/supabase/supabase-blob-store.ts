import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { StorageClient } from '@supabase/storage-js';
import type { BlobStore, ObjectStream, PutObjectOptions, StoredObject } from '../adapter.js';
import { assertObjectKey } from '../keys.js';
import { measureBody } from '../measured-body.js';
import {
  DEFAULT_STORAGE_TIMEOUT_MS,
  StorageTimeoutError,
  StorageUnavailableError,
  storageDeadline,
} from '../storage-errors.js';
import {
  type StorageFailure,
  describeFailure,
  isRowLevelSecurityRefusal,
  isStorageNotFound,
  readFailure,
} from './supabase-failures.js';

export interface SupabaseBlobStoreOptions {
  /**
   * SUPABASE_URL, the project URL such as https://abcd.supabase.co. The Storage API is
   * under `/storage/v1`; a URL that already ends there is used as it is.
   */
  url: string;
  /** SUPABASE_KEY: the service-role (secret) key; the anon key cannot create buckets. */
  key: string;
  /** SUPABASE_BUCKET. */
  bucket: string;
  /** STORAGE_PUBLIC: the bucket is created public and URLs are its public URLs. */
  public: boolean;
  /** STORAGE_SIGNED_URL_TTL, for the signed URLs of a private bucket. */
  signedUrlTtlSeconds: number;
  /** STORAGE_TIMEOUT_MS: the longest one call to Storage may take. */
  timeoutMs?: number;
  /** A fetch to use instead of the global one (tests, proxies). */
  fetch?: typeof fetch;
}

const BACKEND = 'Supabase Storage';

/** `<project>/storage/v1`, without appending it twice to a URL that already names it. */
export function supabaseStorageApiUrl(url: string): string {
  const trimmed = url.replace(/\/+$/, '');
  return /\/storage\/v1$/.test(trimmed) ? trimmed : `${trimmed}/storage/v1`;
}

// Keys never change content (they hold a MessageSid), so Supabase's CDN may keep them a year.
const CACHE_SECONDS = '31536000';

/** What storage-js rejects with: an HTTP answer, or (StorageUnknownError) a failed fetch. */
interface StorageJsError {
  message: string;
  status?: number;
  statusCode?: string | number;
  originalError?: unknown;
}

/**
 * Objects in a Supabase Storage bucket, through @supabase/storage-js.
 *
 * Uploads stream: storage-js 2.109 hands a Node stream to fetch as the request body with
 * `duplex: 'half'` (undici reads it as an async iterable), so nothing is buffered here.
 * Downloads use the REST endpoint directly, because `download().asStream()` returns the body
 * alone and the Content-Type and Content-Length would cost a second request (`info`), which
 * could describe a different version of the object than the bytes. The bucket is looked up
 * directly too: telling "no such bucket" from "no Storage API at this URL" needs the body
 * as the server sent it, which storage-js does not keep.
 *
 * Every request is bounded by STORAGE_TIMEOUT_MS; a timeout, a 5xx or an unreachable server
 * is a StorageUnavailableError, which the media job retries.
 */
export class SupabaseBlobStore implements BlobStore {
  readonly driver = 'supabase' as const;
  readonly bucket: string;
  private readonly client: StorageClient;
  private readonly storageUrl: string;
  private readonly headers: Record<string, string>;
  private readonly options: SupabaseBlobStoreOptions;
  private readonly fetch: typeof fetch;
  private readonly timeoutMs: number;

  constructor(options: SupabaseBlobStoreOptions) {
    this.bucket = options.bucket;
    this.options = options;
    this.storageUrl = supabaseStorageApiUrl(options.url);
    this.headers = { apikey: options.key, Authorization: `Bearer ${options.key}` };
    this.fetch = options.fetch ?? fetch;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_STORAGE_TIMEOUT_MS;
    this.client = new StorageClient(this.storageUrl, this.headers, this.timedFetch);
  }

  /**
   * The fetch storage-js calls: each request under its own deadline. The clock is not
   * stopped at the headers, so reading the (small, JSON) answer is bounded as well; when it
   * fires after the call is over, aborting a finished request does nothing.
   */
  private readonly timedFetch: typeof fetch = (input, init) => {
    const deadline = storageDeadline(BACKEND, 'a request', this.timeoutMs);
    const signal = init?.signal ? AbortSignal.any([init.signal, deadline.signal]) : deadline.signal;
    return this.fetch(input, { ...init, signal });
  };

  async ensureBucket(): Promise<void> {
    const action = `reading bucket "${this.bucket}"`;
    const found = await this.request('GET', `bucket/${this.bucket}`, action);
    if (found.ok) {
      const bucket = (await found.json().catch(() => ({}))) as { public?: unknown };
      if (this.options.public && bucket.public !== true) {
        throw new Error(
          `Supabase bucket "${this.bucket}" is private but STORAGE_PUBLIC=true, so its public URLs would not load. ` +
            'Make the bucket public in the Supabase dashboard, or set STORAGE_PUBLIC=false for signed URLs.',
        );
      }
      return;
    }
    const missing = await readFailure(found);
    if (!isStorageNotFound(missing)) throw this.startupFailure(action, missing);

    const creating = `creating bucket "${this.bucket}"`;
    const created = await this.request('POST', 'bucket', creating, {
      id: this.bucket,
      name: this.bucket,
      public: this.options.public,
    });
    if (created.ok) {
      await created.body?.cancel();
      return;
    }
    const refused = await readFailure(created);
    // 409: another instance created it since we looked, which is what we wanted.
    if (refused.statusCode === '409') return;
    throw this.startupFailure(creating, refused);
  }

  async put(key: string, body: Readable, options: PutObjectOptions): Promise<StoredObject> {
    assertObjectKey(key);
    const measured = measureBody(body, options.contentLength);
    const { error } = await this.client.from(this.bucket).upload(key, measured.stream, {
      contentType: options.contentType,
      cacheControl: CACHE_SECONDS,
      upsert: true,
      duplex: 'half',
    });
    if (error) {
      body.destroy();
      throw this.failure(`uploading "${key}"`, error);
    }
    return { key, size: measured.bytes(), contentType: options.contentType };
  }

  async get(key: string): Promise<ObjectStream | null> {
    assertObjectKey(key);
    const action = `downloading "${key}"`;
    // The deadline covers the wait for the answer, not the body: a browser reading a photo
    // slowly through the media route is not a stalled server.
    const deadline = storageDeadline(BACKEND, action, this.timeoutMs);
    let response: Response;
    try {
      response = await this.fetch(`${this.storageUrl}/object/authenticated/${this.bucket}/${key}`, {
        // identity: a compressed answer would carry the compressed length, not the object's.
        headers: { ...this.headers, 'accept-encoding': 'identity' },
        signal: deadline.signal,
      });
    } catch (error) {
      throw this.unreachable(action, deadline.expired() ?? error);
    } finally {
      deadline.clear();
    }
    if (!response.ok) {
      const details = await readFailure(response);
      if (isStorageNotFound(details)) return null;
      throw this.failure(action, details);
    }
    const length = Number(response.headers.get('content-length'));
    if (!response.body || !Number.isSafeInteger(length)) {
      await response.body?.cancel();
      throw new Error(`Supabase Storage: downloading "${key}" gave no body or no Content-Length`);
    }
    return {
      body: Readable.fromWeb(response.body as WebReadableStream<Uint8Array>),
      contentType: response.headers.get('content-type') ?? 'application/octet-stream',
      size: length,
    };
  }

  async url(key: string): Promise<string> {
    assertObjectKey(key);
    const files = this.client.from(this.bucket);
    if (this.options.public) return files.getPublicUrl(key).data.publicUrl;
    const { data, error } = await files.createSignedUrl(key, this.options.signedUrlTtlSeconds);
    if (error) throw this.failure(`signing a URL for "${key}"`, error);
    return data.signedUrl;
  }

  async delete(key: string): Promise<void> {
    assertObjectKey(key);
    // Removing a key that is not there succeeds with an empty list, as S3 does.
    const { error } = await this.client.from(this.bucket).remove([key]);
    if (error) throw this.failure(`deleting "${key}"`, error);
  }

  /** One JSON request of our own to the Storage API, under the deadline. */
  private async request(
    method: string,
    path: string,
    action: string,
    body?: unknown,
  ): Promise<Response> {
    const deadline = storageDeadline(BACKEND, action, this.timeoutMs);
    try {
      return await this.fetch(`${this.storageUrl}/${path}`, {
        method,
        headers: {
          ...this.headers,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: deadline.signal,
      });
    } catch (error) {
      throw this.unreachable(action, deadline.expired() ?? error);
    } finally {
      // Our callers read the (small) answer at once; the server has answered by now.
      deadline.clear();
    }
  }

  /** A start-up failure, told apart by cause so the message says what to change. */
  private startupFailure(action: string, error: StorageFailure): Error {
    if (error.status === 404) {
      // Storage itself renders its "not found" with statusCode "404" as a string; anything
      // else answering 404 (the framework's unknown route with a numeric statusCode, a
      // gateway, a web server's page) means there is no Storage API at this address.
      return new Error(
        `No Supabase Storage API at ${this.storageUrl}: ${action} answered HTTP 404 (${error.message}). ` +
          'Check SUPABASE_URL: the project URL such as https://<ref>.supabase.co, with or without /storage/v1.',
        { cause: error },
      );
    }
    if (isRowLevelSecurityRefusal(error)) {
      return new Error(
        `SUPABASE_KEY must be the service-role key: Supabase Storage refused ${action} under row-level security ` +
          `(${error.message}), which is what it does for the anon key. Use the service_role key from the project's API settings.`,
        { cause: error },
      );
    }
    if (error.status === 401 || error.statusCode === '403') {
      return new Error(
        `SUPABASE_KEY was refused by Supabase Storage while ${action}: ${error.message}. ` +
          "Use the project's service_role key (a valid, unexpired JWT of this project).",
        { cause: error },
      );
    }
    return this.failure(action, error);
  }

  /** A failed call: transient (5xx, timeout, no connection) or not, with Storage's words. */
  private failure(action: string, error: StorageFailure | StorageJsError): Error {
    if ('originalError' in error && error.originalError !== undefined) {
      return this.unreachable(action, error.originalError);
    }
    const described = describeFailure(action, error);
    if (error.status !== undefined && error.status >= 500) {
      return new StorageUnavailableError(`${described}. Transient: a later attempt may succeed.`, {
        cause: error,
      });
    }
    if (isRowLevelSecurityRefusal(error)) {
      return new Error(`${described}. SUPABASE_KEY must be the service-role key.`, {
        cause: error,
      });
    }
    return new Error(described, { cause: error });
  }

  /** No answer at all: the deadline passed, or the server could not be reached. */
  private unreachable(action: string, error: unknown): StorageUnavailableError {
    if (error instanceof StorageTimeoutError) {
      return new StorageTimeoutError(BACKEND, action, error.timeoutMs);
    }
    if (error instanceof StorageUnavailableError) return error;
    const cause = (error as { cause?: { code?: unknown } } | null)?.cause;
    const reason =
      typeof cause?.code === 'string'
        ? cause.code
        : error instanceof Error
          ? error.message
          : String(error);
    return new StorageUnavailableError(
      `${BACKEND}: ${action} failed: could not reach ${this.storageUrl} (${reason}). Transient: a later attempt may succeed.`,
      { cause: error },
    );
  }
}
