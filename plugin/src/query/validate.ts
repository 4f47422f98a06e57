import {
  CatalogMetric,
  Catalog,
  FILTER_OPS,
  FORMATS,
  LIMIT_MAX,
  LIMIT_MIN,
  MetricsHubQuery,
  ORDER_DIRECTIONS,
  QueryFilter,
} from '../types';
import { hasTemplateVariable } from './templateSyntax';

const FORMAT_LABELS = 'time series, table, KPI or list';

/**
 * Reasons a query cannot run as written, in the order a user would fix them.
 * Needs no catalog, so Grafana can call it through filterQuery before every run.
 * A missing source, aggregation or format is no reason: the backend takes the
 * metric's source and default aggregation, and the format defaults to time series.
 */
export function queryProblems(query: MetricsHubQuery): string[] {
  const problems: string[] = [];
  if (!query.metric?.trim()) {
    problems.push('Choose a metric.');
  }
  if (query.format !== undefined && !(FORMATS as readonly string[]).includes(query.format)) {
    problems.push(`Choose a format: ${FORMAT_LABELS}.`);
  }
  (query.filters ?? []).forEach((filter, index) => problems.push(...filterProblems(filter, index)));
  if (query.limit !== undefined && !(Number.isInteger(query.limit) && query.limit >= LIMIT_MIN && query.limit <= LIMIT_MAX)) {
    problems.push(`Limit must be a whole number from ${LIMIT_MIN} to ${LIMIT_MAX}.`);
  }
  if (query.orderBy && query.format === 'table') {
    problems.push(...orderByProblems(query));
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

function orderByProblems({ orderBy, groupBy = [] }: MetricsHubQuery): string[] {
  if (!orderBy) {
    return [];
  }
  const problems: string[] = [];
  if (orderBy.by !== 'value' && !groupBy.includes(orderBy.by)) {
    problems.push(`Order by '${orderBy.by}': choose the value or one of the group-by dimensions (${groupBy.join(', ') || 'none'}).`);
  }
  if (!(ORDER_DIRECTIONS as readonly string[]).includes(orderBy.direction)) {
    problems.push(`Order direction must be ${ORDER_DIRECTIONS.join(' or ')}.`);
  }
  return problems;
}

/**
 * Reasons a structurally complete query does not fit the catalog: such a query
 * still runs, and the backend answers with the same reason. Fields holding
 * template variables are checked once Grafana has interpolated them, not here.
 */
export function catalogProblems(query: MetricsHubQuery, catalog: Catalog): string[] {
  const { source, metric: key } = query;
  const problems: string[] = [];
  if (source && !hasTemplateVariable(source) && !catalog.sources.some((s) => s.id === source)) {
    problems.push(`Source '${source}' is not in the catalog; available: ${catalog.sources.map((s) => s.id).join(', ')}.`);
  }
  if (!key || hasTemplateVariable(key)) {
    return problems;
  }
  const metric = catalog.metrics.find((m) => m.key === key);
  if (!metric) {
    const suggestion = suggestMetric(key, catalog.metrics);
    return [...problems, `Metric '${key}' is not in the catalog${suggestion ? `; did you mean '${suggestion.key}' (${suggestion.label})?` : '.'}`];
  }
  if (source && !hasTemplateVariable(source) && metric.source !== source && catalog.sources.some((s) => s.id === source)) {
    problems.push(`Metric ${metric.label} comes from source '${metric.source}', not '${source}'.`);
  }
  return [...problems, ...aggregationProblems(query, metric), ...dimensionProblems(query, metric)];
}

function aggregationProblems(query: MetricsHubQuery, metric: CatalogMetric): string[] {
  const aggregation = query.aggregation;
  if (query.live || query.format === 'list' || !aggregation || hasTemplateVariable(aggregation) || metric.aggregations.includes(aggregation)) {
    return [];
  }
  return [`${metric.label} allows ${metric.aggregations.join(', ')}; not ${aggregation}.`];
}

function dimensionProblems(query: MetricsHubQuery, metric: CatalogMetric): string[] {
  // List columns are any event attributes (the editor offers the metric's dimensions and list columns), so only
  // group-by and filter dimensions are checked against the catalog.
  const used = [...(query.groupBy ?? []), ...(query.filters ?? []).map((f) => f.dimension)];
  return [...new Set(used)]
    .filter((d) => d && !hasTemplateVariable(d) && !metric.dimensions.includes(d))
    .map((d) => `'${d}' is not a dimension of ${metric.label}; use one of: ${metric.dimensions.join(', ') || 'none'}.`);
}

const normalize = (text: string) => text.toLowerCase().replace(/[^a-z0-9]/g, '');

/**
 * The catalog metric a mistyped key most likely meant: one whose key or label
 * contains the typed text (or the reverse), else the nearest key by edit distance.
 */
export function suggestMetric(typed: string, metrics: CatalogMetric[]): CatalogMetric | undefined {
  const wanted = normalize(typed);
  if (!wanted) {
    return undefined;
  }
  const containing = metrics.filter((m) =>
    [m.key, m.label].map(normalize).some((name) => name.includes(wanted) || wanted.includes(name))
  );
  return nearest(wanted, containing, Infinity) ?? nearest(wanted, metrics, Math.max(3, Math.floor(wanted.length / 3)));
}

function nearest(wanted: string, metrics: CatalogMetric[], maxDistance: number): CatalogMetric | undefined {
  let best: { metric?: CatalogMetric; distance: number } = { distance: maxDistance + 1 };
  for (const metric of metrics) {
    const distance = editDistance(wanted, normalize(metric.key));
    if (distance < best.distance) {
      best = { metric, distance };
    }
  }
  return best.metric;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}
