import { Readable } from 'node:stream';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { BlobStore, ObjectStream, PutObjectOptions, StoredObject } from '../adapter.js';
import { assertObjectKey } from '../keys.js';
import { measureBody } from '../measured-body.js';
import {
  DEFAULT_STORAGE_TIMEOUT_MS,
  StorageTimeoutError,
  StorageUnavailableError,
  storageDeadline,
} from '../storage-errors.js';
import { presignGetObject } from './presign-get-object.js';

export interface S3BlobStoreOptions {
  bucket: string;
  /** S3_REGION; default us-east-1 in Config. */
  region: string;
  /** S3_ENDPOINT for S3-compatible services (R2, MinIO, ...); null for AWS itself. */
  endpoint: string | null;
  /** S3_PUBLIC_URL: the base of public URLs (a CDN or custom domain) instead of the endpoint. */
  publicUrl: string | null;
  /** AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY; null uses the SDK's default chain (IAM role, ...). */
  accessKeyId: string | null;
  secretAccessKey: string | null;
  /** STORAGE_PUBLIC: plain URLs when true (the bucket must allow anonymous reads), presigned when false. */
  public: boolean;
  /** STORAGE_SIGNED_URL_TTL, at most 604800 (SigV4's limit of seven days). */
  signedUrlTtlSeconds: number;
  /** STORAGE_TIMEOUT_MS: the longest one call (with the SDK's own retries) may take. */
  timeoutMs?: number;
  /** Milliseconds since the epoch; tests pass a clock to make URLs that already expired. */
  now?: () => number;
}

const BACKEND = 'S3';

const httpStatus = (error: unknown): number | undefined =>
  error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;

const errorName = (error: unknown): string | undefined =>
  error instanceof Error ? error.name : undefined;

/**
 * A timeout, a 5xx or a failed connection as a StorageUnavailableError (the media job
 * retries it); any other error (a 4xx, a refusal) unchanged.
 */
function transient(action: string, error: unknown): unknown {
  if (error instanceof StorageTimeoutError)
    return new StorageTimeoutError(BACKEND, action, error.timeoutMs);
  if (error instanceof StorageUnavailableError) return error;
  const status = httpStatus(error);
  const code = (error as { code?: unknown } | null)?.code;
  const unreachable =
    errorName(error) === 'TimeoutError' ||
    (typeof code === 'string' &&
      /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN)$/.test(code));
  if ((status !== undefined && status >= 500) || unreachable) {
    const reason =
      status !== undefined ? `HTTP ${status}` : typeof code === 'string' ? code : errorName(error);
    return new StorageUnavailableError(
      `${BACKEND}: ${action} failed: ${(error as Error).message} (${reason}). Transient: a later attempt may succeed.`,
      { cause: error },
    );
  }
  return error;
}

/** Keys are already restricted to URL-safe characters; escaping each segment keeps it so. */
const keyPath = (key: string): string => key.split('/').map(encodeURIComponent).join('/');

/**
 * Objects in Amazon S3 or an S3-compatible service. Bodies of unknown length go through
 * lib-storage's Upload, which buffers at most a few 5 MiB parts at a time, never the file:
 * a plain PutObject needs the length up front, and a multipart upload that fails is aborted,
 * so no partial object is left.
 */
export class S3BlobStore implements BlobStore {
  readonly driver = 's3' as const;
  readonly bucket: string;
  readonly client: S3Client;
  private readonly options: S3BlobStoreOptions;
  private readonly now: () => number;
  private readonly timeoutMs: number;

  constructor(options: S3BlobStoreOptions) {
    this.bucket = options.bucket;
    this.options = options;
    this.now = options.now ?? Date.now;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_STORAGE_TIMEOUT_MS;
    const credentials =
      options.accessKeyId && options.secretAccessKey
        ? { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey }
        : undefined;
    this.client = new S3Client({
      region: options.region,
      ...(options.endpoint
        ? // Most S3-compatible services (and local ones) serve buckets as a path, not a
          // sub-domain that would need its own DNS name.
          { endpoint: options.endpoint, forcePathStyle: true }
        : {}),
      ...(credentials ? { credentials } : {}),
      // Since early 2025 the SDK adds CRC checksums to every upload by default, sent as an
      // aws-chunked trailer that several S3-compatible services refuse. Only send checksums
      // where an operation requires them, as the SDK did before.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // Each HTTP request (one part of an upload, too) gets at most the whole limit to
      // connect and to be answered; without these a server that accepts and never answers
      // holds the call for ever. The SDK only warns about a late answer unless told to
      // throw. No idle timeout on the socket: it would cut off a download whose reader (a
      // browser on the media route) is merely slow.
      requestHandler: {
        connectionTimeout: this.timeoutMs,
        requestTimeout: this.timeoutMs,
        throwOnRequestTimeout: true,
      },
    });
  }

