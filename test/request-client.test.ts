/**
 * src/twilio/request-client.ts, the transport the Twilio SDK sends through: its time limit
 * holds for the whole request, so a server that trickles its answer cannot hold a send.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import twilio from 'twilio';
import { TwilioRequestTimeoutError, keptAliveRequestClient } from '../src/twilio/request-client.js';
import { TwilioSendError, createTwilioSender } from '../src/twilio/sender.js';

const TRICKLE_EVERY_MS = 50;
const TIMEOUT_MS = 400;
// Timers and a shared 2-core machine: how late past the deadline a failure may still come.
const SLACK_MS = 1_000;
// Without a whole-request deadline a trickled request never ends: fail instead of hanging.
const HANG = { timeout: 10_000 };

describe('the kept-alive Twilio request client', () => {
  let server: http.Server;
  let baseUrl: string;
  /** Bytes the trickling answers wrote, and the answers whose connection closed. */
  const trickled = { bytes: 0, closed: 0 };
  let onClosed: () => void = () => {};

  before(async () => {
    server = http.createServer((request, response) => {
      if (request.url === '/whole') {
        response.writeHead(200, { 'Content-Type': 'application/json' });
        response.end('{"ok":true}');
        return;
      }
      // Headers at once, then a space every 50 ms, never the end: the socket is never
      // silent for the time limit, so only a deadline for the whole request ends it.
      response.writeHead(201, { 'Content-Type': 'application/json' });
      response.flushHeaders();
      const trickle = setInterval(() => {
        response.write(' ');
        trickled.bytes += 1;
      }, TRICKLE_EVERY_MS);
      response.on('close', () => {
        clearInterval(trickle);
        trickled.closed += 1;
        onClosed();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const client = () =>
    keptAliveRequestClient(twilio.RequestClient, { maxSockets: 2, timeoutMs: TIMEOUT_MS });

  /** Resolves once `count` trickling answers have seen their connection closed. */
  const closedConnections = (count: number) =>
    new Promise<void>((resolve) => {
      onClosed = () => {
        if (trickled.closed >= count) resolve();
      };
      onClosed();
    });

  test('an answer that comes whole is the SDK’s status, body and headers', async () => {
    const answer = await client().request({ method: 'get', uri: `${baseUrl}/whole` });
    assert.equal(answer.statusCode, 200);
    assert.equal(answer.body, '{"ok":true}');
    assert.equal((answer.headers as Record<string, string>)['content-type'], 'application/json');
  });

  test(
    'a trickled answer fails within the time limit, and the connection is closed',
    HANG,
    async () => {
      const closedBefore = trickled.closed;
      const bytesBefore = trickled.bytes;
      const started = performance.now();
      await assert.rejects(
        client().request({ method: 'post', uri: `${baseUrl}/trickle`, data: { Body: 'hi' } }),
        (error: unknown) =>
          error instanceof TwilioRequestTimeoutError &&
          /did not finish answering within 400 ms/.test(error.message),
      );
      const elapsed = performance.now() - started;
      assert.ok(
        elapsed >= TIMEOUT_MS - 5,
        `failed after ${Math.round(elapsed)} ms, before its limit`,
      );
      assert.ok(elapsed < TIMEOUT_MS + SLACK_MS, `failed after ${Math.round(elapsed)} ms`);
      // The server did trickle (no silence long enough for the socket's own timeout).
      assert.ok(trickled.bytes - bytesBefore >= 3, `${trickled.bytes - bytesBefore} bytes`);
      await closedConnections(closedBefore + 1);
    },
  );

  test('the SDK’s own per-request timeout is the whole-request limit too', HANG, async () => {
    const started = performance.now();
    await assert.rejects(
      client().request({ method: 'get', uri: `${baseUrl}/trickle`, timeout: 200 }),
      /did not finish answering within 200 ms/,
    );
    assert.ok(performance.now() - started < 200 + SLACK_MS);
  });

  test(
    'a send through the Twilio sender fails as a retryable (not permanent) error',
    HANG,
    async () => {
      const send = createTwilioSender({
        accountSid: 'AC00000000000000000000000000000000',
        authToken: 'token',
        apiBaseUrl: baseUrl,
        statusCallbackUrl: null,
        timeoutMs: TIMEOUT_MS,
      });
      const started = performance.now();
      await assert.rejects(
        send({ to: 'whatsapp:+15550001111', from: 'whatsapp:+14155238886', body: 'hi' }),
        (error: unknown) =>
          error instanceof TwilioSendError &&
          !error.permanent &&
          error.status === null &&
          /did not finish answering within 400 ms/.test(error.message),
      );
      // The SDK loads on the first send (a third of a second), hence the wider margin.
      assert.ok(performance.now() - started < TIMEOUT_MS + 3 * SLACK_MS);
    },
  );
});
