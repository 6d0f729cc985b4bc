import type { Readable } from 'node:stream';

/**
 * The storage contract every backend implements (local disk, Supabase Storage, S3).
 * Keys are `messages/<MessageSid>/<index>.<ext>`: no phone number ever appears in a key
 * or URL. One contract test suite (test/storage-contract.test.ts) runs against every driver.
 */
export type StorageDriverName = 'local' | 'supabase' | 's3';

export interface PutObjectOptions {
  contentType: string;
  /** The size, when the source announced it (Content-Length); lets backends skip buffering. */
  contentLength?: number;
}

export interface StoredObject {
  key: string;
  size: number;
  contentType: string;
}

export interface ObjectStream {
  body: Readable;
  contentType: string;
  size: number;
}

export interface BlobStore {
  readonly driver: StorageDriverName;
  readonly bucket: string;
  /** Creates the bucket when it does not exist. Idempotent; called once at start-up. */
  ensureBucket(): Promise<void>;
  /**
   * Streams `body` into `key`, replacing any object there, and resolves once it is stored.
   * Never holds the whole object in memory. If `body` errors, the write fails and no
   * partial object is left behind under `key`.
   */
  put(key: string, body: Readable, options: PutObjectOptions): Promise<StoredObject>;
  /** Streams an object back, or null when there is none under `key`. */
  get(key: string): Promise<ObjectStream | null>;
  /**
   * A URL a browser can load directly: the public URL for a public bucket, a signed URL
   * that expires for a private one.
   */
  url(key: string): Promise<string>;
  delete(key: string): Promise<void>;
}
