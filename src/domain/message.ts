/**
 * Glossary
 * - Inbound message: one message a person sent to the group's Twilio number, as Twilio
 *   posted it to our webhook. Identified by Twilio's MessageSid (`SM...` / `MM...`).
 * - Channel: how it travelled. Twilio prefixes WhatsApp addresses with `whatsapp:`;
 *   SMS addresses are bare E.164 numbers.
 * - Sender: the From address without its channel prefix (`+15551234567`), which is
 *   how people are matched to users across channels.
 * - Media item: one attachment (`MediaUrlN` + `MediaContentTypeN`) hosted by Twilio until
 *   we copy it to our own storage.
 */

export interface MediaItem {
  /** Twilio's URL for the attachment (`https://api.twilio.com/2010-04-01/Accounts/.../Media/ME...`). */
  url: string;
  /** The content type Twilio announced in `MediaContentTypeN`. */
  content_type: string;
}

/** Form parameters exactly as Twilio posted them; a repeated key keeps every value. */
export type TwilioParams = Record<string, string | string[]>;

/** An inbound message as parsed from the webhook, before it is stored. */
export interface InboundMessage {
  messageSid: string;
  accountSid: string | null;
  from: string;
  to: string;
  sender: string;
  body: string;
  numMedia: number;
  mediaItems: MediaItem[];
  profileName: string | null;
  waId: string | null;
  raw: TwilioParams;
}

/** The channel a message came on: WhatsApp (`whatsapp:` addresses) or SMS. */
export const channelOf = (message: Pick<MessageRow, 'from_number'>): 'whatsapp' | 'sms' =>
  message.from_number.startsWith('whatsapp:') ? 'whatsapp' : 'sms';

export type ProcessingStatus = 'pending' | 'processing' | 'processed' | 'failed';

/** A stored inbound message, in the guide's snake_case column names. */
export interface MessageRow {
  id: number;
  message_sid: string;
  from_number: string;
  to_number: string;
  body: string;
  num_media: number;
  media_items: MediaItem[];
  created_at: Date;
  processed: boolean;
  storage_urls: string[];
  sender: string;
  processing_status: ProcessingStatus;
  attempts: number;
  error: string | null;
  processed_at: Date | null;
  raw: TwilioParams;
  stored_media: StoredMedia[];
  /** Why the message did not count as proof; null when it did or was no attempt. */
  proof_rejection: ProofRejection | null;
}

/**
 * Why a message did not complete a task (src/services/proof-check.ts):
 * - `duplicate_photo`: the same bytes are already the proof of a feed post;
 * - `similar_photo`: a near copy (re-encoded, resized) of an earlier proof photo;
 * - `not_a_photo`: media, but no image (audio, PDF, video).
 */
export interface ProofRejection {
  reason: 'duplicate_photo' | 'similar_photo' | 'not_a_photo';
  /** For a person, e.g. on the dashboard. */
  message: string;
  /** The earlier proof a duplicate copies. */
  earlier?: {
    feed_id: number;
    task_id: number | null;
    user_id: number;
    username: string;
    /** When it was posted, ISO 8601. */
    posted_at: string;
    /** Differing bits of the difference hashes, 0 to 64 (0 for the same bytes). */
    distance: number;
  };
}

/**
 * What became of one media item: stored under `key`, or failed with `error`. The one media
 * type from download to row: the download fills the object's fields (StoredObject), the
 * inbound job adds `index` and `url`, the row keeps it in `stored_media`, and the
 * accountability loop and the API read it from there.
 */
export interface StoredMedia {
  index: number;
  key?: string;
  content_type?: string;
  size?: number;
  /** The URL recorded in `storage_urls` for this item (see mediaApiPath). */
  url?: string;
  /** SHA-256 of the stored bytes, 64 hex digits (see src/media/fingerprint.ts). */
  sha256?: string;
  /** An image's 64-bit difference hash, 16 hex digits; null when it has none. */
  dhash?: string | null;
  error?: string;
}

/** The fields of a StoredMedia that storing the object fills in. */
export type StoredObject = Required<Pick<StoredMedia, 'key' | 'content_type' | 'size'>> &
  Pick<StoredMedia, 'sha256' | 'dhash'>;

/**
 * The URL a stored item is recorded under: the API's stable, relative address. A store URL
 * would name the host it was made on (or expire, for a private bucket); the API builds a
 * fresh one from the key whenever it answers (src/http/storage-urls.ts).
 */
export const mediaApiPath = (messageId: number, index: number): string =>
  `/messages/${messageId}/media/${index}`;

const channelPrefix = /^[a-z]+:/i;

/** `whatsapp:+15551234567` → `+15551234567`; a bare number is returned unchanged. */
export const senderFromAddress = (address: string): string => address.replace(channelPrefix, '');
