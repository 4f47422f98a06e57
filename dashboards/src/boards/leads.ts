import { RowBuilder, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import type { CatalogQueries } from '../catalog.js';
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
