// tsc compiles TypeScript only; the SQL migrations and the dashboard's static files
// are copied next to the compiled code so dist/ is self-contained.
import { cpSync, existsSync } from 'node:fs';

const assets = ['db/migrations', 'http/dashboard', 'http/participant'];
for (const dir of assets) {
  if (existsSync(`src/${dir}`)) {
    cpSync(`src/${dir}`, `dist/${dir}`, { recursive: true, filter: (src) => !src.endsWith('.ts') });
  }
}
