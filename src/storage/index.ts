import type { Config } from '../config/config.js';
import { LocalBlobStore } from './local/local-blob-store.js';
import { S3BlobStore } from './s3/s3-blob-store.js';
import { SupabaseBlobStore } from './supabase/supabase-blob-store.js';

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
export type SelectedBlobStore = LocalBlobStore | S3BlobStore | SupabaseBlobStore;

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
      if (!storage.s3) throw new Error('STORAGE_DRIVER=s3 needs the S3_* settings');
      return new S3BlobStore({
        ...storage.s3,
        public: storage.public,
        signedUrlTtlSeconds: storage.signedUrlTtlSeconds,
      });
    }
    case 'supabase': {
      if (!storage.supabase) {
        throw new Error('STORAGE_DRIVER=supabase needs SUPABASE_URL and SUPABASE_KEY');
      }
      return new SupabaseBlobStore({
        url: storage.supabase.url,
        key: storage.supabase.key,
        bucket: storage.bucket,
        public: storage.public,
        signedUrlTtlSeconds: storage.signedUrlTtlSeconds,
      });
    }
  }
}
