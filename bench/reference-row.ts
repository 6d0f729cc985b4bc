// What the reference servers store per webhook: the same columns Taskwire writes (see
// src/db/messages.ts), one INSERT per request, a re-delivered MessageSid ignored.

export const insertMessageSql = `
INSERT INTO messages (message_sid, from_number, to_number, body, num_media, media_items, sender, raw)
VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8::jsonb)
ON CONFLICT (message_sid) DO NOTHING`;

export const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>';

type Form = Record<string, string | string[] | undefined>;

const one = (form: Form, key: string): string => {
  const value = form[key];
  return (Array.isArray(value) ? value[0] : value) ?? '';
};

/** The INSERT's parameters for one posted form, or null when it lacks MessageSid/From/To. */
export function messageValues(form: Form): unknown[] | null {
  const sid = one(form, 'MessageSid') || one(form, 'SmsMessageSid');
  const from = one(form, 'From');
  const to = one(form, 'To');
  if (!sid || !from || !to) return null;
  const numMedia = Math.min(10, Number(one(form, 'NumMedia')) || 0);
  const media: { url: string; content_type: string }[] = [];
  for (let index = 0; index < numMedia; index += 1) {
    const url = one(form, `MediaUrl${index}`);
    if (url) {
      media.push({
        url,
        content_type: one(form, `MediaContentType${index}`) || 'application/octet-stream',
      });
    }
  }
  return [
    sid,
    from,
    to,
    one(form, 'Body'),
    numMedia,
    JSON.stringify(media),
    from.replace(/^[a-z]+:/i, ''),
    JSON.stringify(form),
  ];
}
