import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CatalogError, parseCatalog } from '../src/catalog/load.js';

// Found by the reliability suite's catalog fuzzing: this YAML parses, but its alias cannot be resolved.
test('an alias to an anchor never set is a CatalogError naming the file and the reason, not a crash', () => {
  assert.throws(
    () => parseCatalog('*missing', 'bad.yaml'),
    (error: unknown) => error instanceof CatalogError && /bad\.yaml: \(root\): YAML: Unresolved alias/.test(error.message),
  );
});
