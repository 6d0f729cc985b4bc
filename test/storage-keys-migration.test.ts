/**
 * Migration 0008 (src/db/migrations/0008_storage_keys.sql): posts and messages written
 * before rows kept object keys get their keys from the URLs they stored, so the API builds
 * URLs for them too and their photos load wherever the dashboard is opened.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadMigrations, migrate } from '../src/db/migrate.js';
import { engines, type TestDatabase } from './helpers/databases.js';

const SID = 'MMa0000000000000000000000000000001';
const OTHER = 'MMb0000000000000000000000000000002';

for (const engine of engines) {
  describe(`migration 0008 derives storage keys [${engine.name}]`, { skip: engine.skip }, () => {
    let database: TestDatabase;
    const images = new Map<string, string | null>();
    let processedId = 0;
    let legacyId = 0;

    before(async () => {
      database = await engine.create({ migrate: false });
      const { db } = database;
      await migrate(
        db,
        loadMigrations().filter((migration) => migration.version < 8),
      );
      const [user] = await db.query<{ id: number }>(
        `INSERT INTO users (username, phone_number) VALUES ('Ada', '+15550800001') RETURNING id`,
      );
      const insertMessage = async (sid: string, storageUrls: string[], stored: unknown[]) => {
        const [row] = await db.query<{ id: number }>(
          `INSERT INTO messages (message_sid, from_number, to_number, body, num_media, media_items,
                                 sender, raw, storage_urls, stored_media)
           VALUES ($1, 'whatsapp:+15550800001', 'whatsapp:+14155238886', '', $2, '[]', '+15550800001',
                   '{}', $3::jsonb, $4::jsonb)
           RETURNING id`,
          [sid, storageUrls.length, JSON.stringify(storageUrls), JSON.stringify(stored)],
        );
        return row?.id as number;
      };
      // Processed by this service before 0008: stored_media has the keys, the rows
      // absolute URLs (a private bucket's: the API address).
      processedId = await insertMessage(
        SID,
        [`http://localhost:8000/messages/1/media/0`],
        [
          {
            index: 0,
            key: `messages/${SID}/0.jpg`,
            url: `http://localhost:8000/storage/notes/messages/${SID}/0.jpg`,
          },
          { index: 1, key: `messages/${SID}/1.png`, url: 'http://localhost:8000/messages/x' },
        ],
      );
      // From before stored_media: only URLs.
      legacyId = await insertMessage(
        OTHER,
        [
          `https://proj.supabase.co/storage/v1/object/public/notes/messages/${OTHER}/0.jpg`,
          'https://cdn.example/elsewhere.jpg',
        ],
        [],
      );
      const posts: [string, string | null, number | null][] = [
        // 1. the URL the proof message recorded for an item
        ['recorded', `http://localhost:8000/storage/notes/messages/${SID}/0.jpg`, processedId],
        // 2. a private bucket's API address
        ['api address', `http://192.168.1.5:8000/messages/${processedId}/media/1`, null],
        // 3. the key at the end of the path, any driver, query string dropped
        ['local', `http://localhost:3000/storage/notes/messages/${OTHER}/0.jpg`, null],
        [
          'supabase signed',
          `https://proj.supabase.co/storage/v1/object/sign/notes/messages/${OTHER}/1.png?token=abc`,
          null,
        ],
        ['s3', `https://notes.s3.eu-west-1.amazonaws.com/messages/${OTHER}/2.webp`, null],
        // no key to be found
        ['foreign', 'https://cdn.example/photo.jpg', null],
        ['none', null, null],
      ];
      for (const [content, url, messageId] of posts) {
        await db.query(
          `INSERT INTO feed (user_id, image_url, post_content, message_id) VALUES ($1, $2, $3, $4)`,
          [user?.id, url, content, messageId],
        );
      }

      await migrate(db);
      const rows = await db.query<{ post_content: string; image_key: string | null }>(
        'SELECT post_content, image_key FROM feed',
      );
      for (const row of rows) images.set(row.post_content, row.image_key);
    });
    after(async () => database?.destroy());

    test('a post gets the key of the item its proof message recorded with that URL', () => {
      assert.equal(images.get('recorded'), `messages/${SID}/0.jpg`);
    });

    test('a post on the /messages/{id}/media/{i} address gets that item’s key', () => {
      assert.equal(images.get('api address'), `messages/${SID}/1.png`);
    });

    test('a post whose URL path ends in a key gets it, for every driver’s URLs', () => {
      assert.equal(images.get('local'), `messages/${OTHER}/0.jpg`);
      assert.equal(images.get('supabase signed'), `messages/${OTHER}/1.png`);
      assert.equal(images.get('s3'), `messages/${OTHER}/2.webp`);
    });

    test('a post with a foreign URL or none keeps no key (and answers its URL as stored)', () => {
      assert.equal(images.get('foreign'), null);
      assert.equal(images.get('none'), null);
    });

    test('a message from before stored_media gets an item per URL, with the key where it shows', async () => {
      const [legacy] = await database.db.query<{ stored_media: unknown }>(
        'SELECT stored_media FROM messages WHERE id = $1',
        [legacyId],
      );
      assert.deepEqual(legacy?.stored_media, [
        {
          index: 0,
          key: `messages/${OTHER}/0.jpg`,
          url: `https://proj.supabase.co/storage/v1/object/public/notes/messages/${OTHER}/0.jpg`,
        },
        { index: 1, url: 'https://cdn.example/elsewhere.jpg' },
      ]);
      const [processed] = await database.db.query<{ stored_media: { key?: string }[] }>(
        'SELECT stored_media FROM messages WHERE id = $1',
        [processedId],
      );
      assert.deepEqual(
        processed?.stored_media.map((item) => item.key),
        [`messages/${SID}/0.jpg`, `messages/${SID}/1.png`],
        'rows that had keys are left as they were',
      );
    });
  });
}
