-- The admin inbox (GET /conversations) without a pass over every message ever received:
-- one row per number for each direction (conversation_inbound, conversation_outbound), so
-- the inbox reads as many rows as there are people, however long the history.
--
-- The statements that write messages and sends never touch those rows: a transaction that
-- upserted a summary row per number would hold its lock to commit, and two transactions
-- writing to the same two numbers in opposite orders (a proof's shares and its reply; inbound
-- batches that commit several messages' work at once) deadlock. Triggers only append to
-- conversation_changes (a plain INSERT: nobody waits for anybody), and the reader folds the
-- changes into the summaries before it reads them (taskwire_fold_conversations()).

CREATE TABLE conversation_inbound (
  number text PRIMARY KEY,
  last_at timestamptz,
  last_whatsapp_at timestamptz,
  total integer NOT NULL DEFAULT 0,
  failed integer NOT NULL DEFAULT 0,
  -- the newest message's id: its body is the conversation's last_body
  last_id bigint
);

CREATE TABLE conversation_outbound (
  -- to_number without its channel prefix (`whatsapp:`)
  number text PRIMARY KEY,
  last_at timestamptz,
  failed integer NOT NULL DEFAULT 0
);

-- What happened to a number's summary since the last fold: counts to add and times / ids to
-- take the greatest of, or (recompute) "rows of this number went away or moved: count them
-- again" after a delete or a changed number, which no delta can express (the newest
-- message may be the one deleted).
CREATE TABLE conversation_changes (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  direction text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
  number text NOT NULL,
  last_at timestamptz,
  last_whatsapp_at timestamptz,
  total_delta integer NOT NULL DEFAULT 0,
  failed_delta integer NOT NULL DEFAULT 0,
  last_id bigint,
  recompute boolean NOT NULL DEFAULT false
);

-- Recomputing one number's outbound row, and GET /conversations/{number}'s list, by index.
CREATE INDEX outbound_by_number ON outbound_messages ((regexp_replace(to_number, '^[a-z]+:', '')), id DESC);

-- Inbound ---------------------------------------------------------------------------------

CREATE FUNCTION taskwire_inbound_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO conversation_changes
    (direction, number, last_at, last_whatsapp_at, total_delta, failed_delta, last_id)
  SELECT 'inbound', sender, max(created_at),
         max(created_at) FILTER (WHERE from_number LIKE 'whatsapp:%'),
         count(*), count(*) FILTER (WHERE processing_status = 'failed'), max(id)
    FROM inserted_messages GROUP BY sender;
  RETURN NULL;
END
$$;
-- Messages arrive by group commit: one trigger call, one change row per number, per batch.
CREATE TRIGGER messages_conversation AFTER INSERT ON messages
  REFERENCING NEW TABLE AS inserted_messages
  FOR EACH STATEMENT EXECUTE FUNCTION taskwire_inbound_inserted();

CREATE FUNCTION taskwire_inbound_failed_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO conversation_changes (direction, number, failed_delta)
  VALUES ('inbound', NEW.sender, CASE WHEN NEW.processing_status = 'failed' THEN 1 ELSE -1 END);
  RETURN NULL;
END
$$;
-- Only a move into or out of 'failed' (rare): processing and processed cost nothing here.
-- Row-level: Postgres allows no transition tables on a trigger with a column list.
CREATE TRIGGER messages_conversation_failed AFTER UPDATE OF processing_status ON messages
  FOR EACH ROW WHEN (
    (OLD.processing_status = 'failed') IS DISTINCT FROM (NEW.processing_status = 'failed')
    AND OLD.sender = NEW.sender
  )
  EXECUTE FUNCTION taskwire_inbound_failed_changed();

CREATE FUNCTION taskwire_inbound_renumbered() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO conversation_changes (direction, number, recompute)
  VALUES ('inbound', OLD.sender, true), ('inbound', NEW.sender, true);
  RETURN NULL;
END
$$;
CREATE TRIGGER messages_conversation_sender AFTER UPDATE OF sender ON messages
  FOR EACH ROW WHEN (OLD.sender IS DISTINCT FROM NEW.sender)
  EXECUTE FUNCTION taskwire_inbound_renumbered();

