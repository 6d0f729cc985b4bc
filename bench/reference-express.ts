// The Express peer, written the way Twilio's Node.js docs show it: Express 5,
// express.urlencoded(), the SDK's twilio.webhook() middleware validating X-Twilio-Signature,
// then one INSERT ... ON CONFLICT DO NOTHING per webhook through a pg Pool.
//
// Environment: PORT, DATABASE_URL, TWILIO_AUTH_TOKEN, POOL_SIZE (default 10).
import express from 'express';
import pg from 'pg';
import twilio from 'twilio';
import { EMPTY_TWIML, insertMessageSql, messageValues } from './reference-row.js';

const port = Number(process.env.PORT);
const authToken = process.env.TWILIO_AUTH_TOKEN ?? '';
const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL,
  max: Number(process.env.POOL_SIZE ?? 10),
});
pool.on('error', () => {});

const app = express();
app.use(express.urlencoded({ extended: false }));

app.get('/health', (_request, response) => {
  response.send('ok');
});

app.post(
  '/webhook/twilio',
  // The URL Twilio signed: the host and protocol we are reached at.
  twilio.webhook(authToken, { protocol: 'http', host: `127.0.0.1:${port}` }),
  async (request, response) => {
    const values = messageValues(request.body as Record<string, string>);
    if (!values) {
      response.status(400).send('Missing parameters');
      return;
    }
    await pool.query(insertMessageSql, values);
    response.type('text/xml').send(EMPTY_TWIML);
  },
);

const server = app.listen(port, '127.0.0.1');

process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void pool.end().finally(() => process.exit(0));
});
