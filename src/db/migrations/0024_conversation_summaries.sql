-- The admin inbox (GET /conversations) without a pass over every message ever received:
-- one row per number for each direction, kept by triggers in the statement that writes the
-- messages, so the inbox reads as many rows as there are people, however long the history.
-- Inserts add to a row (messages arrive by group commit: one statement-level trigger per
-- batch, rows upserted in number order so concurrent batches lock them in the same order);
-- a status crossing into or out of failure adjusts one count; a delete, or a number that
-- changes, recomputes the numbers it touched from their own rows (by index).

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

-- Recomputing one number's outbound row, and GET /conversations/{number}'s list, by index.
CREATE INDEX outbound_by_number ON outbound_messages ((regexp_replace(to_number, '^[a-z]+:', '')), id DESC);

CREATE FUNCTION taskwire_recompute_inbound(numbers text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM conversation_inbound WHERE number = ANY(numbers);
  INSERT INTO conversation_inbound (number, last_at, last_whatsapp_at, total, failed, last_id)
  SELECT sender, max(created_at), max(created_at) FILTER (WHERE from_number LIKE 'whatsapp:%'),
         count(*), count(*) FILTER (WHERE processing_status = 'failed'), max(id)
    FROM messages WHERE sender = ANY(numbers) GROUP BY sender;
END
$$;

CREATE FUNCTION taskwire_recompute_outbound(numbers text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM conversation_outbound WHERE number = ANY(numbers);
  INSERT INTO conversation_outbound (number, last_at, failed)
  SELECT regexp_replace(to_number, '^[a-z]+:', ''), max(created_at),
         count(*) FILTER (WHERE status IN ('failed', 'undelivered'))
    FROM outbound_messages WHERE regexp_replace(to_number, '^[a-z]+:', '') = ANY(numbers)
   GROUP BY 1;
END
$$;

-- Inbound ---------------------------------------------------------------------------------

CREATE FUNCTION taskwire_inbound_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO conversation_inbound AS c (number, last_at, last_whatsapp_at, total, failed, last_id)
  SELECT sender, max(created_at), max(created_at) FILTER (WHERE from_number LIKE 'whatsapp:%'),
         count(*), count(*) FILTER (WHERE processing_status = 'failed'), max(id)
    FROM inserted_messages GROUP BY sender ORDER BY sender
  ON CONFLICT (number) DO UPDATE SET
    last_at = greatest(c.last_at, excluded.last_at),
    last_whatsapp_at = greatest(c.last_whatsapp_at, excluded.last_whatsapp_at),
    total = c.total + excluded.total,
    failed = c.failed + excluded.failed,
    last_id = greatest(c.last_id, excluded.last_id);
  RETURN NULL;
END
$$;
CREATE TRIGGER messages_conversation AFTER INSERT ON messages
  REFERENCING NEW TABLE AS inserted_messages
  FOR EACH STATEMENT EXECUTE FUNCTION taskwire_inbound_inserted();

CREATE FUNCTION taskwire_inbound_failed_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE conversation_inbound
     SET failed = failed + CASE WHEN NEW.processing_status = 'failed' THEN 1 ELSE -1 END
   WHERE number = NEW.sender;
  RETURN NULL;
END
$$;
-- Only a move into or out of 'failed' (rare): processing and processed cost nothing here.
CREATE TRIGGER messages_conversation_failed AFTER UPDATE OF processing_status ON messages
  FOR EACH ROW WHEN (
    (OLD.processing_status = 'failed') IS DISTINCT FROM (NEW.processing_status = 'failed')
    AND OLD.sender = NEW.sender
  )
  EXECUTE FUNCTION taskwire_inbound_failed_changed();

CREATE FUNCTION taskwire_inbound_renumbered() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM taskwire_recompute_inbound(ARRAY[OLD.sender, NEW.sender]);
  RETURN NULL;
END
$$;
CREATE TRIGGER messages_conversation_sender AFTER UPDATE OF sender ON messages
  FOR EACH ROW WHEN (OLD.sender IS DISTINCT FROM NEW.sender)
  EXECUTE FUNCTION taskwire_inbound_renumbered();

CREATE FUNCTION taskwire_inbound_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM taskwire_recompute_inbound(ARRAY(SELECT DISTINCT sender FROM deleted_messages));
  RETURN NULL;
END
$$;
CREATE TRIGGER messages_conversation_deleted AFTER DELETE ON messages
  REFERENCING OLD TABLE AS deleted_messages
  FOR EACH STATEMENT EXECUTE FUNCTION taskwire_inbound_deleted();

-- Outbound --------------------------------------------------------------------------------

CREATE FUNCTION taskwire_outbound_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO conversation_outbound AS c (number, last_at, failed)
  SELECT regexp_replace(to_number, '^[a-z]+:', ''), max(created_at),
         count(*) FILTER (WHERE status IN ('failed', 'undelivered'))
    FROM inserted_outbound GROUP BY 1 ORDER BY 1
  ON CONFLICT (number) DO UPDATE SET
    last_at = greatest(c.last_at, excluded.last_at),
    failed = c.failed + excluded.failed;
  RETURN NULL;
END
$$;
CREATE TRIGGER outbound_conversation AFTER INSERT ON outbound_messages
  REFERENCING NEW TABLE AS inserted_outbound
  FOR EACH STATEMENT EXECUTE FUNCTION taskwire_outbound_inserted();

CREATE FUNCTION taskwire_outbound_failed_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE conversation_outbound
     SET failed = failed + CASE WHEN NEW.status IN ('failed', 'undelivered') THEN 1 ELSE -1 END
   WHERE number = regexp_replace(NEW.to_number, '^[a-z]+:', '');
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
  PERFORM taskwire_recompute_outbound(ARRAY[
    regexp_replace(OLD.to_number, '^[a-z]+:', ''), regexp_replace(NEW.to_number, '^[a-z]+:', '')
  ]);
  RETURN NULL;
END
$$;
CREATE TRIGGER outbound_conversation_number AFTER UPDATE OF to_number ON outbound_messages
  FOR EACH ROW WHEN (OLD.to_number IS DISTINCT FROM NEW.to_number)
  EXECUTE FUNCTION taskwire_outbound_renumbered();

CREATE FUNCTION taskwire_outbound_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM taskwire_recompute_outbound(
    ARRAY(SELECT DISTINCT regexp_replace(to_number, '^[a-z]+:', '') FROM deleted_outbound)
  );
  RETURN NULL;
END
$$;
CREATE TRIGGER outbound_conversation_deleted AFTER DELETE ON outbound_messages
  REFERENCING OLD TABLE AS deleted_outbound
  FOR EACH STATEMENT EXECUTE FUNCTION taskwire_outbound_deleted();

-- What was there before this migration.
INSERT INTO conversation_inbound (number, last_at, last_whatsapp_at, total, failed, last_id)
SELECT sender, max(created_at), max(created_at) FILTER (WHERE from_number LIKE 'whatsapp:%'),
       count(*), count(*) FILTER (WHERE processing_status = 'failed'), max(id)
  FROM messages GROUP BY sender;
INSERT INTO conversation_outbound (number, last_at, failed)
SELECT regexp_replace(to_number, '^[a-z]+:', ''), max(created_at),
       count(*) FILTER (WHERE status IN ('failed', 'undelivered'))
  FROM outbound_messages GROUP BY 1;
