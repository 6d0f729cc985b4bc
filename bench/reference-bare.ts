// The bare reference: node:http, the form parsed with node:querystring, Twilio's signature
// checked with the SDK's own validateRequest, one INSERT ... ON CONFLICT DO NOTHING per
// webhook through a pg Pool, then empty TwiML. The floor any framework adds cost on top of.
//
// Environment: PORT, DATABASE_URL, TWILIO_AUTH_TOKEN, POOL_SIZE (default 10).
import { createServer } from 'node:http';
import { parse } from 'node:querystring';
import pg from 'pg';
import { validateRequest } from 'twilio/lib/webhooks/webhooks.js';
import { EMPTY_TWIML, insertMessageSql, messageValues } from './reference-row.js';

const port = Number(process.env.PORT);
const authToken = process.env.TWILIO_AUTH_TOKEN ?? '';
const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL,
  max: Number(process.env.POOL_SIZE ?? 10),
});
pool.on('error', () => {});

const server = createServer((request, response) => {
  if (request.method === 'GET' && request.url === '/health') {
    response.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    return;
  }
  if (request.method !== 'POST' || request.url !== '/webhook/twilio') {
    response.writeHead(404).end();
    return;
  }
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const form = parse(Buffer.concat(chunks).toString('utf8'));
    const signature = request.headers['x-twilio-signature'];
    const url = `http://${request.headers.host}${request.url}`;
    if (typeof signature !== 'string' || !validateRequest(authToken, signature, url, form)) {
      response.writeHead(403, { 'content-type': 'text/plain' }).end('Invalid signature');
      return;
    }
    const values = messageValues(form);
    if (!values) {
      response.writeHead(400, { 'content-type': 'text/plain' }).end('Missing parameters');
      return;
    }
    pool.query(insertMessageSql, values).then(
      () => response.writeHead(200, { 'content-type': 'text/xml' }).end(EMPTY_TWIML),
      (error: Error) => {
        console.error(error.message);
        response.writeHead(500).end();
      },
    );
  });
});

server.listen(port, '127.0.0.1');

process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void pool.end().finally(() => process.exit(0));
});
