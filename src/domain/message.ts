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
}

/** What became of one media item: stored under `key`, or failed with `error`. */
export interface StoredMedia {
  index: number;
  key?: string;
  content_type?: string;
  size?: number;
  /** The URL recorded in `storage_urls` for this item. */
  url?: string;
  error?: string;
}

const channelPrefix = /^[a-z]+:/i;

/** `whatsapp:+15551234567` → `+15551234567`; a bare number is returned unchanged. */
export const senderFromAddress = (address: string): string => address.replace(channelPrefix, '');
