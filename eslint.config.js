// Lint rules, including the direction imports may take between the layers of src/
// (see "The shape" in CONTRIBUTING.md): data flows down, imports point down.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';

const layer = (name) => `./src/${name}`;

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      'data/',
      'scratch/',
      'test-artifacts/',
      'src/http/dashboard/',
      'src/http/participant/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    plugins: { 'import-x': importX },
    settings: {
      // Imports name the compiled `.js` of a `.ts` file (NodeNext): without the alias no
      // import resolves, and no-restricted-paths below silently passes everything.
      'import-x/resolver-next': [
        createNodeResolver({
          extensions: ['.ts', '.js', '.mjs', '.json', '.node'],
          extensionAlias: { '.js': ['.ts', '.js'] },
        }),
      ],
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': ['error', { allow: ['warn', 'error'] }],
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            {
              target: layer('domain'),
              from: './src',
              except: ['./domain'],
              message: 'domain/ is the bottom layer: it imports nothing else from src/.',
            },
            {
              target: ['./src/!(start|cli)/**/*'],
              from: [layer('start'), layer('cli')],
              message: 'Only cli/ may import the composition root in start/.',
            },
            {
              target: [
                layer('db'),
                layer('storage'),
                layer('twilio'),
                layer('media'),
                layer('services'),
                layer('jobs'),
                layer('config'),
              ],
              from: layer('http'),
              message: 'Lower layers never import the HTTP layer.',
            },
            {
              // Routes parse, call a use case in services/ and serialise; the database is
              // reached only through the use cases. The executor holds only types (Queryable).
              target: [
                './src/http/routes',
                './src/http/storage-urls.ts',
                './src/http/schemas.ts',
                './src/http/app.ts',
                './src/http/worker-app.ts',
              ],
              from: layer('db'),
              except: ['./executor.ts'],
              message:
                'The HTTP layer calls use cases in services/, which query db/; only the types of db/executor.ts may be imported here.',
            },
            {
              // Plugins call services too (readiness arrives as a function); the one error
              // handler may recognise the drivers' errors, which db/ classifies.
              target: './src/http/plugins',
              from: layer('db'),
              except: ['./executor.ts', './data-errors.ts', './connection-errors.ts'],
              message:
                'Plugins call use cases in services/; only the error handler classifies database errors (db/data-errors.ts, db/connection-errors.ts).',
            },
            {
              target: [layer('services'), layer('jobs')],
              from: [
                './src/db/pglite.ts',
                './src/db/postgres.ts',
                './src/storage/local',
                './src/storage/s3',
                './src/storage/supabase',
                './src/storage/index.ts',
              ],
              message:
                'Use cases receive their adapters as arguments; only start/ picks concrete adapters.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/cli/**', 'scripts/**', 'bench/**', 'test/**'],
    rules: { 'no-console': 'off' },
  },
  {
    // Plain JavaScript scripts run by Node: its globals exist there.
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly', Buffer: 'readonly' },
    },
  },
);