  async ensureBucket(): Promise<void> {
    if (await this.bucketExists()) return;
    try {
      await this.send(`creating bucket "${this.bucket}"`, (abortSignal) =>
        this.client.send(new CreateBucketCommand({ Bucket: this.bucket }), { abortSignal }),
      );
    } catch (error) {
      if (error instanceof StorageUnavailableError) throw error;
      // Another instance created it between our HEAD and CREATE; AWS says "owned by you",
      // some S3-compatible services say "already exists" even to the owner, so look again.
      if (errorName(error) === 'BucketAlreadyOwnedByYou') return;
      if (errorName(error) === 'BucketAlreadyExists' && (await this.bucketExists())) return;
      throw new Error(
        `Could not create S3 bucket "${this.bucket}": ${(error as Error).message}. ` +
          'Create it yourself, or check S3_BUCKET and that the credentials may create buckets.',
        { cause: error },
      );
    }
  }

  async put(key: string, body: Readable, options: PutObjectOptions): Promise<StoredObject> {
    assertObjectKey(key);
    const measured = measureBody(body, options.contentLength);
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.bucket,
        Key: key,
        Body: measured.stream,
        ContentType: options.contentType,
        ...(options.contentLength !== undefined ? { ContentLength: options.contentLength } : {}),
      },
    });
    // The whole upload, every part, within the limit: past it the upload is aborted,
    // which also aborts a multipart upload begun at S3, so no part is left behind.
    const deadline = storageDeadline(BACKEND, `uploading "${key}"`, this.timeoutMs);
    deadline.signal.addEventListener('abort', () => void upload.abort().catch(() => {}), {
      once: true,
    });
    try {
      await upload.done();
    } catch (error) {
      body.destroy();
      throw transient(`uploading "${key}"`, deadline.expired() ?? error);
    } finally {
      deadline.clear();
    }
    return { key, size: measured.bytes(), contentType: options.contentType };
  }

  async get(key: string): Promise<ObjectStream | null> {
    assertObjectKey(key);
    try {
      const output = await this.send(`downloading "${key}"`, (abortSignal) =>
        this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal }),
      );
      // In Node the SDK's body is an IncomingMessage; anything else means a browser build
      // of the SDK was bundled by mistake.
      if (!(output.Body instanceof Readable)) {
        throw new Error('S3 GetObject returned a body that is not a Node.js stream');
      }
      return {
        body: output.Body,
        contentType: output.ContentType ?? 'application/octet-stream',
        size: output.ContentLength ?? 0,
      };
    } catch (error) {
      if (errorName(error) === 'NoSuchKey' || httpStatus(error) === 404) return null;
      throw error;
    }
  }

  async url(key: string): Promise<string> {
    assertObjectKey(key);
    if (this.options.public) {
      return `${this.publicBase()}/${keyPath(key)}`;
    }
    return presignGetObject({
      objectUrl: new URL(`${this.bucketBase()}/${keyPath(key)}`),
      region: this.options.region,
      credentials: this.client.config.credentials,
      expiresInSeconds: this.options.signedUrlTtlSeconds,
      signingDate: new Date(this.now()),
    });
  }

  async delete(key: string): Promise<void> {
    assertObjectKey(key);
    // S3 answers 204 whether or not the key existed, which is the idempotence we want.
    await this.send(`deleting "${key}"`, (abortSignal) =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal }),
    );
  }

  /**
   * One SDK call within STORAGE_TIMEOUT_MS, its retries included. The clock stops once
   * the answer's headers are in: a download's body then streams at its reader's pace.
   */
  private async send<T>(
    action: string,
    call: (abortSignal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const deadline = storageDeadline(BACKEND, action, this.timeoutMs);
    try {
      return await call(deadline.signal);
    } catch (error) {
      throw transient(action, deadline.expired() ?? error);
    } finally {
      deadline.clear();
    }
  }

  private async bucketExists(): Promise<boolean> {
    try {
      await this.send(`reading bucket "${this.bucket}"`, (abortSignal) =>
        this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal }),
      );
      return true;
    } catch (error) {
      if (error instanceof StorageUnavailableError) throw error;
      if (httpStatus(error) === 404 || errorName(error) === 'NotFound') return false;
      if (httpStatus(error) === 403) {
        throw new Error(
          `S3 bucket "${this.bucket}" exists but these credentials may not use it. ` +
            'Check S3_BUCKET (bucket names are global on AWS) and the key pair.',
          { cause: error },
        );
      }
      throw error;
    }
  }

  /** Where the bucket's objects are addressed with credentials (and presigned). */
  private bucketBase(): string {
    const { endpoint, region } = this.options;
    if (endpoint) return `${endpoint.replace(/\/+$/, '')}/${this.bucket}`;
    return `https://${this.bucket}.s3.${region}.amazonaws.com`;
  }

  /** Where anonymous readers find them: S3_PUBLIC_URL (a CDN, R2's r2.dev) or the bucket. */
  private publicBase(): string {
    return this.options.publicUrl?.replace(/\/+$/, '') ?? this.bucketBase();
  }
}
