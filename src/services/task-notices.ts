import type { Database, Queryable } from '../db/executor.js';
import { enqueueOutbound } from '../db/outbound.js';
import {
  type StageDecision,
  type TaskWithUser,
  decideStage,
  laterDueStage,
  lastWhatsAppNumberWrittenTo,
  lockNextDueStage,
  lockNextOverdueTask,
  recordExpiryNotice,
} from '../db/reminders.js';
import { expireTask } from '../db/tasks.js';
import {
  EXPIRY_GRACE_MS,
  type ReminderChannel,
  describeMinutes,
  insideWhatsAppWindow,
  reminderTone,
} from '../domain/reminder.js';
import { formatDueTime, noticeTexts, reminderTemplateVariables } from './reply-texts.js';
import { consentTexts } from './consent-texts.js';
import { isPausedAt } from '../db/pauses.js';
import { personTimeZone } from './time-zones.js';

/** What deciding and addressing reminders and expiry notices depends on (from config). */
export interface NoticeSettings {
  /** REMINDER_OFFSETS, largest first. */
  offsets: readonly number[];
  /** TZ: for users without their own time zone. */
  defaultTimezone: string;
  /** TWILIO_WHATSAPP_NUMBER (E.164); else the number the user last wrote to. */
  whatsappNumber: string | null;
  /** TWILIO_PHONE_NUMBER (E.164), for the SMS fallback. */
  smsNumber: string | null;
  /** REMINDER_CONTENT_SID */
  contentSid: string | null;
  /** REMINDER_SMS_FALLBACK */
  smsFallback: boolean;
  /**
   * REMINDER_BUTTONS_CONTENT_SID: a quick-reply Content template ("Pause today", "Tasks")
   * sent instead of a free-form reminder inside the 24-hour window.
   */
  buttonsContentSid?: string | null;
  /** TASK_NOTICE_CONTENT_SID: the template for an assignment notice outside the window. */
  taskNoticeContentSid?: string | null;
}

/** The Content template a notice may use outside the 24-hour window, and its variable. */
export type Template = {
  sid: string | null;
  variable: 'REMINDER_CONTENT_SID' | 'TASK_NOTICE_CONTENT_SID';
};

/** The template for each kind of notice outside the window; null: none fits (an expiry). */
export const templateFor = (
  kind: 'reminder' | 'expiry' | 'assignment',
  settings: NoticeSettings,
): Template | null => {
  if (kind === 'reminder') return { sid: settings.contentSid, variable: 'REMINDER_CONTENT_SID' };
  if (kind === 'assignment') {
    return { sid: settings.taskNoticeContentSid ?? null, variable: 'TASK_NOTICE_CONTENT_SID' };
  }
  // A template is a reminder's wording ("due at …"); it would mislead as an expiry notice.
  return null;
};

type Delivery = { channel: ReminderChannel; to: string; from: string } | { skip: string };

/**
 * How a message the user did not ask for reaches them at `now`. Inside WhatsApp's 24-hour
 * window: free-form WhatsApp text. Outside it a free-form message would fail at Twilio
 * (error 63016), so: the Content template when one is configured and allowed, else SMS
 * when REMINDER_SMS_FALLBACK is on and there is a number to send from and to, else nothing,
 * with the reason.
 */
