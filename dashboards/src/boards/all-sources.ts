import { TableSortByFieldStateBuilder } from '@grafana/grafana-foundation-sdk/common';
import { RowBuilder, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as TableBuilder } from '@grafana/grafana-foundation-sdk/table';
import type { CatalogQueries } from '../catalog.js';
import { dashboard } from '../panels.js';
import { DATASOURCE } from '../query.js';

/** The metric of the `system` source that reports every source with its state and its headline metric's value. */
const HEADLINE_METRIC = 'source_headline';

/** Columns (group-by dimensions, then the value) and their titles, in the order the table shows them. */
const COLUMNS: Array<[string, string]> = [
  ['label', 'Source'],
  ['source', 'Id'],
  ['type', 'Type'],
  ['status', 'Status'],
  ['lastSuccess', 'Last success'],
  ['lastError', 'Last error'],
  ['headline', 'Headline metric'],
];

/**
 * "All sources": one table with every source of the catalog, its status, last
 * success, last error and its headline metric over the range side by side.
 * Absent while the catalog has no `source_headline` metric.
 */
export function allSources(catalog: CatalogQueries): Dashboard | undefined {
  if (!catalog.has(HEADLINE_METRIC)) return undefined;
  const value = catalog.metric(HEADLINE_METRIC).label;
  return dashboard(
    'metricshub-all-sources',
    'All sources',
    'Every source of the catalog with its status, last success, last error and its headline metric over the range, one row per source.',
    ['sources'],
  )
    .withRow(new RowBuilder('Sources'))
    .withPanel(
      new TableBuilder()
        .title('Every source')
        .description(
          'One row per catalog source: status, when it last answered, its last error, and its headline metric (the source\'s `headline` in the catalog, ' +
            'else its first counter) over the dashboard\'s range for this organization; empty when the source failed. Degraded and down sources sort first.',
        )
        .datasource(DATASOURCE)
        .withTarget(catalog.query(HEADLINE_METRIC, { format: 'table', groupBy: COLUMNS.map(([name]) => name) }))
        // Grafana names the value field after the metric's label: rename both spellings.
        .withTransformation({
          id: 'organize',
          options: {
            excludeByName: {},
            indexByName: {},
            renameByName: { ...Object.fromEntries(COLUMNS), value: 'Headline value', [value]: 'Headline value' },
          },
        })
        .overrideByName('Headline value', [{ id: 'decimals', value: 2 }])
        .sortBy([new TableSortByFieldStateBuilder().displayName('Status').desc(false)])
        .noValue('no sources')
        .height(12)
        .span(24),
    )
    .build();
}
