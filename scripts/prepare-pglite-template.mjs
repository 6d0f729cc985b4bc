// Runs after `npm install` builds dist/: prepares the embedded database's template so the
// first `npm start` copies a ready cluster instead of spending seconds in initdb.
// Failure here is not fatal: the service then initialises the database on first start.
import { pgliteTemplateDir, ensurePgliteTemplate } from '../dist/db/pglite-template.js';

try {
  const started = Date.now();
  const dir = pgliteTemplateDir();
  await ensurePgliteTemplate(dir);
  console.error(`taskwire: embedded database template ready (${Date.now() - started} ms)`);
} catch (error) {
  console.error(`taskwire: could not prepare the embedded database template: ${error.message}`);
}
