import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BlobStore, ObjectStream, PutObjectOptions, StoredObject } from '../adapter.js';
import { RESERVED_KEY_SUFFIX, assertBucketName, assertObjectKey, isObjectKey } from '../keys.js';
import { measureBody } from '../measured-body.js';

export interface LocalBlobStoreOptions {
  /** DATA_DIR: objects live under `<dataDir>/storage/<bucket>/<key>`. */
  dataDir: string;
  bucket: string;
  /** Where the storage-files route is reachable, e.g. PUBLIC_URL; URLs start with it. */
  baseUrl: string;
  /** STORAGE_PUBLIC: plain URLs when true, signed URLs that expire when false. */
  public: boolean;
  /** STORAGE_SIGNED_URL_TTL: how long a signed URL stays valid. */
  signedUrlTtlSeconds: number;
  /** Key for the HMAC of signed URLs; changing it invalidates every URL handed out. */
  signingSecret: string;
  /** Milliseconds since the epoch; tests pass a clock to make URLs that already expired. */
  now?: () => number;
}

export type SignedPathCheck = 'valid' | 'expired' | 'invalid';

interface ObjectMeta {
  contentType: string;
}

const FALLBACK_CONTENT_TYPE = 'application/octet-stream';
/** Where bodies are written until complete; a dot-name, so never an object key's segment. */
const UPLOADS_FOLDER = '.uploads';
const MIN_SECRET_LENGTH = 16;

/** The HMAC a signed URL carries: over `bucket/key:expires`, so it binds all three. */
function signPath(secret: string, bucket: string, key: string, expires: number): string {
  return createHmac('sha256', secret).update(`${bucket}/${key}:${expires}`).digest('hex');
}

/**
 * Checks the `expires` and `signature` query parameters of a signed URL. The signature is
 * compared in constant time and before the expiry, so a forged link learns nothing.
 */
export function verifySignedPath(
  secret: string,
  bucket: string,
  key: string,
  query: { expires?: unknown; signature?: unknown },
  nowSeconds: number,
): SignedPathCheck {
  const { expires, signature } = query;
  if (typeof expires !== 'string' || !/^\d{1,12}$/.test(expires)) return 'invalid';
  if (typeof signature !== 'string' || !/^[0-9a-f]{64}$/.test(signature)) return 'invalid';
  const expected = Buffer.from(signPath(secret, bucket, key, Number(expires)), 'hex');
  if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) return 'invalid';
  return Number(expires) <= nowSeconds ? 'expired' : 'valid';
}

const isMissing = (error: unknown): boolean => {
  const code = (error as NodeJS.ErrnoException).code;
  // ENOTDIR: part of the key is a file (`a` exists, `a/b` asked); no object either way.
  return code === 'ENOENT' || code === 'ENOTDIR';
};

/**
 * Objects as plain files under DATA_DIR, for development and single-machine deployments.
 * The storage-files route serves them to browsers.
 *
 * The content type is kept in a `<key>.meta.json` sidecar rather than derived from the
 * extension: a WhatsApp sender's extension and Twilio's Content-Type do not always agree,
 * and `get` must return what `put` was told, as the S3 and Supabase drivers do. The key
 * grammar reserves the `.meta.json` suffix so a sidecar can never be mistaken for an object.
 */
export class LocalBlobStore implements BlobStore {
  readonly driver = 'local' as const;
  readonly bucket: string;
  readonly public: boolean;
  readonly root: string;
  private readonly baseUrl: string;
  private readonly signedUrlTtlSeconds: number;
  private readonly signingSecret: string;
  private readonly now: () => number;

  constructor(options: LocalBlobStoreOptions) {
    assertBucketName(options.bucket);
    if (!options.public && options.signingSecret.length < MIN_SECRET_LENGTH) {
      throw new Error(
        `LocalBlobStore: a private bucket needs a signing secret of at least ${MIN_SECRET_LENGTH} characters to sign its URLs.`,
      );
    }
    this.bucket = options.bucket;
    this.public = options.public;
    this.root = path.resolve(options.dataDir, 'storage', options.bucket);
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.signedUrlTtlSeconds = options.signedUrlTtlSeconds;
    this.signingSecret = options.signingSecret;
    this.now = options.now ?? Date.now;
  }

  async ensureBucket(): Promise<void> {
    await mkdir(this.root, { recursive: true });
  }

