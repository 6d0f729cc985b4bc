-- When a send to Twilio's Messages API ended without an answer that says whether the
-- message was created (the request timed out or the connection broke after it was sent, or
-- a 5xx): the start of the first such attempt; for a claim abandoned by a worker that died,
-- the row's creation. Before it sends again, the outbound worker looks for a message Twilio
-- created since then (src/services/earlier-send.ts), so a reply whose answer was lost is
-- recorded with its SID instead of going out twice. Null for every message whose attempts
-- all had a clear outcome, which is nearly all of them.
ALTER TABLE outbound_messages ADD COLUMN outcome_unknown_since timestamptz;
