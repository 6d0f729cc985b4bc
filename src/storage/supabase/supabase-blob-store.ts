import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { StorageClient } from '@supabase/storage-js';
import type { BlobStore, ObjectStream, PutObjectOptions, StoredObject } from '../adapter.js';
import { assertObjectKey } from '../keys.js';
import { measureBody } from '../measured-body.js';

export interface SupabaseBlobStoreOptions {
  /** SUPABASE_URL, the project URL such as https://abcd.supabase.co (no /storage/v1). */
  url: string;
  /** SUPABASE_KEY: the service-role (secret) key; the anon key cannot create buckets. */
  key: string;
  /** SUPABASE_BUCKET. */
  bucket: string;
  /** STORAGE_PUBLIC: the bucket is created public and URLs are its public URLs. */
  public: boolean;
  /** STORAGE_SIGNED_URL_TTL, for the signed URLs of a private bucket. */
  signedUrlTtlSeconds: number;
  /** A fetch to use instead of the global one (tests, proxies). */
  fetch?: typeof fetch;
}

/** What Supabase Storage puts in an error: HTTP status, and its own code in `statusCode`. */
interface StorageFailure {
  message: string;
  status?: number;
  statusCode?: string;
}

/**
 * Supabase Storage answers most failures with HTTP 400 and the real status as a string in
 * the body's `statusCode` ("404", "409"); newer deployments may use the status itself.
 */
const hasStatus = (error: StorageFailure, status: number): boolean =>
  error.status === status || error.statusCode === String(status);

const failure = (action: string, error: StorageFailure): Error =>
  new Error(
    `Supabase Storage: ${action} failed: ${error.message}` +
      (error.status
        ? ` (HTTP ${error.status}${error.statusCode ? `, ${error.statusCode}` : ''})`
        : ''),
    { cause: error },
  );

// Keys never change content (they hold a MessageSid), so Supabase's CDN may keep them a year.
const CACHE_SECONDS = '31536000';

/**
 * Objects in a Supabase Storage bucket, through @supabase/storage-js.
 *
 * Uploads stream: storage-js 2.109 hands a Node stream to fetch as the request body with
 * `duplex: 'half'` (undici reads it as an async iterable), so nothing is buffered here.
 * Downloads use the REST endpoint directly, because `download().asStream()` returns the body
 * alone and the Content-Type and Content-Length would cost a second request (`info`), which
 * could describe a different version of the object than the bytes.
 */
export class SupabaseBlobStore implements BlobStore {
  readonly driver = 'supabase' as const;
  readonly bucket: string;
  private readonly client: StorageClient;
  private readonly storageUrl: string;
  private readonly headers: Record<string, string>;
  private readonly options: SupabaseBlobStoreOptions;
  private readonly fetch: typeof fetch;

  constructor(options: SupabaseBlobStoreOptions) {
    this.bucket = options.bucket;
    this.options = options;
    this.storageUrl = `${options.url.replace(/\/+$/, '')}/storage/v1`;
    this.headers = { apikey: options.key, Authorization: `Bearer ${options.key}` };
    this.fetch = options.fetch ?? fetch;
    this.client = new StorageClient(this.storageUrl, this.headers, this.fetch);
  }

  async ensureBucket(): Promise<void> {
    const found = await this.client.getBucket(this.bucket);
    if (found.data) {
      if (this.options.public && !found.data.public) {
        throw new Error(
          `Supabase bucket "${this.bucket}" is private but STORAGE_PUBLIC=true, so its public URLs would not load. ` +
            'Make the bucket public in the Supabase dashboard, or set STORAGE_PUBLIC=false for signed URLs.',
        );
      }
      return;
    }
    if (!hasStatus(found.error, 404)) throw failure(`reading bucket "${this.bucket}"`, found.error);
    const created = await this.client.createBucket(this.bucket, { public: this.options.public });
    // 409: another instance created it since we looked, which is what we wanted.
    if (created.error && !hasStatus(created.error, 409)) {
      throw failure(`creating bucket "${this.bucket}"`, created.error);
    }
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
      throw failure(`uploading "${key}"`, error);
    }
    return { key, size: measured.bytes(), contentType: options.contentType };
  }

  async get(key: string): Promise<ObjectStream | null> {
    assertObjectKey(key);
    const response = await this.fetch(
      `${this.storageUrl}/object/authenticated/${this.bucket}/${key}`,
      // identity: a compressed answer would carry the compressed length, not the object's.
      { headers: { ...this.headers, 'accept-encoding': 'identity' } },
    );
    if (!response.ok) {
      const details = await readFailure(response);
      if (hasStatus(details, 404)) return null;
      throw failure(`downloading "${key}"`, details);
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
    if (error) throw failure(`signing a URL for "${key}"`, error);
    return data.signedUrl;
  }

  async delete(key: string): Promise<void> {
    assertObjectKey(key);
    // Removing a key that is not there succeeds with an empty list, as S3 does.
    const { error } = await this.client.from(this.bucket).remove([key]);
    if (error) throw failure(`deleting "${key}"`, error);
  }
}

async function readFailure(response: Response): Promise<StorageFailure> {
  const text = await response.text().catch(() => '');
  let body: { message?: unknown; statusCode?: unknown } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // Not JSON (a proxy's HTML page): the status alone has to do.
  }
  return {
    message: typeof body.message === 'string' ? body.message : response.statusText || text,
    status: response.status,
    ...(typeof body.statusCode === 'string' ? { statusCode: body.statusCode } : {}),
  };
}
