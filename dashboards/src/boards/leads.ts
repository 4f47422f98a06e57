import { RowBuilder, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import type { CatalogQueries } from '../catalog.js';
import { PanelBuilder as TableBuilder } from '@grafana/grafana-foundation-sdk/table';
import { TableSortByFieldStateBuilder } from '@grafana/grafana-foundation-sdk/common';
import type { CatalogMetric } from '../../../backend/src/catalog/schema.js';
import { DATASOURCE } from '../query.js';
import { dashboard, dimensionVariable, trend } from '../panels.js';

/** Names the catalog may give the dimension that says where a lead came from. */
const LEAD_SOURCE_DIMENSIONS = ['leadSource', 'lead_source'];

/**
 * Lead-source performance: every catalog metric that can be split by lead
 * source, split by it. Absent (undefined) while no metric declares such a dimension.
 */
export function leadSources(catalog: CatalogQueries): Dashboard | undefined {
  const metrics = catalog.catalog.metrics
    .map((metric) => ({ metric, dimension: catalog.dimension(metric.key, ...LEAD_SOURCE_DIMENSIONS) }))
    .filter((entry): entry is { metric: (typeof entry)['metric']; dimension: string } => entry.dimension !== undefined);
  const first = metrics[0];
  if (!first) return undefined;
  const board = dashboard(
    'metricshub-lead-sources',
    'Lead-source performance',
    'Pipeline metrics split by the lead source they came from; pick sources with $lead_source. ' +
      'The organization is the one the data source\'s API key belongs to.',
    ['leads'],
  )
    .withVariable(dimensionVariable('lead_source', 'Lead source', first.metric.key, first.dimension))
    .withRow(new RowBuilder('Ranking'))
    .withPanel(ranking(catalog, metrics))
    .withRow(new RowBuilder('By lead source'));
  for (const { metric, dimension } of metrics) {
    board.withPanel(
      trend(catalog, `${metric.label} by lead source`, [catalog.query(metric.key, { groupBy: [dimension], filters: [{ dimension, op: 'in', value: ['$lead_source'] }] })], {
        width: 12,
        stacked: metric.kind === 'counter',
        bars: metric.kind === 'counter',
      }),
    );
  }
  return board.build();
}

/**
 * One row per lead source, one column per metric over the whole range: each
 * query answers a table (lead source, value), joined on the lead source.
 */
function ranking(catalog: CatalogQueries, metrics: Array<{ metric: CatalogMetric; dimension: string }>): TableBuilder {
  const refIds = 'ABCDEFGHIJ';
  const dimension = metrics[0]!.dimension;
  const columns = metrics.filter((entry) => entry.dimension === dimension).slice(0, refIds.length);
  return new TableBuilder()
    .title('Lead sources over the selected range')
    .description('Every lead-source metric summed over the whole range, one row per lead source; sort by any column.')
    .datasource(DATASOURCE)
    .targets(
      columns.map(({ metric }, index) =>
        catalog.query(metric.key, { format: 'table', groupBy: [dimension], filters: [{ dimension, op: 'in', value: ['$lead_source'] }] }).refId(refIds[index]!),
      ),
    )
    .withTransformation({ id: 'joinByField', options: { byField: dimension, mode: 'outer' } })
    .sortBy([new TableSortByFieldStateBuilder().displayName(columns[0]!.metric.label).desc(true)])
    .height(9)
    .span(24);
}
