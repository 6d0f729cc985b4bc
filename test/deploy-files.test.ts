import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { SHUTDOWN_TIMEOUT_MS } from '../src/start/shutdown.js';

// Docker is not available where the tests run: the deployment files are parsed and their
// promises checked here, and `npm run verify:dist` performs the Dockerfile's steps for real.

const read = (file: string) => readFileSync(new URL(`../${file}`, import.meta.url), 'utf8');

interface Instruction {
  keyword: string;
  args: string;
}

interface Stage {
  from: string;
  name: string | null;
  instructions: Instruction[];
}

/** The Dockerfile as stages of instructions (continuation lines joined, comments dropped). */
function parseDockerfile(text: string): Stage[] {
  const logical = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    if (keyword.toUpperCase() === 'FROM') {
      const [, from = '', name = null] = /^(\S+)(?:\s+AS\s+(\S+))?/i.exec(args) ?? [];
      stages.push({ from, name, instructions: [] });
      continue;
    }
    stages.at(-1)?.instructions.push({ keyword: keyword.toUpperCase(), args });
  }
  return stages;
}

const all = (stage: Stage, keyword: string) =>
  stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);

describe('Dockerfile', () => {
  const stages = parseDockerfile(read('Dockerfile'));
  const build = stages.find((stage) => stage.name === 'build');
  const runtime = stages.at(-1) as Stage;

  test('builds in one stage and runs from another', () => {
    assert.ok(stages.length >= 2, 'multi-stage');
    assert.ok(build, 'a stage named "build"');
    assert.notEqual(runtime, build);
    for (const stage of stages) assert.match(stage.from, /^node:(\$\{NODE_VERSION\}|20)/);
    assert.match(read('Dockerfile'), /ARG NODE_VERSION=20\./, 'Node 20, as package.json engines');
  });

  test('the build stage installs every dependency, compiles, then prunes to production ones', () => {
    const runs = all(build as Stage, 'RUN').join(' && ');
    assert.match(runs, /npm ci\b/);
    assert.doesNotMatch(runs, /npm ci[^&]*--omit=dev/, 'the build needs the dev dependencies');
    const buildAt = runs.indexOf('npm run build');
    const pruneAt = runs.search(/npm prune --omit=dev/);
    assert.ok(buildAt >= 0 && pruneAt > buildAt, 'compiled, then pruned');
  });

  test('the runtime stage holds production dependencies and dist only, and runs as node', () => {
    const copies = all(runtime, 'COPY');
    assert.ok(
      copies.every((args) => args.startsWith('--from=build')),
      'everything from build',
    );
    assert.ok(copies.some((args) => /\/app\/node_modules\b/.test(args)));
    assert.ok(copies.some((args) => /\/app\/dist\b/.test(args)));
    assert.ok(!copies.some((args) => /\bsrc\b|\btest\b/.test(args)), 'no sources, no tests');
    assert.ok(!all(runtime, 'RUN').some((args) => /npm (ci|install)/.test(args)));

    const users = all(runtime, 'USER');
    assert.equal(users.length, 1);
    assert.doesNotMatch(users[0] as string, /^(root|0)(:|$)/);
    assert.equal(users[0], 'node');
    const userAt = runtime.instructions.findIndex((i) => i.keyword === 'USER');
    const cmdAt = runtime.instructions.findIndex((i) => i.keyword === 'CMD');
    assert.ok(userAt < cmdAt, 'USER before CMD');
  });

  test('serves on 8000 with data in a /data volume, checks /health, starts `serve`', () => {
    assert.deepEqual(all(runtime, 'EXPOSE'), ['8000']);
    const env = all(runtime, 'ENV').join(' ');
    assert.match(env, /NODE_ENV=production/);
    assert.match(env, /DATA_DIR=\/data/);
    assert.match(env, /PORT=8000/);
    assert.match(all(runtime, 'VOLUME').join(' '), /\/data/);
    const [healthcheck] = all(runtime, 'HEALTHCHECK');
    assert.match(healthcheck ?? '', /CMD .*\/health/);
    const [cmd] = all(runtime, 'CMD');
    assert.deepEqual(JSON.parse(cmd ?? '[]'), ['node', 'dist/cli/main.js', 'serve']);
  });

  test('.dockerignore keeps local data, secrets and dependencies out of the build context', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
    for (const entry of ['node_modules', 'data', '.env', 'dist', '.git']) {
      assert.ok(ignored.includes(entry), entry);
    }
  });
});

describe('railway.json and Procfile', () => {
  test('Railway builds the Dockerfile, starts `serve`, waits for /ready, drains longer than the stop bound', () => {
    const railway = JSON.parse(read('railway.json')) as {
      build: { builder: string; dockerfilePath: string };
      deploy: Record<string, unknown>;
    };
    assert.equal(railway.build.builder, 'DOCKERFILE');
    assert.equal(railway.build.dockerfilePath, 'Dockerfile');
    assert.equal(railway.deploy.startCommand, 'node dist/cli/main.js serve');
    assert.equal(railway.deploy.healthcheckPath, '/ready');
    assert.equal(typeof railway.deploy.drainingSeconds, 'number');
    assert.ok((railway.deploy.drainingSeconds as number) * 1000 > SHUTDOWN_TIMEOUT_MS);
  });

  test('the Procfile runs a web process and a worker process', () => {
    const processes = Object.fromEntries(
      read('Procfile')
        .split('\n')
        .filter(Boolean)
        .map((line) => line.split(/:\s*/, 2) as [string, string]),
    );
    assert.deepEqual(processes, {
      web: 'node dist/cli/main.js serve',
      worker: 'node dist/cli/main.js worker',
    });
  });

  test('package.json has the verify:dist script the CI runs after the tests', () => {
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> })
      .scripts;
    assert.equal(scripts['verify:dist'], 'node scripts/verify-dist.mjs');
    assert.match(read('.ci/run'), /npm test[\s\S]*npm run verify:dist/);
  });
});