export async function chooseDelivery(
  tx: Queryable,
  user: TaskWithUser['user'],
  now: Date,
  settings: NoticeSettings,
  template: Template | null,
): Promise<Delivery> {
  // Consent first: an opted-out person hears nothing from Taskwire until they send START.
  if (user.opted_out_at) {
    return {
      skip: `The person opted out (STOP) at ${user.opted_out_at.toISOString()}; nothing is sent until they send START.`,
    };
  }
  const whatsappTo = user.phone_number ?? user.whatsapp_id;
  const whatsappFrom = settings.whatsappNumber ?? (await lastWhatsAppNumberWrittenTo(tx, user));
  const whatsapp =
    whatsappTo && whatsappFrom
      ? {
          to: `whatsapp:${whatsappTo}`,
          from: whatsappFrom.startsWith('whatsapp:') ? whatsappFrom : `whatsapp:${whatsappFrom}`,
        }
      : null;
  // Only a WhatsApp message opens the window: an SMS from the same person does not.
  const inWindow = insideWhatsAppWindow(user.last_whatsapp_inbound_at, now);
  if (inWindow && whatsapp) return { channel: 'whatsapp', ...whatsapp };
  if (!inWindow && template?.sid && whatsapp) {
    return { channel: 'template', ...whatsapp };
  }
  if (!inWindow && settings.smsFallback && settings.smsNumber && user.phone_number) {
    return { channel: 'sms', to: user.phone_number, from: settings.smsNumber };
  }
  if (inWindow) {
    return {
      skip: whatsappTo
        ? 'No WhatsApp number to send from: set TWILIO_WHATSAPP_NUMBER.'
        : 'The user has no phone number or WhatsApp id to send to.',
    };
  }
  const lastWrote = user.last_whatsapp_inbound_at
    ? `last wrote on WhatsApp ${user.last_whatsapp_inbound_at.toISOString()}`
    : 'has never written on WhatsApp';
  const remedies = template
    ? `set ${template.variable} (a template) or REMINDER_SMS_FALLBACK=true with TWILIO_PHONE_NUMBER`
    : 'set REMINDER_SMS_FALLBACK=true with TWILIO_PHONE_NUMBER';
  const smsBlocked =
    settings.smsFallback && settings.smsNumber && !user.phone_number
      ? ' SMS needs a phone number, and the user has none.'
      : '';
  return {
    skip: `Outside WhatsApp's 24-hour window (the user ${lastWrote}); to reach them anyway, ${remedies}.${smsBlocked}`,
  };
}

const skipped = (reason: string): StageDecision => ({
  status: 'skipped',
  channel: null,
  reason,
  outboundMessageId: null,
});

/**
 * The notice that an admin gave the person a task (its `assignment` stage, due when the
 * task was created): what and when, through the 24-hour-window rules of reminders, with
 * TASK_NOTICE_CONTENT_SID as its template outside the window. Recorded with the stage's
 * decision in the scheduler's transaction, so it is sent or skipped exactly once.
 */
async function recordAssignmentNotice(
  tx: Queryable,
  { task, user }: TaskWithUser,
  settings: NoticeSettings,
  now: Date,
): Promise<StageDecision> {
  const delivery = await chooseDelivery(
    tx,
    user,
    now,
    settings,
    templateFor('assignment', settings),
  );
  if ('skip' in delivery) return skipped(delivery.skip);
  const dueText = formatDueTime(task.due_time, personTimeZone(user, settings.defaultTimezone));
  const outbound = await enqueueOutbound(tx, {
    kind: 'assignment',
    inboundMessageId: null,
    userId: user.id,
    taskId: task.id,
    to: delivery.to,
    from: delivery.from,
    body: consentTexts.assigned(task, dueText),
    content:
      delivery.channel === 'template' && settings.taskNoticeContentSid
        ? {
            sid: settings.taskNoticeContentSid,
            variables: reminderTemplateVariables(task, dueText),
          }
        : null,
  });
  return {
    status: 'sent',
    channel: delivery.channel,
    reason: null,
    outboundMessageId: outbound?.id ?? null,
  };
}

/**
 * Decides the next due reminder stage, in one transaction with its outbound message: sent
 * (recorded for the outbound worker), skipped, or cancelled. Each stage leaves `pending`
 * exactly once, whatever the number of schedulers. False when no stage is due.
 */
