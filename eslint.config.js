// Lint rules, including the direction imports may take between the layers of src/
// (see "The shape" in CONTRIBUTING.md): data flows down, imports point down.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importX } from 'eslint-plugin-import-x';

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
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    plugins: { 'import-x': importX },
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
