import { Readable } from 'node:stream';
import type {
  BlobStore,
  ObjectStream,
  PutObjectOptions,
  StoredObject,
} from '../../src/storage/adapter.js';

interface MemoryObject {
  bytes: Buffer;
  contentType: string;
}

export interface PutRecord {
  key: string;
  options: PutObjectOptions;
  /** How many chunks the body arrived in: more than one shows it was streamed. */
  chunks: number;
  outcome: 'stored' | 'failed' | 'pending';
}

export interface MemoryBlobStoreOptions {
  /** Called with every chunk as it arrives, before the body has ended. */
  onChunk?: (key: string, chunk: Buffer) => void;
}

/**
 * A BlobStore in a Map, for tests. Like the real adapters it consumes the stream and,
 * when the stream errors, rejects and keeps whatever was under the key before.
 */
export class MemoryBlobStore implements BlobStore {
  readonly driver = 'local';
  readonly bucket = 'memory';
  readonly objects = new Map<string, MemoryObject>();
  readonly puts: PutRecord[] = [];

  constructor(private readonly options: MemoryBlobStoreOptions = {}) {}

  async ensureBucket(): Promise<void> {}

  async put(key: string, body: Readable, options: PutObjectOptions): Promise<StoredObject> {
    const record: PutRecord = { key, options, chunks: 0, outcome: 'pending' };
    this.puts.push(record);
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of body) {
        const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
        record.chunks += 1;
        this.options.onChunk?.(key, buffer);
        chunks.push(buffer);
      }
    } catch (error) {
      record.outcome = 'failed';
      throw error;
    }
    const bytes = Buffer.concat(chunks);
    this.objects.set(key, { bytes, contentType: options.contentType });
    record.outcome = 'stored';
    return { key, size: bytes.length, contentType: options.contentType };
  }

  async get(key: string): Promise<ObjectStream | null> {
    const object = this.objects.get(key);
    if (!object) return null;
    return {
      body: Readable.from([object.bytes]),
      contentType: object.contentType,
      size: object.bytes.length,
    };
  }

  async url(key: string): Promise<string> {
    return `memory://${this.bucket}/${key}`;
  }

  async delete(key: string): Promise<void> {
    this.objects.delete(key);
  }

  /** The stored bytes, or undefined. */
  bytes(key: string): Buffer | undefined {
    return this.objects.get(key)?.bytes;
  }

  keys(): string[] {
    return [...this.objects.keys()].sort();
  }
}
