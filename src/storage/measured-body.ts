import { type Readable, Transform, pipeline } from 'node:stream';

export interface MeasuredBody {
  /** The bytes of the source, to hand to the backend in its place. */
  stream: Readable;
  /** How many bytes have passed so far; the object's size once the stream has ended. */
  bytes(): number;
}

/**
 * Counts the bytes of an upload as they stream through, so every driver knows the size it
 * stored without buffering. When the source announced its length, a body that ends short
 * or runs long errors *before* its end reaches the backend: the write then fails like any
 * other broken stream, and no truncated object is committed.
 */
export function measureBody(source: Readable, expectedLength?: number): MeasuredBody {
  let count = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      count += chunk.length;
      if (expectedLength !== undefined && count > expectedLength) {
        callback(new Error(`Body is longer than its announced ${expectedLength} bytes`));
        return;
      }
      callback(null, chunk);
    },
    flush(callback) {
      if (expectedLength !== undefined && count !== expectedLength) {
        callback(new Error(`Body ended after ${count} of its announced ${expectedLength} bytes`));
        return;
      }
      callback();
    },
  });
  // pipeline() forwards an error of the source to the counter (which the backend reads),
  // and destroys the source if the backend gives up reading.
  pipeline(source, counter, () => {});
  return { stream: counter, bytes: () => count };
}
