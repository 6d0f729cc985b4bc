import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import { after, describe, test } from 'node:test';
import { stopOnSignals } from '../src/start/shutdown.js';
import { createPostgresDatabase, engines, makeTempDir, pglite } from './helpers/databases.js';
import { type CliProcess, cleanEnv, runCli, waitReady } from './helpers/processes.js';
import { freePort, startTestService } from './helpers/service.js';
import {
  TEST_API_TOKEN,
  TEST_AUTH_TOKEN,
  newMessageSid,
  signedForm,
  whatsAppParams,
} from './helpers/twilio-webhook.js';
import { waitFor } from './helpers/worker.js';

const quiet = { info() {}, error() {} };

describe('stopOnSignals', () => {
  const run = (stop: () => Promise<void>, timeoutMs: number) => {
    const signals = new EventEmitter();
    const codes: number[] = [];
    stopOnSignals(quiet, stop, {
      timeoutMs,
      exit: (code) => codes.push(code),
      signals: signals as unknown as NodeJS.Process,
    });
    return { signals, codes };
  };

  test('exits 0 once stopping has finished', async () => {
    const { signals, codes } = run(async () => {}, 1000);
    signals.emit('SIGTERM');
    await waitFor(async () => codes.length > 0);
    assert.deepEqual(codes, [0]);
  });

  test('exits 1 when stopping outlasts the bound', async () => {
    const { signals, codes } = run(() => new Promise<void>(() => {}), 50);
    signals.emit('SIGINT');
    await waitFor(async () => codes.length > 0);
    assert.deepEqual(codes, [1]);
  });

  test('exits 1 when stopping fails, and at once on a second signal', async () => {
    const failing = run(() => Promise.reject(new Error('database gone')), 1000);
    failing.signals.emit('SIGTERM');
    await waitFor(async () => failing.codes.length > 0);
    assert.deepEqual(failing.codes, [1]);

    const hanging = run(() => new Promise<void>(() => {}), 60_000);
    hanging.signals.emit('SIGTERM');
    hanging.signals.emit('SIGTERM');
    assert.deepEqual(hanging.codes, [1]);
  });
});

describe('stopping the HTTP server', () => {
  test('a response still being written when stopping begins is finished, and its keep-alive connection does not hold the stop open', async () => {
    const t = await startTestService(pglite, { TWILIO_ACCOUNT_SID: '' });
    try {
      // An 8 MiB object from the development media stand-in, read slowly on a keep-alive connection.
      const bytes = randomBytes(8 * 1024 * 1024);
      const upload = await fetch(`${t.baseUrl}/simulator/media`, {
        method: 'POST',
        headers: { ...t.auth, 'content-type': 'image/jpeg' },
        body: bytes,
      });
      const media = (await upload.json()) as { media_url: string; account_sid: string };
      const redirect = await fetch(media.media_url, {
        redirect: 'manual',
        headers: {
          authorization: `Basic ${Buffer.from(`${media.account_sid}:${TEST_AUTH_TOKEN}`).toString('base64')}`,
        },
      });
      const cdnUrl = new URL(redirect.headers.get('location') ?? '', media.media_url);

      const agent = new http.Agent({ keepAlive: true });
      const received = await new Promise<{ length: number; stopMs: number }>((resolve, reject) => {
        http
          .get(cdnUrl, { agent }, (response) => {
            let length = 0;
            let stopping: Promise<number> | null = null;
            response.on('data', (chunk: Buffer) => {
              length += chunk.length;
              if (stopping) return;
              // Mid-response: pause reading, begin stopping, then read the rest.
              response.pause();
              const started = Date.now();
              stopping = t.service.stop().then(() => Date.now() - started);
              setTimeout(() => response.resume(), 300);
            });
            response.on('end', () => {
              void stopping?.then((stopMs) => resolve({ length, stopMs }), reject);
            });
            response.on('error', reject);
          })
          .on('error', reject);
      });
      agent.destroy();
      assert.equal(received.length, bytes.length, 'the response in flight was finished');
      assert.ok(received.stopMs < 5_000, `stopped in ${received.stopMs} ms`);
    } finally {
      await t.close();
    }
  });
});

