import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseCatalog } from '../src/catalog/load.js';
import { CatalogQueries } from '../../dashboards/src/catalog.js';
import { render, staleFiles } from '../../dashboards/src/generate.js';
import { readText } from '../../dashboards/test/support.js';

const REGENERATE = 'run: node --import tsx dashboards/src/generate.ts (from the repository root) and commit the result';

describe('generated Grafana files', () => {
  const files = render();

  test('every generated file on disk is exactly what the generator renders from the current catalog', () => {
    assert.ok(files.size >= 8, `expected dashboards and alerting files, got ${[...files.keys()].join(', ')}`);
    for (const [file, content] of files) {
      let onDisk: string;
      try {
        onDisk = readText(file);
      } catch {
        assert.fail(`${file} is missing; ${REGENERATE}`);
      }
      assert.equal(onDisk, content, `${file} differs from the generator's output; ${REGENERATE}`);
    }
  });

  test('no dashboard is left over from an earlier generation', () => {
    assert.deepEqual(staleFiles(files), [], `stale generated files; ${REGENERATE}`);
  });

  test('the catalog gets one source dashboard per source that has metrics', () => {
    const catalog = new CatalogQueries();
    // The `system` source reports on the others, in the All sources dashboard.
    const withMetrics = catalog.catalog.sources.filter((source) => source.type !== 'system' && catalog.catalog.metrics.some((metric) => metric.source === source.id));
    const sourceFiles = [...files.keys()].filter((file) => file.startsWith('dashboards/sources/'));
    assert.deepEqual(sourceFiles.sort(), withMetrics.map((source) => `dashboards/sources/${source.id}.json`).sort());
  });
});

describe('the generator refuses queries the catalog would reject', () => {
  const catalog = new CatalogQueries(
    parseCatalog(
      `
sources: [{ id: events, type: events }]
metrics:
  - { key: orders_created, label: Orders, source: events, kind: counter, dimensions: [channel] }
`,
      'inline.yaml',
    ),
  );

  test('an unknown metric, naming the closest one', () => {
    assert.throws(() => catalog.query('ordrs_created'), /metric 'ordrs_created' is not in inline\.yaml; did you mean 'orders_created'\?/);
  });

  test('an aggregation the metric does not allow', () => {
    assert.throws(() => catalog.query('orders_created', { aggregation: 'p95' }), /does not allow aggregation 'p95' \(allowed: sum, count\)/);
  });

  test('a group-by or filter dimension the metric does not declare', () => {
    assert.throws(() => catalog.query('orders_created', { groupBy: ['market'] }), /has no dimension market \(declared: channel\)/);
    assert.throws(() => catalog.query('orders_created', { filters: [{ dimension: 'agentId', op: 'eq', value: 'a' }] }), /has no dimension agentId/);
  });

  test('a valid query takes the metric\'s source and default aggregation', () => {
    const query = catalog.query('orders_created', { groupBy: ['channel'] }).build();
    assert.equal(query.source, 'events');
    assert.equal(query.aggregation, 'sum');
    assert.deepEqual(query.datasource, { type: 'metricshub-metrics-datasource', uid: 'metricshub' });
  });
});
