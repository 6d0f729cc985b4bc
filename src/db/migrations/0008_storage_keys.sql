-- Photos load wherever the dashboard is opened (issue 12, item 6). Rows used to keep
-- absolute URLs (`http://localhost:PORT/storage/...`, or PUBLIC_URL at the time of writing),
-- which a browser on another address (127.0.0.1, a LAN address, a new domain) refuses under
-- `Cross-Origin-Resource-Policy: same-origin` and the CSP. Now rows keep the object key and
-- the API builds the URL when it answers (src/http/storage-urls.ts): relative for the local
-- driver, on PUBLIC_URL when set, the driver's public or signed URL otherwise.
--
-- messages.stored_media[].key already holds each item's key. The feed gets its own column:
ALTER TABLE feed ADD COLUMN image_key text;

-- Existing posts: find the key of the photo image_url names, in this order.
-- 1. The proof message recorded the same URL for an item it stored.
UPDATE feed f
   SET image_key = item->>'key'
  FROM messages m, jsonb_array_elements(m.stored_media) AS item
 WHERE f.image_key IS NULL AND f.image_url IS NOT NULL AND f.message_id = m.id
   AND item->>'url' = f.image_url AND item->>'key' IS NOT NULL;

-- 2. A private bucket's rows kept the API address `<base>/messages/{id}/media/{index}`.
UPDATE feed f
   SET image_key = item->>'key'
  FROM messages m, jsonb_array_elements(m.stored_media) AS item
 WHERE f.image_key IS NULL
   AND f.image_url ~ '/messages/[0-9]{1,15}/media/[0-9]{1,3}([?#].*)?$'
   AND m.id = substring(f.image_url from '/messages/([0-9]{1,15})/media/[0-9]{1,3}(?:[?#].*)?$')::bigint
   AND item->>'index' = substring(f.image_url from '/messages/[0-9]{1,15}/media/([0-9]{1,3})(?:[?#].*)?$')
   AND item->>'key' IS NOT NULL;

-- 3. The key is the end of the URL's path, for every driver: the local driver's
--    `/storage/<bucket>/<key>`, Supabase's `/storage/v1/object/{public,sign}/<bucket>/<key>`,
--    S3's `/<bucket>/<key>` or `<S3_PUBLIC_URL>/<key>`; keys are
--    `messages/<MessageSid>/<index>.<ext>` (src/twilio/media.ts, mediaObjectKey).
UPDATE feed
   SET image_key = substring(image_url from '(?:^|/)(messages/[A-Za-z0-9]{2,64}/[0-9]{1,3}\.[A-Za-z0-9]{1,10})(?:[?#].*)?$')
 WHERE image_key IS NULL
   AND image_url ~ '(^|/)messages/[A-Za-z0-9]{2,64}/[0-9]{1,3}\.[A-Za-z0-9]{1,10}([?#].*)?$';

-- Messages written before stored_media existed have only their URLs: record each as an
-- item, with the key when its path shows one (as in 3.), so the API builds its URL too. An
-- item without a key keeps answering its URL as stored.
UPDATE messages m
   SET stored_media = (
     SELECT jsonb_agg(
              jsonb_strip_nulls(jsonb_build_object(
                'index', u.ord - 1,
                'url', u.url,
                'key', substring(u.url from '(?:^|/)(messages/[A-Za-z0-9]{2,64}/[0-9]{1,3}\.[A-Za-z0-9]{1,10})(?:[?#].*)?$')))
              ORDER BY u.ord)
       FROM jsonb_array_elements_text(m.storage_urls) WITH ORDINALITY AS u(url, ord))
 WHERE m.stored_media = '[]'::jsonb
   AND jsonb_typeof(m.storage_urls) = 'array' AND jsonb_array_length(m.storage_urls) > 0;
