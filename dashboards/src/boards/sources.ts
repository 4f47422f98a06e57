import { RowBuilder, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import type { CatalogQueries } from '../catalog.js';
import { dashboard, freshnessStat, kpiStat, trend } from '../panels.js';

/** Pushed events arrive all day; module databases and SaaS APIs are synced less often. */
function freshnessWindow(sourceType: string): string {
  return sourceType === 'events' ? '1h' : '24h';
}

/** Events metrics shown on a module source's dashboard too, when the catalog has them. */
const RELATED_EVENT_METRICS: Record<string, string[]> = { communications: ['unique_contacts'] };

/**
 * One dashboard per catalog source, generated from the catalog itself: a
 * source or metric added to the catalog gets its panels on the next
 * `npm run dashboards`, and the drift test fails until it is run.
 */
export function sourceDashboards(catalog: CatalogQueries): Array<{ file: string; dashboard: Dashboard }> {
  return catalog.catalog.sources.flatMap((source) => {
    // The `system` source reports on the others; the All sources dashboard shows it.
    if (source.type === 'system') return [];
    const metrics = catalog.catalog.metrics.filter((metric) => metric.source === source.id);
    if (metrics.length === 0) return [];
    const label = source.label ?? source.id;
    const board = dashboard(
      `metricshub-source-${source.id}`.slice(0, 40),
      `Source: ${label}`,
      `${source.description || label} Every metric the catalog declares for source '${source.id}' (${source.type}), with freshness. ` +
        'The organization is the one the data source\'s API key belongs to.',
      ['source', source.type],
    );

    const busiest = metrics.find((metric) => metric.kind === 'counter') ?? metrics.find((metric) => metric.kind !== 'ratio');
    board.withRow(new RowBuilder('Freshness and health'));
    if (busiest) board.withPanel(freshnessStat(catalog, busiest.key, freshnessWindow(source.type)));
    const headline = metrics.filter((metric) => metric.kind === 'ratio' || metric.key === busiest?.key).slice(0, 3);
    for (const metric of headline) board.withPanel(kpiStat(catalog, metric.key, { width: 6 }));

    board.withRow(new RowBuilder('Metrics'));
    for (const metric of metrics) {
      const queries =
        metric.kind === 'distribution'
          ? (['p50', 'p95', 'p99'] as const).filter((aggregation) => metric.aggregations.includes(aggregation)).map((aggregation) => catalog.query(metric.key, { aggregation }))
          : [catalog.query(metric.key)];
      board.withPanel(
        trend(catalog, metric.label, queries.length > 0 ? queries : [catalog.query(metric.key)], {
          width: 8,
          severity: catalog.severity(metric.key),
          description: `${metric.description} (${metric.key}, ${queries.length > 1 ? 'p50 / p95 / p99' : metric.defaultAggregation})`,
        }),
      );
    }
    const related = (RELATED_EVENT_METRICS[source.id] ?? []).filter((key) => catalog.has(key));
    if (related.length > 0) board.withRow(new RowBuilder('From events'));
    for (const key of related) {
      const metric = catalog.metric(key);
      board.withPanel(kpiStat(catalog, key, { width: 6 }));
      const byDimension = metric.dimensions[0];
      board.withPanel(
        trend(catalog, byDimension ? `${metric.label} by ${byDimension}` : metric.label, [catalog.query(key, byDimension ? { groupBy: [byDimension] } : {})], {
          width: 18,
          description: `${metric.description} (${key}, from the events source; distinct per interval and per ${byDimension ?? 'range'}, merged from sketches, so the series do not add up to the KPI)`,
        }),
      );
    }
    return [{ file: `sources/${source.id}.json`, dashboard: board.build() }];
  });
}
