import { CatalogMetric, Catalog, FILTER_OPS, FORMATS, MetricsHubQuery, QueryFilter } from '../types';
import { hasTemplateVariable } from './templateSyntax';

const FORMAT_LABELS = 'time series, table or KPI';

/**
 * Reasons a query cannot run as written, in the order a user would fix them.
 * Needs no catalog, so Grafana can call it through filterQuery before every run.
 */
export function queryProblems(query: MetricsHubQuery): string[] {
  const problems: string[] = [];
  if (!query.source?.trim()) {
    problems.push('Choose a source.');
  }
  if (!query.metric?.trim()) {
    problems.push('Choose a metric.');
  }
  if (!query.live && !query.aggregation?.trim()) {
    problems.push('Choose an aggregation.');
  }
  if (!query.format || !(FORMATS as readonly string[]).includes(query.format)) {
    problems.push(`Choose a format: ${FORMAT_LABELS}.`);
  }
  (query.filters ?? []).forEach((filter, index) => problems.push(...filterProblems(filter, index)));
  if (query.live && query.compareToPrevious) {
    problems.push('Live mode streams current counters only; turn off "Compare to previous period".');
  }
  return problems;
}

function filterProblems(filter: QueryFilter, index: number): string[] {
  const name = `Filter ${index + 1}`;
  if (!filter.dimension?.trim()) {
    return [`${name}: choose a dimension.`];
  }
  if (!(FILTER_OPS as readonly string[]).includes(filter.op)) {
    return [`${name} on ${filter.dimension}: choose an operator (${FILTER_OPS.join(', ')}).`];
  }
  const values = Array.isArray(filter.value) ? filter.value : [filter.value];
  if (values.length === 0 || values.some((v) => typeof v !== 'string' || v.trim() === '')) {
    return [`${name} on ${filter.dimension}: enter a value.`];
  }
  return [];
}

/**
 * Reasons a structurally complete query does not fit the catalog. Fields holding
 * template variables are checked once Grafana has interpolated them, not here.
 */
export function catalogProblems(query: MetricsHubQuery, catalog: Catalog): string[] {
  const { source, metric: key } = query;
  if (source && !hasTemplateVariable(source) && !catalog.sources.some((s) => s.id === source)) {
    return [`Source '${source}' is not in the catalog; available: ${catalog.sources.map((s) => s.id).join(', ')}.`];
  }
  if (!key || hasTemplateVariable(key)) {
    return [];
  }
  const metric = catalog.metrics.find((m) => m.key === key);
  if (!metric) {
    return [`Metric '${key}' is not in the catalog.`];
  }
  if (source && !hasTemplateVariable(source) && metric.source !== source) {
    return [`Metric ${metric.label} comes from source '${metric.source}', not '${source}'.`];
  }
  return [...aggregationProblems(query, metric), ...dimensionProblems(query, metric)];
}

function aggregationProblems(query: MetricsHubQuery, metric: CatalogMetric): string[] {
  const aggregation = query.aggregation;
  if (query.live || !aggregation || hasTemplateVariable(aggregation) || metric.aggregations.includes(aggregation)) {
    return [];
  }
  return [`${metric.label} allows ${metric.aggregations.join(', ')}; not ${aggregation}.`];
}

function dimensionProblems(query: MetricsHubQuery, metric: CatalogMetric): string[] {
  const used = [...(query.groupBy ?? []), ...(query.filters ?? []).map((f) => f.dimension)];
  return used
    .filter((d) => d && !hasTemplateVariable(d) && !metric.dimensions.includes(d))
    .map((d) => `'${d}' is not a dimension of ${metric.label}; use one of: ${metric.dimensions.join(', ') || 'none'}.`);
}
