-- Twilio can post a message's status callback before the worker that sent it has recorded
-- its SID (Twilio answered, the worker's UPDATE has not committed yet). Such a callback is
-- kept here and applied, monotonically, in the transaction that records the SID; one that
-- never finds its message (sent by a worker that then died, so sent again under a new SID)
-- is pruned after a day. One row per SID and status: a retried callback adds nothing.
CREATE TABLE early_status_callbacks (
  message_sid text NOT NULL,
  status varchar(16) NOT NULL,
  error_code integer,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (message_sid, status)
);
CREATE INDEX early_status_callbacks_received ON early_status_callbacks (received_at);
