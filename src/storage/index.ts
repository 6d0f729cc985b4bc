import type { Readable } from 'node:stream';
import type { Config } from '../config/config.js';
import type { BlobStore, ObjectStream, PutObjectOptions, StoredObject } from './adapter.js';
import { LocalBlobStore } from './local/local-blob-store.js';

export type { BlobStore, ObjectStream, PutObjectOptions, StoredObject } from './adapter.js';

export interface BlobStoreContext {
  /** DATA_DIR, for the local driver. */
  dataDir: string;
  /** The service's own public address (PUBLIC_URL), where the local driver's files are served. */
  baseUrl: string;
  /** Signs the local driver's private URLs; changing it invalidates the URLs handed out. */
  signingSecret: string;
}

/**
 * Every driver, told apart by `driver`: start/ can write
 * `if (store.driver === 'local') app.register(storageFilesRoutes, { store })` and TypeScript
 * knows it holds a LocalBlobStore, without an `instanceof` on adapters.
 */
export type SelectedBlobStore = LocalBlobStore | LazyBlobStore<'s3'> | LazyBlobStore<'supabase'>;

/**
 * A remote bucket whose client is loaded on first use. The AWS SDK and the Supabase client
 * take a third of a second to import; a service on the local driver never needs them,
 * and one on S3 or Supabase loads its own when it opens the bucket, after it already
 * answers /health.
 */
export class LazyBlobStore<Driver extends 's3' | 'supabase'> implements BlobStore {
  #store: Promise<BlobStore> | null = null;

  constructor(
    readonly driver: Driver,
    readonly bucket: string,
    private readonly load: () => Promise<BlobStore>,
  ) {}

  private store(): Promise<BlobStore> {
    // A failed load (a broken install) is tried again by the next call, not remembered.
    this.#store ??= this.load().catch((error: unknown) => {
      this.#store = null;
      throw error;
    });
    return this.#store;
  }

  async ensureBucket(): Promise<void> {
    return (await this.store()).ensureBucket();
  }

  async put(key: string, body: Readable, options: PutObjectOptions): Promise<StoredObject> {
    return (await this.store()).put(key, body, options);
  }

  async get(key: string): Promise<ObjectStream | null> {
    return (await this.store()).get(key);
  }

  async url(key: string): Promise<string> {
    return (await this.store()).url(key);
  }

  async delete(key: string): Promise<void> {
    return (await this.store()).delete(key);
  }
}

/** The BlobStore STORAGE_DRIVER names, configured from Config; creates no bucket yet. */
export function createBlobStore(
  storage: Config['storage'],
  context: BlobStoreContext,
): SelectedBlobStore {
  switch (storage.driver) {
    case 'local':
      return new LocalBlobStore({
        dataDir: context.dataDir,
        bucket: storage.bucket,
        baseUrl: context.baseUrl,
        public: storage.public,
        signedUrlTtlSeconds: storage.signedUrlTtlSeconds,
        signingSecret: context.signingSecret,
      });
    case 's3': {
      // loadConfig fills `s3` whenever the driver is s3; this guards hand-built configs.
      const s3 = storage.s3;
      if (!s3) throw new Error('STORAGE_DRIVER=s3 needs the S3_* settings');
      return new LazyBlobStore('s3', s3.bucket, async () => {
        const { S3BlobStore } = await import('./s3/s3-blob-store.js');
        return new S3BlobStore({
          ...s3,
          public: storage.public,
          signedUrlTtlSeconds: storage.signedUrlTtlSeconds,
          timeoutMs: storage.timeoutMs,
        });
      });
    }
    case 'supabase': {
      if (!storage.supabase) {
        throw new Error('STORAGE_DRIVER=supabase needs SUPABASE_URL and SUPABASE_KEY');
      }
      const { url, key } = storage.supabase;
      return new LazyBlobStore('supabase', storage.bucket, async () => {
        const { SupabaseBlobStore } = await import('./supabase/supabase-blob-store.js');
        return new SupabaseBlobStore({
          url,
          key,
          bucket: storage.bucket,
          public: storage.public,
          signedUrlTtlSeconds: storage.signedUrlTtlSeconds,
          timeoutMs: storage.timeoutMs,
        });
      });
    }
  }
}
