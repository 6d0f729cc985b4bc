-- Development without TWILIO_ACCOUNT_SID: outbound messages are not sent to Twilio but
-- "delivered" to the local outbox, which is this table. They go through the same
-- pending -> submitting -> sent flow, get a local SID (`OB` + 32 hex) in twilio_sid, and
-- this flag tells them apart from messages Twilio really accepted.
ALTER TABLE outbound_messages ADD COLUMN outbox boolean NOT NULL DEFAULT false;