CREATE FUNCTION taskwire_inbound_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO conversation_changes (direction, number, recompute)
  SELECT DISTINCT 'inbound', sender, true FROM deleted_messages;
  RETURN NULL;
END
$$;
CREATE TRIGGER messages_conversation_deleted AFTER DELETE ON messages
  REFERENCING OLD TABLE AS deleted_messages
  FOR EACH STATEMENT EXECUTE FUNCTION taskwire_inbound_deleted();

-- Outbound --------------------------------------------------------------------------------

CREATE FUNCTION taskwire_outbound_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO conversation_changes (direction, number, last_at, failed_delta)
  SELECT 'outbound', regexp_replace(to_number, '^[a-z]+:', ''), max(created_at),
         count(*) FILTER (WHERE status IN ('failed', 'undelivered'))
    FROM inserted_outbound GROUP BY 2;
  RETURN NULL;
END
$$;
CREATE TRIGGER outbound_conversation AFTER INSERT ON outbound_messages
  REFERENCING NEW TABLE AS inserted_outbound
  FOR EACH STATEMENT EXECUTE FUNCTION taskwire_outbound_inserted();

CREATE FUNCTION taskwire_outbound_failed_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO conversation_changes (direction, number, failed_delta)
  VALUES ('outbound', regexp_replace(NEW.to_number, '^[a-z]+:', ''),
          CASE WHEN NEW.status IN ('failed', 'undelivered') THEN 1 ELSE -1 END);
  RETURN NULL;
END
$$;
CREATE TRIGGER outbound_conversation_failed AFTER UPDATE OF status ON outbound_messages
  FOR EACH ROW WHEN (
    (OLD.status IN ('failed', 'undelivered')) IS DISTINCT FROM (NEW.status IN ('failed', 'undelivered'))
    AND OLD.to_number = NEW.to_number
  )
  EXECUTE FUNCTION taskwire_outbound_failed_changed();

CREATE FUNCTION taskwire_outbound_renumbered() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO conversation_changes (direction, number, recompute)
  VALUES ('outbound', regexp_replace(OLD.to_number, '^[a-z]+:', ''), true),
         ('outbound', regexp_replace(NEW.to_number, '^[a-z]+:', ''), true);
  RETURN NULL;
END
$$;
CREATE TRIGGER outbound_conversation_number AFTER UPDATE OF to_number ON outbound_messages
  FOR EACH ROW WHEN (OLD.to_number IS DISTINCT FROM NEW.to_number)
  EXECUTE FUNCTION taskwire_outbound_renumbered();

CREATE FUNCTION taskwire_outbound_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO conversation_changes (direction, number, recompute)
  SELECT DISTINCT 'outbound', regexp_replace(to_number, '^[a-z]+:', ''), true
    FROM deleted_outbound;
  RETURN NULL;
END
$$;
CREATE TRIGGER outbound_conversation_deleted AFTER DELETE ON outbound_messages
  REFERENCING OLD TABLE AS deleted_outbound
  FOR EACH STATEMENT EXECUTE FUNCTION taskwire_outbound_deleted();

-- The fold --------------------------------------------------------------------------------