for (const engine of engines) {
  describe(`SIGTERM during load [${engine.name}]`, { skip: engine.skip }, () => {
    const cleanup: (() => Promise<void> | void)[] = [];
    const processes: CliProcess[] = [];
    after(async () => {
      for (const serve of processes) serve.kill('SIGKILL');
      await Promise.all(processes.map((serve) => serve.exited));
      for (const step of cleanup.reverse()) await step();
    });

    test('loses no acknowledged message: every 200 is stored and processed after restart', async (ctx) => {
      const t0 = Date.now();
      const mark = (what: string) => ctx.diagnostic(`${what} at ${Date.now() - t0} ms`);
      const temp = makeTempDir('taskwire-sigterm-');
      cleanup.push(() => temp.remove());
      const database = engine.name === 'postgres' ? await createPostgresDatabase() : null;
      if (database) cleanup.push(() => database.drop());
      const port = await freePort();
      const baseUrl = `http://127.0.0.1:${port}`;
      const env = cleanEnv({
        DATA_DIR: temp.dir,
        HOST: '127.0.0.1',
        PORT: String(port),
        API_TOKEN: TEST_API_TOKEN,
        TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN,
        WORKER_POLL_MS: '100',
        ...(database ? { DATABASE_URL: database.url } : {}),
      });
      const start = () => {
        const serve = runCli(['serve'], env);
        processes.push(serve);
        return serve;
      };

      const first = start();
      await waitReady(baseUrl, first);
      mark('first ready');

      // Webhooks keep arriving, up to 100 at a time, while the process is told to stop.
      const url = `${baseUrl}/webhook/twilio`;
      const outcomes: { sid: string; status: number | 'network error' }[] = [];
      const inFlight: Promise<void>[] = [];
      let outstanding = 0;
      const deliver = (sid: string) => {
        const { payload, headers } = signedForm(
          url,
          whatsAppParams({ messageSid: sid, from: '+15550199999', body: `load ${sid}` }),
        );
        outstanding += 1;
        return fetch(url, { method: 'POST', body: payload, headers })
          .then(
            async (response) => {
              await response.arrayBuffer();
              outcomes.push({ sid, status: response.status });
            },
            () => {
              outcomes.push({ sid, status: 'network error' });
            },
          )
          .finally(() => (outstanding -= 1));
      };
      let signalled: number | null = null;
      let inFlightAtSignal = 0;
      const loadStarted = Date.now();
      while (first.child.exitCode === null && Date.now() - loadStarted < 30_000) {
        const acked = outcomes.filter((o) => o.status === 200).length;
        if (signalled === null && acked >= 60) {
          first.kill('SIGTERM');
          signalled = Date.now();
          inFlightAtSignal = outstanding;
        }
        // Keep sending for a moment after the signal, into the closing server.
        if (signalled !== null && Date.now() - signalled > 300) break;
        while (outstanding < 100) inFlight.push(deliver(newMessageSid()));
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      assert.ok(signalled !== null, 'the load reached the signal');
      await Promise.all(inFlight);
      const code = await first.exited;
      mark('first exited');
      assert.equal(code, 0, `graceful stop exits 0:\n${first.stderr()}`);
      assert.ok(Date.now() - signalled < 25_000, 'within the shutdown bound');

      const acknowledged = outcomes.filter((o) => o.status === 200).map((o) => o.sid);
      const others = outcomes.filter((o) => o.status !== 200 && o.status !== 'network error');
      const counts = new Map<string, number>();
      for (const o of outcomes)
        counts.set(String(o.status), (counts.get(String(o.status)) ?? 0) + 1);
      const histogram = [...counts].map(([status, n]) => `${status}: ${n}`);
      assert.ok(inFlightAtSignal > 0, 'webhooks were in flight at SIGTERM');
      assert.ok(
        acknowledged.length >= 60,
        `acknowledged ${acknowledged.length}; ${histogram.join(', ')}`,
      );
      // Refused while closing, never failed: 503 (closing) or no connection at all.
      assert.deepEqual(
        others.filter((o) => o.status !== 503),
        [],
        'no acknowledged-then-lost or failed answers',
      );

      const second = start();
      await waitReady(baseUrl, second);
      mark('second ready');
      const processedSids = async () => {
        const processed = new Set<string>();
        for (let offset = 0; ; offset += 100) {
          const response = await fetch(`${baseUrl}/messages?limit=100&offset=${offset}`, {
            headers: { authorization: `Bearer ${TEST_API_TOKEN}` },
          });
          const page = (await response.json()) as {
            items: { message_sid: string; processed: boolean }[];
            total: number;
          };
          for (const item of page.items) if (item.processed) processed.add(item.message_sid);
          if (offset + 100 >= page.total) return processed;
        }
      };
      const missingAfter = async () => {
        const processed = await processedSids();
        return acknowledged.filter((sid) => !processed.has(sid));
      };
      await waitFor(async () => (await missingAfter()).length === 0, 40_000).catch(() => {});
      const missing = await missingAfter();
      mark(`all processed (${acknowledged.length}; ${histogram.join(', ')})`);
      assert.deepEqual(missing, [], 'every acknowledged MessageSid is stored and processed');

      second.kill('SIGTERM');
      assert.equal(await second.exited, 0);
    });
  });
}
