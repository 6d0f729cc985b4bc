// `npm run verify:dist`: what the Dockerfile does, without Docker, in a temporary folder.
// Builds, packs the package as npm would publish it, installs its production dependencies
// only (from package-lock.json, as `npm ci --omit=dev`), starts `node dist/cli/main.js
// serve` with NODE_ENV=production, checks /health and /ready, and stops it with SIGTERM.
// Proves that dist/ is self-contained (migrations and dashboard copied) and that nothing
// at run time needs a dev dependency.
/* global fetch */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const started = Date.now();
const step = (text) =>
  console.error(`verify:dist [${((Date.now() - started) / 1000).toFixed(1)} s] ${text}`);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const run = (args, cwd) =>
  execFileSync(npm, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'] }).toString();

const temp = mkdtempSync(path.join(tmpdir(), 'taskwire-dist-'));
let serve = null;
try {
  step('build');
  run(['run', 'build'], process.cwd());

  step('npm pack');
  const [packed] = JSON.parse(
    run(['pack', '--ignore-scripts', '--json', '--pack-destination', temp], process.cwd()),
  );
  execFileSync('tar', ['-xzf', path.join(temp, packed.filename), '-C', temp]);
  const app = path.join(temp, 'package');
  const files = packed.files.map((file) => file.path);
  for (const required of ['dist/cli/main.js', 'dist/db/migrations/0001_initial.sql']) {
    if (!files.includes(required)) throw new Error(`the package lacks ${required}`);
  }
  if (files.some((file) => file.startsWith('src/') || file.startsWith('test/'))) {
    throw new Error('the package ships sources or tests');
  }

  step('npm ci --omit=dev (production dependencies only, from package-lock.json)');
  cpSync('package-lock.json', path.join(app, 'package-lock.json'));
  run(['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], app);
  for (const devOnly of ['typescript', 'tsx', 'eslint', 'prettier']) {
    if (existsSync(path.join(app, 'node_modules', devOnly))) {
      throw new Error(`a dev dependency was installed: ${devOnly}`);
    }
  }
  step(`${readdirSync(path.join(app, 'node_modules')).length} top-level packages installed`);
  // As the Dockerfile's build stage does: the embedded database's template beside the
  // packages, so the first start copies a cluster instead of running initdb.
  const { pgliteTemplateDir } = await import('../dist/db/pglite-template.js');
  const template = pgliteTemplateDir();
  if (existsSync(path.join(template, 'PG_VERSION'))) {
    cpSync(template, path.join(app, path.relative(process.cwd(), template)), { recursive: true });
  }

  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  step(`node dist/cli/main.js serve on ${base} (NODE_ENV=production)`);
  serve = spawn(process.execPath, ['dist/cli/main.js', 'serve'], {
    cwd: app,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATA_DIR: path.join(temp, 'data'),
      API_TOKEN: 'verify-dist-api-token-0123456789',
      TWILIO_AUTH_TOKEN: 'verify-dist-twilio-auth-token',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise((resolve) =>
    serve.once('exit', (code, signal) => resolve(code ?? signal)),
  );

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (serve.exitCode !== null) throw new Error(`serve exited ${serve.exitCode} before answering`);
    try {
      const [health, ready] = await Promise.all([fetch(`${base}/health`), fetch(`${base}/ready`)]);
      if (health.status === 200 && ready.status === 200) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error('no /health 200 within 60 s');
    await sleep(250);
  }
  step('/health 200, /ready 200');

  serve.kill('SIGTERM');
  const code = await Promise.race([exited, sleep(30_000, 'timeout', { ref: false })]);
  if (code !== 0) throw new Error(`SIGTERM: expected exit 0, got ${code}`);
  serve = null;
  step('stopped with SIGTERM, exit 0: dist is good');
} catch (error) {
  console.error(`verify:dist failed: ${error.message}`);
  process.exitCode = 1;
} finally {
  serve?.kill('SIGKILL');
  rmSync(temp, { recursive: true, force: true });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}
