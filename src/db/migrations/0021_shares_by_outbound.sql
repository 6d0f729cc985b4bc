-- A share found by its message: withholding a queued share at send time (the member opted
-- out, or their 24-hour window closed) settles the share row that recorded it, looked up by
-- outbound_message_id in the statement that cancels the message. Without this index every
-- such statement, and every deleted outbound message (ON DELETE SET NULL), scanned shares.
CREATE INDEX shares_by_outbound ON shares (outbound_message_id)
  WHERE outbound_message_id IS NOT NULL;
