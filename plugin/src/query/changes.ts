import { Catalog, MetricsHubQuery } from '../types';
import { hasTemplateVariable } from './templateSyntax';

/**
 * Picking another source keeps the metric when it belongs to that source, and
 * otherwise moves to the source's first metric so the panel still shows data.
 */
export function withSource(query: MetricsHubQuery, source: string, catalog?: Catalog): MetricsHubQuery {
  const next = { ...query, source };
  if (!catalog || hasTemplateVariable(source)) {
    return next;
  }
  const current = catalog.metrics.find((m) => m.key === query.metric);
  if (current?.source === source || (query.metric && hasTemplateVariable(query.metric))) {
    return next;
  }
  const first = catalog.metrics.find((m) => m.source === source);
  return first ? withMetric(next, first.key, catalog) : { ...next, metric: undefined };
}

/**
 * Picking another metric moves to its default aggregation (an aggregation that is
 * merely allowed, such as a sum of milliseconds, is rarely what the new metric
 * means) unless the aggregation is a template variable, and keeps the group-by,
 * filters, columns and ordering the metric's dimensions still allow.
 */
export function withMetric(query: MetricsHubQuery, key: string, catalog?: Catalog): MetricsHubQuery {
  const metric = catalog?.metrics.find((m) => m.key === key);
  if (!metric) {
    return { ...query, metric: key };
  }
  const fits = (value: string) => hasTemplateVariable(value) || metric.dimensions.includes(value);
  const aggregation = query.aggregation ?? '';
  const next: MetricsHubQuery = {
    ...query,
    source: metric.source,
    metric: metric.key,
    aggregation: hasTemplateVariable(aggregation) ? aggregation : metric.defaultAggregation,
    filters: (query.filters ?? []).filter((f) => !f.dimension || fits(f.dimension)),
  };
  if (query.columns) {
    next.columns = query.columns.filter(fits);
  }
  return withGroupBy(next, (query.groupBy ?? []).filter(fits));
}

/**
 * Once the catalog is known, a query still on the built-in default whose metric
 * this installation lacks moves to a metric that exists, and a missing
 * aggregation becomes the metric's default. Returns undefined when nothing changes.
 */
export function completeFromCatalog(query: MetricsHubQuery, catalog: Catalog, defaultMetric?: string): MetricsHubQuery | undefined {
  const metric = catalog.metrics.find((m) => m.key === query.metric);
  if (!metric && (!query.metric || query.metric === defaultMetric)) {
    const first = catalog.metrics[0];
    return first ? withMetric({ ...query, aggregation: undefined }, first.key, catalog) : undefined;
  }
  if (metric && !query.aggregation) {
    return { ...query, aggregation: metric.defaultAggregation };
  }
  return undefined;
}

/** A table ordered by a dimension no longer grouped by falls back to ordering by the value. */
export function withGroupBy(query: MetricsHubQuery, groupBy: string[]): MetricsHubQuery {
  const next = { ...query, groupBy };
  if (query.orderBy && query.orderBy.by !== 'value' && !groupBy.includes(query.orderBy.by)) {
    next.orderBy = { ...query.orderBy, by: 'value' };
  }
  return next;
}
