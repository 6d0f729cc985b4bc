-- Consent (issue 15): people opt out with STOP (or STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT,
-- OPTOUT, REVOKE) and back in with START (UNSTOP, YES); Twilio's error 21610 on a send
-- ("unsubscribed recipient") opts them out too. While opted out nothing is sent to them on
-- Taskwire's initiative: no reminder, expiry or assignment notice, no admin send.
ALTER TABLE users ADD COLUMN opted_out_at timestamptz;
-- How: `keyword` (they wrote one of the words) or `twilio_21610` (Twilio refused a send).
ALTER TABLE users ADD COLUMN opt_out_source varchar(32)
  CHECK (opt_out_source IN ('keyword', 'twilio_21610'));

-- The notice telling a person an admin gave them a task (`assignment`, offset 0, due when
-- the task is created): decided by the reminder scheduler like a reminder stage, through
-- the same 24-hour-window rules, and sent or skipped exactly once (the unique key).
ALTER TABLE task_reminders DROP CONSTRAINT task_reminders_kind_check;
ALTER TABLE task_reminders ADD CONSTRAINT task_reminders_kind_check
  CHECK (kind IN ('reminder', 'expiry', 'assignment'));

ALTER TABLE outbound_messages DROP CONSTRAINT outbound_messages_kind_check;
ALTER TABLE outbound_messages ADD CONSTRAINT outbound_messages_kind_check
  CHECK (kind IN ('reply', 'greeting', 'send', 'reminder', 'expiry', 'assignment'));
