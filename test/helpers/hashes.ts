import { PROOF_DHASH_BANDS } from '../../src/db/proofs.js';
import { seededRandom } from './random.js';

// Difference hashes for the near-copy tests (test/proof-bands.test.ts,
// test/near-copy-locks.test.ts): random ones, and copies a given number of bits away.

/** A 64-bit hash as the 16 hex digits the fingerprints are stored as. */
export const HEX = (n: bigint) => n.toString(16).padStart(16, '0');

/** A source of random 64-bit hashes and of bit positions, the same on every run. */
export function hashes(seed: number) {
  const random = seededRandom(seed);
  const word = () => BigInt(Math.floor(random() * 2 ** 32));
  const hash = () => (word() << 32n) | word();
  /**
   * `hash` with `k` bits flipped. Spread (the pigeonhole's worst case): as evenly over the
   * 4 bands as k allows, so every band differs in floor(k / 4) or more bits; else anywhere.
   */
  const flip = (from: bigint, k: number, spread: boolean): bigint => {
    const positions = new Set<number>();
    let band = Math.floor(random() * PROOF_DHASH_BANDS);
    while (positions.size < k) {
      const bit = spread ? band * 16 + Math.floor(random() * 16) : Math.floor(random() * 64);
      if (positions.has(bit)) continue;
      positions.add(bit);
      band = (band + 1) % PROOF_DHASH_BANDS;
    }
    let out = from;
    for (const bit of positions) out ^= 1n << BigInt(bit);
    return out;
  };
  return { hash, flip, random };
}
