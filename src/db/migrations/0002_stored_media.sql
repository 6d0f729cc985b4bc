-- Where each media item of a message ended up in our storage, in media order:
-- [{ "index": 0, "key": "messages/MM.../0.jpg", "content_type": "image/jpeg", "size": 1234 }]
-- or, for an item that could not be stored, [{ "index": 1, "error": "..." }].
-- storage_urls (the guide's column) keeps the URLs of the stored items.
ALTER TABLE messages ADD COLUMN stored_media jsonb NOT NULL DEFAULT '[]';

-- Fencing token of the processing lease: incremented by every claim and never reset
-- (unlike `attempts`, which POST /messages/{id}/reprocess resets), so a worker that lost
-- its lease can never finish a message that a later claim now owns.
ALTER TABLE messages ADD COLUMN claims integer NOT NULL DEFAULT 0;
