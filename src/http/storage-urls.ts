import type { MessageRow } from '../domain/message.js';

/**
 * Rows keep the object key of each photo (messages.stored_media[].key, feed.image_key), and
 * the URL is built when the API answers: a URL written into a row names the host it was
 * written on, and a browser on any other address (127.0.0.1, a LAN address, a new domain)
 * cannot load it under `Cross-Origin-Resource-Policy: same-origin` and the CSP.
 *
 * `ObjectUrl` is the store's `url()`: relative for the local driver (on PUBLIC_URL when
 * set), the driver's public URL, or a fresh signed one for a private bucket.
 */
export type ObjectUrl = (key: string) => Promise<string>;

/** Told about each URL that could not be made (the key holds no phone number). */
export type OnUrlFailure = (key: string, error: unknown) => void;

/** A URL for a browser, or null with the reason it could not be made. */
export interface AnsweredUrl {
  url: string | null;
  error: string | null;
}

/**
 * One object's URL. Signing fails for an object that is gone (Supabase answers 400 with
 * `statusCode: "404"`) or while storage is down; that row answers null and says why, and
 * the rest of the page still answers.
 */
export async function answerObjectUrl(
  key: string,
  objectUrl: ObjectUrl,
  onFailure?: OnUrlFailure,
): Promise<AnsweredUrl> {
  try {
    return { url: await objectUrl(key), error: null };
  } catch (error) {
    onFailure?.(key, error);
    const reason = error instanceof Error && error.message ? error.message : String(error);
    return { url: null, error: `Storage could not give a URL for this photo: ${reason}` };
  }
}

export interface MessageUrls {
  /** One per stored item, in media order; null where no URL could be made. */
  storage_urls: (string | null)[];
  /** Beside each of storage_urls: why it is null, else null. */
  storage_url_errors: (string | null)[];
}

/**
 * storage_urls as answered: each stored item's URL built from its key. An item without a
 * key (a row from before keys were kept, whose URL named no key) answers its URL as
 * stored, and a row that recorded no items at all answers its storage_urls as stored.
 */
export async function withStorageUrls(
  row: MessageRow,
  objectUrl: ObjectUrl,
  onFailure?: OnUrlFailure,
): Promise<Omit<MessageRow, 'storage_urls'> & MessageUrls> {
  const stored = row.stored_media.filter((item) => item.key !== undefined || item.url);
  if (stored.length === 0) {
    return { ...row, storage_url_errors: row.storage_urls.map(() => null) };
  }
  const answered = await Promise.all(
    stored.map((item) =>
      item.key !== undefined
        ? answerObjectUrl(item.key, objectUrl, onFailure)
        : { url: item.url ?? null, error: null },
    ),
  );
  return {
    ...row,
    storage_urls: answered.map((item) => item.url),
    storage_url_errors: answered.map((item) => item.error),
  };
}

/**
 * A feed post's image_url as answered: built from image_key; a post whose photo is not in
 * our bucket (or from before keys, where none could be derived) answers image_url as stored.
 */
export async function answerImageUrl(
  post: { image_url: string | null; image_key: string | null },
  objectUrl: ObjectUrl,
  onFailure?: OnUrlFailure,
): Promise<{ image_url: string | null; image_url_error: string | null }> {
  if (post.image_key === null) return { image_url: post.image_url, image_url_error: null };
  const answered = await answerObjectUrl(post.image_key, objectUrl, onFailure);
  return { image_url: answered.url, image_url_error: answered.error };
}
