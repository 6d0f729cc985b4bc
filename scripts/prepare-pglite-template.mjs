// Runs after `npm install` builds dist/: prepares the embedded database's templates so the
// first `npm start` copies a ready, migrated cluster instead of spending seconds in initdb
// and the migrations. The pristine template serves the tests; the migrated one, keyed by
// a hash of the migration files, new service data folders (a changed migration gives a
// new one). Failure here is not fatal: the service then prepares them on first start.
import {
  ensureMigratedPgliteTemplate,
  ensurePgliteTemplate,
  pgliteTemplateDir,
  pruneStalePgliteTemplates,
} from '../dist/db/pglite-template.js';

try {
  const started = Date.now();
  const pristine = await ensurePgliteTemplate(pgliteTemplateDir());
  const migrated = await ensureMigratedPgliteTemplate();
  const removed = pruneStalePgliteTemplates([pristine, migrated]);
  console.error(
    `taskwire: embedded database templates ready (${Date.now() - started} ms)` +
      (removed.length > 0 ? `; removed ${removed.length} outdated` : ''),
  );
} catch (error) {
  console.error(`taskwire: could not prepare the embedded database template: ${error.message}`);
}
