import sharp from 'sharp';
import { seededRandom } from './random.js';

/**
 * A photo-like JPEG: a few soft colour blobs over a gradient (structure a thumbnail keeps,
 * as in a real photo) plus fine grain (detail that re-compression changes). Different seeds
 * draw unrelated pictures.
 */
export async function makePhoto(seed: number, width = 640, height = 480): Promise<Buffer> {
  const next = seededRandom(seed);
  const blobs = Array.from({ length: 7 }, () => ({
    x: next() * width,
    y: next() * height,
    r: (0.1 + next() * 0.25) * Math.min(width, height),
    colour: [next() * 255, next() * 255, next() * 255],
    weight: next() < 0.5 ? -1 : 1,
  }));
  const angle = next() * Math.PI * 2;
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const ramp = ((x * Math.cos(angle) + y * Math.sin(angle)) / Math.max(width, height)) * 90;
      for (let c = 0; c < 3; c += 1) {
        let value = 100 + ramp;
        for (const blob of blobs) {
          const d2 = ((x - blob.x) ** 2 + (y - blob.y) ** 2) / blob.r ** 2;
          value += blob.weight * (blob.colour[c] ?? 0) * Math.exp(-d2);
        }
        value += (next() - 0.5) * 30;
        pixels[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(value)));
      }
    }
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

/** What a phone or an app does to a forwarded photo: scaled down, re-compressed. */
export async function recompressedCopy(photo: Buffer, scale = 0.7, quality = 60): Promise<Buffer> {
  const { width = 0 } = await sharp(photo).metadata();
  return sharp(photo)
    .resize(Math.round(width * scale))
    .jpeg({ quality })
    .toBuffer();
}
