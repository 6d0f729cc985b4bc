import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import sharp from 'sharp';
import {
  differenceHash,
  fingerprintBytes,
  hammingDistance,
  MediaFingerprinter,
} from '../src/media/fingerprint.js';
import { makePhoto, recompressedCopy } from './helpers/photos.js';

// PROOF_DUPLICATE_DISTANCE's default: copies must land well below it, other photos well above.
const DEFAULT_DISTANCE = 6;

describe('media fingerprints', () => {
  let photo: Buffer;
  let photoHash: string;
  before(async () => {
    photo = await makePhoto(1);
    photoHash = (await differenceHash(photo)) as string;
    assert.match(photoHash, /^[0-9a-f]{16}$/);
  });

  test('the SHA-256 of the bytes fed chunk by chunk is that of the whole item', async () => {
    const bytes = randomBytes(300_000);
    const fingerprinter = new MediaFingerprinter('application/pdf');
    for (let at = 0; at < bytes.length; at += 65_536) {
      fingerprinter.update(bytes.subarray(at, at + 65_536));
    }
    const fingerprint = await fingerprinter.finish();
    assert.equal(fingerprint.sha256, createHash('sha256').update(bytes).digest('hex'));
    assert.equal(fingerprint.dhash, null, 'no perceptual hash for a PDF');
  });

  test('a resized, re-compressed copy differs in a few bits, well below the default', async () => {
    for (const [scale, quality] of [
      [0.7, 60],
      [0.6, 45],
      [0.8, 75],
    ] as const) {
      const copy = await recompressedCopy(photo, scale, quality);
      assert.ok(!copy.equals(photo));
      const distance = hammingDistance(photoHash, (await differenceHash(copy)) as string);
      assert.ok(distance <= 2, `copy at ${scale}×, quality ${quality}: ${distance} bits`);
    }
  });

  test('unrelated photos differ in many bits, well above the default', async () => {
    for (const seed of [2, 3, 4, 5]) {
      const other = (await differenceHash(await makePhoto(seed))) as string;
      const distance = hammingDistance(photoHash, other);
      assert.ok(distance >= 3 * DEFAULT_DISTANCE, `seed ${seed}: only ${distance} bits`);
    }
  });

  test('the orientation a phone records in EXIF and one baked into the pixels hash alike', async () => {
    const tagged = await sharp(photo).withMetadata({ orientation: 6 }).jpeg().toBuffer();
    const baked = await sharp(photo).rotate(90).jpeg({ quality: 80 }).toBuffer();
    const taggedHash = (await differenceHash(tagged)) as string;
    assert.ok(hammingDistance(taggedHash, (await differenceHash(baked)) as string) <= 2);
    assert.ok(hammingDistance(taggedHash, photoHash) > 3 * DEFAULT_DISTANCE, 'turned is different');
  });

  test('no perceptual hash for what cannot be told apart: undecodable, uniform', async () => {
    const garbage = await fingerprintBytes(randomBytes(4096), 'image/jpeg');
    assert.match(garbage.sha256, /^[0-9a-f]{64}$/);
    assert.equal(garbage.dhash, null, 'not an image sharp can read: exact bytes only');
    const grey = await sharp({
      create: { width: 200, height: 100, channels: 3, background: '#777777' },
    })
      .jpeg()
      .toBuffer();
    assert.equal(await differenceHash(grey), null, 'a blank picture would match every other');
  });

  test('only images are buffered, and not beyond the cap', async () => {
    const audio = new MediaFingerprinter('audio/ogg');
    audio.update(photo);
    assert.equal((await audio.finish()).dhash, null, 'a JPEG sent as audio is never decoded');

    const large = new MediaFingerprinter('image/jpeg', { maxImageBytes: photo.length - 1 });
    large.update(photo.subarray(0, 1000));
    large.update(photo.subarray(1000));
    const fingerprint = await large.finish();
    assert.equal(fingerprint.dhash, null, 'over the cap: exact bytes only');
    assert.equal(fingerprint.sha256, createHash('sha256').update(photo).digest('hex'));

    const announced = new MediaFingerprinter('image/jpeg', {
      announcedBytes: photo.length,
      maxImageBytes: photo.length - 1,
    });
    announced.update(photo);
    assert.equal((await announced.finish()).dhash, null);

    const fits = new MediaFingerprinter('IMAGE/JPEG', { maxImageBytes: photo.length });
    fits.update(photo);
    assert.equal((await fits.finish()).dhash, photoHash);
  });

  test('hammingDistance counts differing bits over all 64', () => {
    assert.equal(hammingDistance('0000000000000000', '0000000000000000'), 0);
    assert.equal(hammingDistance('ffffffffffffffff', '0000000000000000'), 64);
    assert.equal(hammingDistance('8000000000000001', '0000000000000000'), 2);
    assert.equal(hammingDistance('00ff00ff00ff00ff', 'ff00ff00ff00ff00'), 64);
  });
});