-- Moves every committed change into the summaries and returns how many it took. Folds run
-- one at a time (a transaction advisory lock, which no writer takes): a recompute sets a
-- number's row to what its messages are in the fold's snapshot, so a second fold adding
-- deltas to the same row at once could be overwritten (or double-counted) by it. The lock
-- is taken first and the fold statement after it, so the fold's snapshot includes whatever
-- the previous fold committed. Within that statement each change is claimed once (DELETE …
-- RETURNING); a number with a recompute among its changes is counted again from its rows
-- (by index) instead of having its deltas added, which those rows already include. Rows
-- are upserted in number order. Writers never wait for a fold: it only deletes change rows
-- they have committed and writes summary rows they never read.
CREATE FUNCTION taskwire_fold_conversations() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  folded integer;
BEGIN
  -- 'convo' in ASCII: the same key in every process.
  PERFORM pg_advisory_xact_lock(x'636f6e766f'::bigint);
  WITH claimed AS (
    DELETE FROM conversation_changes
    RETURNING direction, number, last_at, last_whatsapp_at, total_delta, failed_delta, last_id,
              recompute
  ), inbound_recount AS (
    SELECT DISTINCT number FROM claimed WHERE direction = 'inbound' AND recompute
  ), inbound_counted AS (
    SELECT sender AS number, max(created_at) AS last_at,
           max(created_at) FILTER (WHERE from_number LIKE 'whatsapp:%') AS last_whatsapp_at,
           count(*) AS total, count(*) FILTER (WHERE processing_status = 'failed') AS failed,
           max(id) AS last_id
      FROM messages WHERE sender IN (SELECT number FROM inbound_recount) GROUP BY sender
  ), inbound_added AS (
    INSERT INTO conversation_inbound AS c (number, last_at, last_whatsapp_at, total, failed, last_id)
    SELECT number, max(last_at), max(last_whatsapp_at), sum(total_delta), sum(failed_delta),
           max(last_id)
      FROM claimed
     WHERE direction = 'inbound' AND number NOT IN (SELECT number FROM inbound_recount)
     GROUP BY number ORDER BY number
    ON CONFLICT (number) DO UPDATE SET
      last_at = greatest(c.last_at, excluded.last_at),
      last_whatsapp_at = greatest(c.last_whatsapp_at, excluded.last_whatsapp_at),
      total = c.total + excluded.total,
      failed = c.failed + excluded.failed,
      last_id = greatest(c.last_id, excluded.last_id)
  ), inbound_recounted AS (
    INSERT INTO conversation_inbound AS c (number, last_at, last_whatsapp_at, total, failed, last_id)
    SELECT number, last_at, last_whatsapp_at, total, failed, last_id
      FROM inbound_counted ORDER BY number
    ON CONFLICT (number) DO UPDATE SET
      last_at = excluded.last_at, last_whatsapp_at = excluded.last_whatsapp_at,
      total = excluded.total, failed = excluded.failed, last_id = excluded.last_id
  ), inbound_gone AS (
    -- Recounted to nothing: no message from the number is left.
    DELETE FROM conversation_inbound
     WHERE number IN (SELECT number FROM inbound_recount)
       AND number NOT IN (SELECT number FROM inbound_counted)
  ), outbound_recount AS (
    SELECT DISTINCT number FROM claimed WHERE direction = 'outbound' AND recompute
  ), outbound_counted AS (
    SELECT regexp_replace(to_number, '^[a-z]+:', '') AS number, max(created_at) AS last_at,
           count(*) FILTER (WHERE status IN ('failed', 'undelivered')) AS failed
      FROM outbound_messages
     WHERE regexp_replace(to_number, '^[a-z]+:', '') IN (SELECT number FROM outbound_recount)
     GROUP BY 1
  ), outbound_added AS (
    INSERT INTO conversation_outbound AS c (number, last_at, failed)
    SELECT number, max(last_at), sum(failed_delta)
      FROM claimed
     WHERE direction = 'outbound' AND number NOT IN (SELECT number FROM outbound_recount)
     GROUP BY number ORDER BY number
    ON CONFLICT (number) DO UPDATE SET
      last_at = greatest(c.last_at, excluded.last_at),
      failed = c.failed + excluded.failed
  ), outbound_recounted AS (
    INSERT INTO conversation_outbound AS c (number, last_at, failed)
    SELECT number, last_at, failed FROM outbound_counted ORDER BY number
    ON CONFLICT (number) DO UPDATE SET last_at = excluded.last_at, failed = excluded.failed
  ), outbound_gone AS (
    DELETE FROM conversation_outbound
     WHERE number IN (SELECT number FROM outbound_recount)
       AND number NOT IN (SELECT number FROM outbound_counted)
  )
  SELECT count(*) INTO folded FROM claimed;
  RETURN folded;
END
$$;

-- What was there before this migration.
INSERT INTO conversation_inbound (number, last_at, last_whatsapp_at, total, failed, last_id)
SELECT sender, max(created_at), max(created_at) FILTER (WHERE from_number LIKE 'whatsapp:%'),
       count(*), count(*) FILTER (WHERE processing_status = 'failed'), max(id)
  FROM messages GROUP BY sender;
INSERT INTO conversation_outbound (number, last_at, failed)
SELECT regexp_replace(to_number, '^[a-z]+:', ''), max(created_at),
       count(*) FILTER (WHERE status IN ('failed', 'undelivered'))
  FROM outbound_messages GROUP BY 1;
