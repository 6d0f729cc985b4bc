-- Sharing proofs with the group and the weekly digest (issue 16).

-- The evening hour (0–23, group time) of the daily share digest and the Sunday digest;
-- null: SHARE_DIGEST_HOUR.
ALTER TABLE groups ADD COLUMN digest_hour smallint CHECK (digest_hour BETWEEN 0 AND 23);

-- One piece of news (a proof's feed post) for one member: at most one row per post and
-- person, written in the proof's processing transaction, so nobody hears it twice however
-- often the message is processed. `sent`: told at once (instant, inside the 24-hour window);
-- `pending`: waits for the member's next daily digest; `digested`: told in that digest;
-- `skipped`: never told, `reason` says why (opted out, outside the window with no template).
CREATE TABLE shares (
  feed_id bigint NOT NULL REFERENCES feed (id) ON DELETE CASCADE,
  user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  group_id bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  status varchar(10) NOT NULL CHECK (status IN ('sent', 'pending', 'digested', 'skipped')),
  reason text,
  outbound_message_id bigint REFERENCES outbound_messages (id) ON DELETE SET NULL,
  decided_at timestamptz,
  PRIMARY KEY (feed_id, user_id)
);
CREATE INDEX shares_pending ON shares (group_id, user_id) WHERE status = 'pending';

-- One daily share digest per member, group and local date; one weekly digest per member,
-- group and week (its Monday). Inserted in the transaction that records the message, so
-- any number of workers send each one once.
CREATE TABLE group_digests (
  group_id bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
  user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  kind varchar(8) NOT NULL CHECK (kind IN ('daily', 'weekly')),
  -- daily: the local date; weekly: the Monday the week starts on.
  local_date date NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  status varchar(10) NOT NULL CHECK (status IN ('sent', 'skipped')),
  channel varchar(10) CHECK (channel IN ('whatsapp', 'template')),
  reason text,
  outbound_message_id bigint REFERENCES outbound_messages (id) ON DELETE SET NULL,
  PRIMARY KEY (group_id, user_id, kind, local_date)
);

ALTER TABLE outbound_messages DROP CONSTRAINT outbound_messages_kind_check;
ALTER TABLE outbound_messages ADD CONSTRAINT outbound_messages_kind_check
  CHECK (kind IN ('reply', 'greeting', 'send', 'reminder', 'expiry', 'assignment',
                  'share', 'share_digest', 'weekly_digest'));
