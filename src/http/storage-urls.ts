import type { MessageRow, StoredMedia } from '../domain/message.js';

/**
 * For a private bucket (STORAGE_PUBLIC=false) the rows keep stable addresses, and the API
 * answers with fresh signed URLs made from the stored objects' keys. For a public bucket
 * `signUrl` is absent and rows are answered as stored.
 */
export type SignUrl = (key: string) => Promise<string>;

export async function withSignedStorageUrls(
  row: MessageRow,
  signUrl: SignUrl | undefined,
): Promise<MessageRow> {
  if (!signUrl) return row;
  const keys = row.stored_media
    .map((item) => item.key)
    .filter((key): key is string => key !== undefined);
  return { ...row, storage_urls: await Promise.all(keys.map(signUrl)) };
}

/** The signed URL of the stored item a feed post's image_url points at. */
export async function signedImageUrl(
  imageUrl: string | null,
  proofMedia: StoredMedia[] | null,
  signUrl: SignUrl | undefined,
): Promise<string | null> {
  if (!signUrl || !imageUrl || !proofMedia) return imageUrl;
  const item = proofMedia.find((media) => media.url === imageUrl && media.key);
  return item?.key ? signUrl(item.key) : imageUrl;
}
