import type { Catalog } from './load.js';
import type { CatalogMetric } from './schema.js';

/** A source's headline by default: its first counter, else its first metric that is not a ratio. */
export function headlineMetric(metrics: CatalogMetric[]): CatalogMetric | undefined {
  return metrics.find((metric) => metric.kind === 'counter') ?? metrics.find((metric) => metric.kind !== 'ratio');
}

/**
 * The metric that stands for a source in "All sources": the source's own
 * `headline` in the catalog, else the default pick among its metrics.
 */
export function sourceHeadline(catalog: Pick<Catalog, 'source' | 'metric' | 'metrics'>, sourceId: string): CatalogMetric | undefined {
  const declared = catalog.source(sourceId)?.headline;
  if (typeof declared === 'string') return catalog.metric(declared);
  return headlineMetric(catalog.metrics.filter((metric) => metric.source === sourceId));
}