export async function sendNextDueReminder(
  db: Database,
  settings: NoticeSettings,
  now: Date,
): Promise<boolean> {
  return db.transaction(async (tx) => {
    const due = await lockNextDueStage(tx, now);
    if (!due) return false;
    const { task, user, stage } = due;
    const decide = (decision: StageDecision) => decideStage(tx, stage.id, decision, now);
    if (task.status !== 'active') {
      await decide({ ...skipped(`The task is ${task.status}.`), status: 'cancelled' });
      return true;
    }
    if (task.due_time.getTime() <= now.getTime()) {
      await decide(skipped('The task was already due when this reminder came up.'));
      return true;
    }
    if (stage.kind === 'assignment') {
      await decide(await recordAssignmentNotice(tx, { task, user }, settings, now));
      return true;
    }
    if (await isPausedAt(tx, user.id, now)) {
      await decide(skipped('The person paused (pause); no reminders until it ends.'));
      return true;
    }
    const later = await laterDueStage(tx, task.id, stage.offset_minutes, now);
    if (later !== null) {
      await decide(
        skipped(`Superseded by the ${later}-minute reminder, due at the same time (late run).`),
      );
      return true;
    }
    const delivery = await chooseDelivery(
      tx,
      user,
      now,
      settings,
      templateFor('reminder', settings),
    );
    if ('skip' in delivery) {
      await decide(skipped(delivery.skip));
      return true;
    }
    const dueText = formatDueTime(task.due_time, personTimeZone(user, settings.defaultTimezone));
    const remaining = describeMinutes((task.due_time.getTime() - now.getTime()) / 60_000);
    const tone = reminderTone(stage.offset_minutes, settings.offsets);
    const outbound = await enqueueOutbound(tx, {
      kind: 'reminder',
      inboundMessageId: null,
      userId: user.id,
      taskId: task.id,
      to: delivery.to,
      from: delivery.from,
      body: noticeTexts.reminder(task, tone, dueText, remaining),
      content:
        delivery.channel === 'template' && settings.contentSid
          ? { sid: settings.contentSid, variables: reminderTemplateVariables(task, dueText) }
          : // Inside the window, with buttons configured: the same reminder with quick replies.
            delivery.channel === 'whatsapp' && settings.buttonsContentSid
            ? {
                sid: settings.buttonsContentSid,
                variables: reminderTemplateVariables(task, dueText),
              }
            : null,
    });
    await decide({
      status: 'sent',
      channel: delivery.channel,
      reason: null,
      outboundMessageId: outbound?.id ?? null,
    });
    return true;
  });
}

/**
 * Expires the next active task whose due time has passed and records its one notice to
 * the user, in one transaction. False when none is overdue.
 */
export async function expireNextOverdueTask(
  db: Database,
  settings: NoticeSettings,
  now: Date,
): Promise<boolean> {
  return db.transaction(async (tx) => {
    const overdue = await lockNextOverdueTask(tx, new Date(now.getTime() - EXPIRY_GRACE_MS));
    if (!overdue) return false;
    const task = await expireTask(tx, overdue.task.id, now);
    if (!task) return true;
    const { user } = overdue;
    // A template is a reminder's wording ("due at …"); it would mislead as an expiry notice.
    const delivery = await chooseDelivery(tx, user, now, settings, templateFor('expiry', settings));
    if ('skip' in delivery) {
      await recordExpiryNotice(tx, task, skipped(delivery.skip), now);
      return true;
    }
    const dueText = formatDueTime(task.due_time, personTimeZone(user, settings.defaultTimezone));
    const outbound = await enqueueOutbound(tx, {
      kind: 'expiry',
      inboundMessageId: null,
      userId: user.id,
      taskId: task.id,
      to: delivery.to,
      from: delivery.from,
      body: noticeTexts.expired(task, dueText),
    });
    await recordExpiryNotice(
      tx,
      task,
      {
        status: 'sent',
        channel: delivery.channel,
        reason: null,
        outboundMessageId: outbound?.id ?? null,
      },
      now,
    );
    return true;
  });
}
