-- Live events (0019) without the NOTIFY in the transaction that made the change. A
-- transaction that notifies takes Postgres's notification lock, one for the whole server, at
-- commit and holds it until its commit record is flushed: every notifying commit waits for
-- the one before it to reach the disk, where commits otherwise share one flush. The
-- triggers notified in every inbound insert, every processing transaction and every send's
-- status update, so under load commits queued on that lock (bench:loop, sampling
-- pg_stat_activity: Lock:object in one sample in six).
--
-- The rows stay the events, written by the same triggers; readers find them by reading
-- the table (src/services/live-events.ts polls it while a stream is open).
CREATE OR REPLACE FUNCTION taskwire_live_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  rec record;
  owner bigint;
  grp bigint;
BEGIN
  IF TG_OP = 'DELETE' THEN rec := OLD; ELSE rec := NEW; END IF;
  IF TG_TABLE_NAME = 'messages' THEN
    SELECT id INTO owner FROM users WHERE phone_number = rec.sender;
  ELSIF TG_TABLE_NAME = 'users' THEN
    owner := rec.id;
  ELSE
    owner := rec.user_id;
  END IF;
  IF TG_TABLE_NAME IN ('tasks', 'feed', 'proof_reviews') THEN
    grp := rec.group_id;
  END IF;
  INSERT INTO live_events (kind, action, row_id, user_id, group_id)
  VALUES (TG_ARGV[0], lower(TG_OP), rec.id, owner, grp);
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION taskwire_live_messages_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO live_events (kind, action, row_id, user_id, group_id)
  SELECT 'message', 'insert', n.id,
         (SELECT u.id FROM users u WHERE u.phone_number = n.sender LIMIT 1), NULL
  FROM inserted_messages n;
  RETURN NULL;
END
$$;