  async put(key: string, body: Readable, options: PutObjectOptions): Promise<StoredObject> {
    const file = this.pathOf(key);
    const meta = file + RESERVED_KEY_SUFFIX;
    // The body is written under the bucket's `.uploads` folder (no key segment starts with
    // ".", so it is never an object), and the object's own folder is made only once every
    // byte is on disk: an upload that breaks off or is cut at MEDIA_MAX_BYTES leaves no
    // empty `messages/<MessageSid>/` behind, and removing a folder it created could race
    // with another upload into it. Same bucket folder, same file system: the renames
    // below are atomic.
    const uploads = path.join(this.root, UPLOADS_FOLDER);
    const suffix = `${randomBytes(8).toString('hex')}.tmp`;
    const fileTemp = path.join(uploads, `.${path.basename(file)}.${suffix}`);
    const metaTemp = path.join(uploads, `.${path.basename(meta)}.${suffix}`);
    const measured = measureBody(body, options.contentLength);
    try {
      await mkdir(uploads, { recursive: true });
      // flush: fsync before close, so a crash after the rename cannot leave an empty file.
      await pipeline(measured.stream, createWriteStream(fileTemp, { flags: 'wx', flush: true }));
      const record: ObjectMeta = { contentType: options.contentType };
      await writeFile(metaTemp, JSON.stringify(record), { flag: 'wx', flush: true });
      await mkdir(path.dirname(file), { recursive: true });
      // Data first, then its sidecar: a reader in between sees the new bytes with the
      // previous content type, never a missing object.
      await rename(fileTemp, file);
      await rename(metaTemp, meta);
    } catch (error) {
      body.destroy();
      await Promise.all([rm(fileTemp, { force: true }), rm(metaTemp, { force: true })]);
      throw error;
    }
    return { key, size: measured.bytes(), contentType: options.contentType };
  }

  async get(key: string): Promise<ObjectStream | null> {
    const file = this.pathOf(key);
    let handle;
    try {
      handle = await open(file, 'r');
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
    try {
      // The size comes from the opened file, so it matches the bytes streamed even if the
      // object is replaced meanwhile (a rename swaps the name, not this file).
      const stats = await handle.stat();
      if (!stats.isFile()) {
        await handle.close();
        return null;
      }
      const contentType = await this.readContentType(file);
      return { body: handle.createReadStream(), contentType, size: stats.size };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  async url(key: string): Promise<string> {
    assertObjectKey(key);
    const plain = `${this.baseUrl}/storage/${this.bucket}/${key}`;
    if (this.public) return plain;
    const expires = Math.floor(this.now() / 1000) + this.signedUrlTtlSeconds;
    const signature = signPath(this.signingSecret, this.bucket, key, expires);
    return `${plain}?expires=${expires}&signature=${signature}`;
  }

  async delete(key: string): Promise<void> {
    const file = this.pathOf(key);
    await rm(file, { force: true });
    await rm(file + RESERVED_KEY_SUFFIX, { force: true });
  }

  /** For the storage-files route: whether a request's query grants access to `key`. */
  verifySignedUrl(key: string, query: { expires?: unknown; signature?: unknown }): SignedPathCheck {
    const nowSeconds = Math.floor(this.now() / 1000);
    return verifySignedPath(this.signingSecret, this.bucket, key, query, nowSeconds);
  }

  /** Whether `key` is well-formed; the route answers 404 without touching the disk if not. */
  isValidKey(key: string): boolean {
    return isObjectKey(key);
  }

  /**
   * The file for `key`. The key grammar already excludes anything that could climb out of
   * the bucket; the prefix check is a second lock in case that grammar is ever loosened.
   */
  private pathOf(key: string): string {
    assertObjectKey(key);
    const file = path.resolve(this.root, ...key.split('/'));
    if (!file.startsWith(this.root + path.sep)) {
      throw new Error(`Object key "${key}" resolves outside the bucket folder`);
    }
    return file;
  }

  private async readContentType(file: string): Promise<string> {
    try {
      const meta = JSON.parse(await readFile(file + RESERVED_KEY_SUFFIX, 'utf8')) as unknown;
      const contentType = (meta as Partial<ObjectMeta> | null)?.contentType;
      return typeof contentType === 'string' && contentType ? contentType : FALLBACK_CONTENT_TYPE;
    } catch (error) {
      // A file copied in by hand has no sidecar; serve it as opaque bytes.
      if (isMissing(error)) return FALLBACK_CONTENT_TYPE;
      throw error;
    }
  }
}
