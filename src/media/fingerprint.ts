/**
 * Fingerprints of a media item, so a photo counts as proof only once (issue #7, "Proof
 * checks"):
 * - `sha256`: the exact bytes. Computed while the item streams into storage, chunk by
 *   chunk, so it costs no second read and no buffer.
 * - `dhash`: a difference hash, the perceptual fingerprint that survives re-encoding and
 *   resizing. The image is shrunk to a 9×8 greyscale thumbnail and each of the 64 bits says
 *   whether a pixel is brighter than its right-hand neighbour; a JPEG re-compressed at
 *   another quality or scaled to 70% changes a few bits at most, an unrelated photo about
 *   half of them. How many bits two hashes differ in (hammingDistance) is compared with
 *   PROOF_DUPLICATE_DISTANCE.
 *
 * Hashes are written as lowercase hex (64 and 16 digits): JSON-safe and readable in the
 * API; a 64-bit number would lose precision as a JavaScript number.
 */
import { createHash } from 'node:crypto';
import sharp from 'sharp';

export interface MediaFingerprint {
  /** SHA-256 of the stored bytes: 64 lowercase hex digits. */
  sha256: string;
  /**
   * 64-bit difference hash of an image: 16 lowercase hex digits. Null for anything that
   * is not an image, an image too large to buffer or that cannot be decoded, and an image
   * too featureless to tell apart from other featureless images (see differenceHash).
   */
  dhash: string | null;
}

/**
 * The most bytes of one image held in memory to compute its difference hash (decoding
 * needs the whole file). Twilio delivers WhatsApp images up to 5 MB, so a photo fits; a
 * larger image (a document) keeps its exact-bytes check only. Per worker slot, so at most
 * WORKER_CONCURRENCY × this is buffered at once; other media is never buffered.
 */
export const DHASH_MAX_IMAGE_BYTES = 8 * 1024 * 1024;

/**
 * Decoding stops above this many pixels (50 MP, beyond any phone camera's JPEG), so a
 * small file that decompresses to a huge bitmap cannot take the worker's memory.
 */
const DHASH_MAX_PIXELS = 50_000_000;

export const isImageContentType = (contentType: string | null | undefined): boolean =>
  (contentType ?? '').trim().toLowerCase().startsWith('image/');

/**
 * Collects the fingerprint of one media item as its bytes pass by: feed every chunk to
 * `update`, in order, then call `finish` once the item is stored.
 */
export class MediaFingerprinter {
  private readonly sha256 = createHash('sha256');
  /** The image so far, for the difference hash; null when not collecting (or given up). */
  private chunks: Buffer[] | null;
  private buffered = 0;
  private readonly maxImageBytes: number;

  constructor(
    contentType: string,
    options: { announcedBytes?: number | null; maxImageBytes?: number } = {},
  ) {
    this.maxImageBytes = options.maxImageBytes ?? DHASH_MAX_IMAGE_BYTES;
    // Known to be too large from Content-Length: never start buffering.
    const tooLarge = (options.announcedBytes ?? 0) > this.maxImageBytes;
    this.chunks = isImageContentType(contentType) && !tooLarge ? [] : null;
  }

  update(chunk: Buffer): void {
    this.sha256.update(chunk);
    if (this.chunks === null) return;
    this.buffered += chunk.byteLength;
    if (this.buffered > this.maxImageBytes) {
      // Over the cap: let go of what was kept at once; this item gets no dhash.
      this.chunks = null;
      return;
    }
    this.chunks.push(chunk);
  }

  async finish(): Promise<MediaFingerprint> {
    const sha256 = this.sha256.digest('hex');
    const image = this.chunks === null ? null : Buffer.concat(this.chunks, this.buffered);
    this.chunks = null;
    return { sha256, dhash: image ? await differenceHash(image) : null };
  }
}

/** The fingerprint of bytes already in memory (tests, tools). */
export async function fingerprintBytes(
  bytes: Buffer,
  contentType: string,
): Promise<MediaFingerprint> {
  const fingerprinter = new MediaFingerprinter(contentType, { maxImageBytes: Infinity });
  fingerprinter.update(bytes);
  return fingerprinter.finish();
}

/**
 * The 64-bit difference hash of an encoded image (JPEG, PNG, WebP, GIF, ... whatever sharp
 * decodes), as 16 hex digits; null when it cannot be decoded or is nearly uniform.
 *
 * Bit 63 (the first hex digit's top bit) is row 0's first comparison, row by row after
 * that: set when a pixel is brighter than the one to its right.
 */
export async function differenceHash(image: Buffer): Promise<string | null> {
  let pixels: Buffer;
  let channels: number;
  try {
    const { data, info } = await sharp(image, {
      limitInputPixels: DHASH_MAX_PIXELS,
      // A photo with a small defect (a truncated last scanline) still hashes; only an
      // image that does not decode at all fails.
      failOn: 'none',
    })
      // As a person sees it: EXIF orientation applied (a copy may have it baked in
      // instead), transparency over white, colour to brightness.
      .rotate()
      .flatten({ background: '#ffffff' })
      .greyscale()
      // `fill`: both thumbnails cover the whole picture whatever its aspect ratio, so a
      // copy scaled to another size still lines up pixel for pixel.
      .resize(9, 8, { fit: 'fill' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    pixels = data;
    channels = info.channels;
  } catch {
    // Not an image sharp can read (or a corrupt one): exact bytes are still checked.
    return null;
  }
  const grey = (x: number, y: number) => pixels[(y * 9 + x) * channels] ?? 0;
  let hash = 0n;
  let largestStep = 0;
  for (let y = 0; y < 8; y += 1) {
    for (let x = 0; x < 8; x += 1) {
      const left = grey(x, y);
      const right = grey(x + 1, y);
      hash = (hash << 1n) | (left > right ? 1n : 0n);
      largestStep = Math.max(largestStep, Math.abs(left - right));
    }
  }
  // A thumbnail with no visible edges (a black frame, a blank wall) hashes to noise
  // around zero, and every such photo would look like a copy of every other: such a
  // photo gets no perceptual hash, only the exact-bytes check.
  if (largestStep <= FEATURELESS_STEP) return null;
  return hash.toString(16).padStart(16, '0');
}

/** Brightness steps (0–255) between neighbours up to which a thumbnail counts as uniform. */
const FEATURELESS_STEP = 2;

/** How many of the 64 bits two difference hashes differ in (0 = same picture). */
export function hammingDistance(a: string, b: string): number {
  let diff = BigInt(`0x${a}`) ^ BigInt(`0x${b}`);
  let count = 0;
  while (diff > 0n) {
    count += Number(diff & 1n);
    diff >>= 1n;
  }
  return count;
}
