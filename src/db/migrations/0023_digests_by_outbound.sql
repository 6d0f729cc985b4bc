-- A digest found by its message: deciding a queued daily or weekly digest again at send time
-- (the member's 24-hour window closed: the template, or skipped; the member opted out:
-- skipped) updates the group_digests row that recorded it, looked up by outbound_message_id
-- in the statement that reroutes or cancels the message. Without this index each of those
-- statements, and every deleted outbound message (ON DELETE SET NULL), scanned the table,
-- which grows by a row per member and group every day.
CREATE INDEX group_digests_by_outbound ON group_digests (outbound_message_id)
  WHERE outbound_message_id IS NOT NULL;
