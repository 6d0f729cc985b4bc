-- Live events (0019) for status changes only where a page shows the new state. Every
-- inbound message went pending -> processing -> processed and every send pending ->
-- submitting -> queued -> sent…, each step a trigger call, an INSERT into live_events and a
-- NOTIFY on the hot path, while a page only redraws for the state a row rests in.
--
-- Skipped now: a message's 'processing', a send's 'submitting' and Twilio's momentary
-- 'sending', and 'pending' again after a retry: the page already shows 'pending' from the
-- row's insert event. Still announced: every move into a state a row rests in, and a move
-- from one back to 'pending' (a failed message queued again, a failed send retried), since
-- the page shows the state it leaves. 'accepted', 'scheduled' and 'queued' count as resting: they
-- are Twilio's answer to the send, and where a send stays when no status callback follows
-- (no PUBLIC_URL).
DROP TRIGGER messages_live_status ON messages;
CREATE TRIGGER messages_live_status AFTER UPDATE ON messages
  FOR EACH ROW WHEN (
    OLD.processing_status IS DISTINCT FROM NEW.processing_status
    AND (NEW.processing_status IN ('processed', 'failed')
         OR (NEW.processing_status = 'pending'
             AND OLD.processing_status IN ('processed', 'failed')))
  )
  EXECUTE FUNCTION taskwire_live_event('message');

DROP TRIGGER outbound_live_status ON outbound_messages;
CREATE TRIGGER outbound_live_status AFTER UPDATE ON outbound_messages
  FOR EACH ROW WHEN (
    OLD.status IS DISTINCT FROM NEW.status
    AND (NEW.status NOT IN ('pending', 'submitting', 'sending')
         OR (NEW.status = 'pending' AND OLD.status NOT IN ('pending', 'submitting', 'sending')))
  )
  EXECUTE FUNCTION taskwire_live_event('outbound');
