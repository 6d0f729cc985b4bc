-- Proof checks (issue #7): a photo counts as proof once. Each feed post keeps the
-- fingerprints of its proof photo (computed in src/media/fingerprint.ts while the photo is
-- copied, and also kept per item in messages.stored_media as `sha256` and `dhash`):
--   proof_sha256  the exact bytes, 64 hex digits;
--   proof_dhash   the 64-bit difference hash as a signed int8 (the hex digits' bits;
--                 near copies differ in a few bits: bit_count((a # b)::bit(64))).
ALTER TABLE feed ADD COLUMN proof_sha256 text;
ALTER TABLE feed ADD COLUMN proof_dhash bigint;

-- The same bytes complete one task, ever: the exact check is an index lookup, and two
-- workers racing with the same photo cannot both post (insertFeedPost's ON CONFLICT DO
-- NOTHING makes the loser's insert a no-op).
CREATE UNIQUE INDEX feed_one_post_per_proof_bytes ON feed (proof_sha256)
  WHERE proof_sha256 IS NOT NULL;

-- Near copies: a Hamming distance cannot use a B-tree, so the check reads every hash; this
-- index holds just the hashes (and ids), small enough to scan fast, without the posts.
CREATE INDEX feed_proof_dhash ON feed (proof_dhash, id) WHERE proof_dhash IS NOT NULL;

-- Why a message did not count as proof, for GET /messages and the dashboard, null when it
-- did or was no proof attempt: { "reason": "duplicate_photo" | "similar_photo" |
-- "not_a_photo", "message": "...", and for a copy "feed_id", "task_id", "user_id",
-- "distance" of the earlier proof }.
ALTER TABLE messages ADD COLUMN proof_rejection jsonb;
