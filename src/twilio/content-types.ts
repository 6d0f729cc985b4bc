/**
 * Content types of WhatsApp media and the file extensions their copies are stored under.
 * Twilio and the CDN behind it are the source of truth for the type; the webhook's
 * `MediaContentTypeN` is the fallback when the download does not say.
 */

const extensions: Readonly<Record<string, string>> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/webp': 'webp',
  'image/gif': 'gif',
  'image/heic': 'heic',
  'video/mp4': 'mp4',
  'audio/ogg': 'ogg',
  'audio/mpeg': 'mp3',
  'application/pdf': 'pdf',
  'text/vcard': 'vcf',
  // Older phones still send contact cards under the pre-RFC 6350 name.
  'text/x-vcard': 'vcf',
};

export const GENERIC_CONTENT_TYPE = 'application/octet-stream';

/** `Image/JPEG; charset=binary` → `image/jpeg`; null when there is nothing usable. */
export function normalizeContentType(value: string | null | undefined): string | null {
  const essence = value?.split(';')[0]?.trim().toLowerCase() ?? '';
  return /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(essence) ? essence : null;
}

/** The extension (without the dot) a copy of this type is stored under; `bin` when unknown. */
export function extensionForContentType(contentType: string | null | undefined): string {
  const essence = normalizeContentType(contentType);
  return (essence && extensions[essence]) ?? 'bin';
}

/**
 * The content type to store a copy under. Types a browser would render as a document
 * (HTML, SVG, XML, scripts) become `application/octet-stream`: the bytes come from whoever
 * messaged the number, and a public bucket must not serve them as a page that runs script.
 */
export function storableContentType(contentType: string | null | undefined): string {
  const essence = normalizeContentType(contentType);
  if (!essence) return GENERIC_CONTENT_TYPE;
  if (extensions[essence]) return essence;
  if (/^(image|video|audio)\//.test(essence) && !essence.includes('svg')) return essence;
  return GENERIC_CONTENT_TYPE;
}

/**
 * The type of a downloaded item: what the server answered, unless it was missing or
 * generic, then what the webhook announced.
 */
export function resolveContentType(
  responseType: string | null | undefined,
  announcedType: string | null | undefined,
): string {
  const answered = normalizeContentType(responseType);
  if (answered && answered !== GENERIC_CONTENT_TYPE && answered !== 'binary/octet-stream') {
    return storableContentType(answered);
  }
  return storableContentType(announcedType ?? answered);
}
