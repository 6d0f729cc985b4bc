-- The accountability loop: who a sender is, when they last wrote, and the leaderboard.

-- A WhatsApp user who hides their phone number behind a username reaches us as
-- `whatsapp:<id>` (a business-scoped user id such as `US.13491208655302741918`), not as a
-- phone number. Stored without the `whatsapp:` prefix, so it compares with
-- messages.sender; a user may have both this and a phone number.
ALTER TABLE users ADD COLUMN whatsapp_id text UNIQUE;
-- IANA time zone name (`Europe/Paris`), for due times and reminders in the user's day.
ALTER TABLE users ADD COLUMN timezone text;
-- When the user last wrote to us: WhatsApp allows free-form replies only within 24 hours.
ALTER TABLE users ADD COLUMN last_inbound_at timestamptz;

-- GET /leaderboard reads users by points, ties in id order.
CREATE INDEX users_leaderboard ON users (points DESC, id);

-- GET /feed: newest first, for everyone and for one user.
CREATE INDEX feed_newest ON feed (created_at DESC, id DESC);
CREATE INDEX feed_by_user_newest ON feed (user_id, created_at DESC, id DESC);

-- GET /tasks lists by due time, optionally for one user and one status.
CREATE INDEX tasks_by_due ON tasks (due_time, id);
CREATE INDEX tasks_by_user_due ON tasks (user_id, due_time, id);
