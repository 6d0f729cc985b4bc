-- Near-copy checks whose cost does not grow with history (issue #14, item 4): the 64-bit
-- difference hash split into 4 bands of 16 bits (band k = bits 16k..16k+15 of the unsigned
-- hash, 0..65535), each indexed. Two hashes within d bits differ in at most floor(d / 4)
-- bits of at least one band (pigeonhole: 4 bands each off by more would be > d bits), so
-- src/db/proofs.ts looks up, per band, every value within floor(d / 4) bits of the new
-- photo's band and computes the exact distance of those candidates only.
--
-- Generated columns: insertFeedPost and every other writer fill them without knowing about
-- them, and ADD COLUMN ... STORED computes them for the existing rows (one rewrite of feed
-- for the four, under the migration's lock; about a second per 100k posts).
ALTER TABLE feed
  ADD COLUMN proof_band0 integer GENERATED ALWAYS AS ((proof_dhash & 65535)::integer) STORED,
  ADD COLUMN proof_band1 integer GENERATED ALWAYS AS (((proof_dhash >> 16) & 65535)::integer) STORED,
  ADD COLUMN proof_band2 integer GENERATED ALWAYS AS (((proof_dhash >> 32) & 65535)::integer) STORED,
  ADD COLUMN proof_band3 integer GENERATED ALWAYS AS (((proof_dhash >> 48) & 65535)::integer) STORED;

-- The hash and id ride along, so a band lookup and the exact distance are an index-only
-- scan. feed_proof_dhash (0007) stays for the full scan of distances above the bands' reach.
CREATE INDEX feed_proof_band0 ON feed (proof_band0, proof_dhash, id) WHERE proof_dhash IS NOT NULL;
CREATE INDEX feed_proof_band1 ON feed (proof_band1, proof_dhash, id) WHERE proof_dhash IS NOT NULL;
CREATE INDEX feed_proof_band2 ON feed (proof_band2, proof_dhash, id) WHERE proof_dhash IS NOT NULL;
CREATE INDEX feed_proof_band3 ON feed (proof_band3, proof_dhash, id) WHERE proof_dhash IS NOT NULL;
