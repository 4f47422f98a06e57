import { TableSortByFieldStateBuilder } from '@grafana/grafana-foundation-sdk/common';
import { RowBuilder, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as TableBuilder } from '@grafana/grafana-foundation-sdk/table';
import type { CatalogMetric } from '../../../backend/src/catalog/schema.js';
import type { CatalogQueries } from '../catalog.js';
import { dashboard, kpiStat } from '../panels.js';
import { DATASOURCE } from '../query.js';

/** The metric that `source_status` reports sources through (a `system` source of the catalog). */
const STATUS_METRIC = 'source_status';
const COLUMNS = ['label', 'source', 'type', 'status', 'lastSuccess', 'lastError'];

/** A source's headline: its busiest counter, else its first metric that is not a ratio (as the source dashboards pick it). */
export function headlineMetric(metrics: CatalogMetric[]): CatalogMetric | undefined {
  return metrics.find((metric) => metric.kind === 'counter') ?? metrics.find((metric) => metric.kind !== 'ratio');
}

/**
 * "All sources": one table with every source of the catalog, its status, last
 * success and last error, and each source's headline KPI side by side below.
 * Absent while the catalog has no `source_status` metric.
 */
export function allSources(catalog: CatalogQueries): Dashboard | undefined {
  if (!catalog.has(STATUS_METRIC)) return undefined;
  const board = dashboard(
    'metricshub-all-sources',
    'All sources',
    'Every source of the catalog with its state (up is 1), last success and last error, and the headline metric of each source over the range.',
    ['sources'],
  )
    .withRow(new RowBuilder('Sources'))
    .withPanel(
      new TableBuilder()
        .title('Every source')
        .description('One row per catalog source: status, when it last answered, and its last error. Down sources sort first.')
        .datasource(DATASOURCE)
        .withTarget(catalog.query(STATUS_METRIC, { format: 'table', groupBy: COLUMNS }))
        // Grafana names the value field after the metric's label: rename both spellings.
        .withTransformation({ id: 'organize', options: { excludeByName: {}, indexByName: {}, renameByName: { value: 'Up', [catalog.metric(STATUS_METRIC).label]: 'Up', label: 'Source', source: 'Id', type: 'Type', status: 'Status', lastSuccess: 'Last success', lastError: 'Last error' } } })
        .sortBy([new TableSortByFieldStateBuilder().displayName('Up').desc(false)])
        .height(9)
        .span(24),
    )
    .withRow(new RowBuilder('Headline metrics'));
  for (const source of catalog.catalog.sources) {
    const headline = headlineMetric(catalog.catalog.metrics.filter((metric) => metric.source === source.id && metric.key !== STATUS_METRIC));
    if (headline) board.withPanel(kpiStat(catalog, headline.key, { width: 6, title: `${source.label ?? source.id}: ${headline.label}` }));
  }
  return board.build();
}
