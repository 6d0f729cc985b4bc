import type { NoticeSettings } from '../../src/services/task-notices.js';

/**
 * The notice tests' starting point: stages 60 and 15 minutes before the due time, in UTC,
 * over WhatsApp from the Sandbox number only (no SMS, no Content template). A test spreads
 * what it changes over it.
 */
export const baseNoticeSettings: NoticeSettings = {
  offsets: [60, 15],
  defaultTimezone: 'UTC',
  whatsappNumber: '+14155238886',
  smsNumber: null,
  contentSid: null,
  smsFallback: false,
};
