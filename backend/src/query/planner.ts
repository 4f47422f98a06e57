import type { BandField } from './band-fields.js';
import type { Catalog } from '../catalog/load.js';
import { suggestMetric } from '../catalog/load.js';
import type { Aggregation, CatalogMetric } from '../catalog/schema.js';
import type { Filter } from '../sources/types.js';
import { chooseBucketMs, DAY_MS, ROLLING_MAX_MS, WHOLE_RANGE_MS } from './buckets.js';
import { LIMIT_MAX, LIST_DEFAULT_LIMIT, ORDER_DIRECTIONS, type Format, type OrderBy, type QueryInput } from './schema.js';

/** One query checked against the catalog and ready to run. */
export interface Plan {
  refId: string;
  metric: CatalogMetric;
  source: string;
  aggregation: Aggregation;
  groupBy: string[];
  filters: Filter[];
  format: Format;
  compareToPrevious: boolean;
  /** Rule id whose band (expected, lower, upper, score) goes next to each series. */
  band?: string;
  /** Only this band column instead of the series (for alert rules). */
  bandField?: BandField;
  /** Exactly [from, to) from raw events, one bucket for the whole range (the `rolling` option). */
  rolling?: boolean;
  /** Half-open range [from, to). */
  from: Date;
  to: Date;
  /** Time-series bucket width, or WHOLE_RANGE_MS for tables, KPIs and lists. */
  bucketMs: number;
  /** Tables only: rows sorted by this, then cut to `limit` (top-N). */
  orderBy?: OrderBy | undefined;
  limit?: number | undefined;
  /** format 'list': how many events and which attributes as columns. */
  list?: { limit: number; columns: string[] };
  /** Shared by the plans of one request, whose source questions may then be read together (SourceQuery.batch); never keyed. */
  batch?: object;
}

/** Why one query cannot run: reported in its own result, never failing the request. */
export interface PlanError {
  refId: string;
  status: number;
  error: string;
}

export interface PlanContext {
  catalog: Catalog;
  from: Date;
  to: Date;
  intervalMs?: number | undefined;
  maxDataPoints: number;
  maxRangeDays: number;
}

const list = (values: string[]) => values.join(', ') || 'none';

function undeclared(metric: CatalogMetric, dimension: string): string | undefined {
  if (metric.dimensions.includes(dimension)) return undefined;
  return `dimension '${dimension}' is not declared on metric '${metric.key}' (declared: ${list(metric.dimensions)})`;
}

/** Validates one query against the catalog and the request's range, and chooses its buckets. */
export function planQuery(query: QueryInput, context: PlanContext): Plan | PlanError {
  const fail = (error: string, status = 400): PlanError => ({ refId: query.refId, status, error });
  const { catalog, from, to } = context;
  if (query.live) return fail('live queries stream from GET /api/v1/live; turn off live mode to query a time range');

  const metric = catalog.metric(query.metric);
  if (!metric) return fail(`metric '${query.metric}' is not in the catalog${suggestMetric(catalog, query.metric)}`);
  if (query.source !== undefined && query.source !== metric.source) {
    return fail(`metric '${metric.key}' belongs to source '${metric.source}', not '${query.source}'`);
  }

  const aggregation = (query.aggregation ?? metric.defaultAggregation) as Aggregation;
  let listing: Plan['list'];
  if (query.format === 'list') {
    const checked = listOptions(query, metric, catalog);
    if (typeof checked === 'string') return fail(checked);
    listing = checked;
  } else if (query.columns !== undefined) {
    return fail(`columns apply to format 'list' only (this query's format is '${query.format}')`);
  } else if (!metric.aggregations.includes(aggregation)) {
    return fail(`aggregation '${query.aggregation}' is not allowed for metric '${metric.key}' (allowed: ${list(metric.aggregations)})`);
  }
  for (const dimension of [...query.groupBy, ...query.filters.map((filter) => filter.dimension)]) {
    const problem = undeclared(metric, dimension);
    if (problem) return fail(problem);
  }

  if (from.getTime() > to.getTime()) return fail(`from (${from.toISOString()}) is after to (${to.toISOString()})`);
  if (from.getTime() === to.getTime()) return fail('the time range is empty: from equals to');
  const rangeDays = (to.getTime() - from.getTime()) / DAY_MS;
  if (rangeDays > context.maxRangeDays) {
    return fail(`the time range spans ${Math.ceil(rangeDays)} days; the limit is ${context.maxRangeDays} days (QUERY_MAX_RANGE_DAYS)`);
  }

  if (query.rolling) {
    const problem = rollingProblem(query, metric, catalog, to.getTime() - from.getTime());
    if (problem) return fail(problem);
  }

  const groupBy = [...new Set(query.groupBy)];
  // A list's limit is its own (checked above); top-N is for tables.
  const top = query.format === 'list' ? {} : topN(query, groupBy);
  if (typeof top === 'string') return fail(top);

  const intervalMs = context.intervalMs ?? (to.getTime() - from.getTime()) / context.maxDataPoints;
  return {
    ...top,
    refId: query.refId,
    metric,
    source: metric.source,
    aggregation,
    groupBy,
    filters: query.filters,
    format: query.format,
    compareToPrevious: query.compareToPrevious,
    ...(query.band && { band: query.band }),
    ...(query.bandField && { bandField: query.bandField }),
    from,
    to,
    ...(query.rolling && { rolling: true }),
    bucketMs: query.format === 'timeseries' && !query.rolling ? chooseBucketMs(from.getTime(), to.getTime(), intervalMs, context.maxDataPoints) : WHOLE_RANGE_MS,
    ...(listing && { list: listing }),
  };
}

/** Why a query cannot have a rolling window (the source's own limits are its adapter's to check). */
function rollingProblem(query: QueryInput, metric: CatalogMetric, catalog: Catalog, spanMs: number): string | undefined {
  if (query.format !== 'timeseries' && query.format !== 'table') return `rolling: applies to formats timeseries and table, not '${query.format}'`;
  if (catalog.source(metric.source)?.type !== 'events') return `rolling: reads raw events, which only an events source keeps; '${metric.key}' comes from '${metric.source}'`;
  if (metric.level) return `rolling: metric '${metric.key}' is a level (a running total); it has no rolling window`;
  if (spanMs > ROLLING_MAX_MS) return `rolling: the range spans ${Math.ceil(spanMs / 60_000)} minutes; a rolling window is at most ${ROLLING_MAX_MS / 60_000} minutes (24 h), longer ranges read the hourly buckets`;
  return undefined;
}

/** Checks a table query's top-N: `orderBy` by value or a group-by dimension, `limit` 1..1000. */
function topN(query: QueryInput, groupBy: string[]): { orderBy?: OrderBy | undefined; limit?: number | undefined } | string {
  if (query.orderBy === undefined && query.limit === undefined) return {};
  if (query.format !== 'table') return `${query.orderBy !== undefined ? 'orderBy' : 'limit'}: applies to table queries only (format 'table'), not '${query.format}'`;
  let orderBy: OrderBy | undefined;
  if (query.orderBy !== undefined) {
    const raw = query.orderBy as Record<string, unknown> | null;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'orderBy: must be an object { by, direction }';
    const allowed = ['value', ...groupBy];
    if (typeof raw.by !== 'string' || !allowed.includes(raw.by)) {
      return `orderBy.by: ${typeof raw.by === 'string' ? `'${raw.by}'` : 'a string'} must be 'value' or one of the query's groupBy dimensions (${list(groupBy)})`;
    }
    if (!ORDER_DIRECTIONS.includes(raw.direction as OrderBy['direction'])) return `orderBy.direction: must be 'asc' or 'desc'`;
    orderBy = { by: raw.by, direction: raw.direction as OrderBy['direction'] };
  }
  if (query.limit !== undefined && !isLimit(query.limit)) {
    return `limit: must be a whole number from 1 to ${LIMIT_MAX}`;
  }
  return { orderBy, limit: query.limit as number | undefined };
}

function isLimit(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= LIMIT_MAX;
}

/**
 * A list shows the raw events a metric counts, so the metric must be one of
 * an events source and count events itself (a ratio has two sets: list its
 * numerator or denominator). Columns default to the catalog's `list` for the
 * metric, else its dimensions.
 */
function listOptions(query: QueryInput, metric: CatalogMetric, catalog: Catalog): { limit: number; columns: string[] } | string {
  if (catalog.source(metric.source)?.type !== 'events') return `format 'list' needs a metric of an events source; '${metric.key}' comes from '${metric.source}'`;
  if (metric.kind === 'ratio') return `format 'list' lists events; '${metric.key}' is a ratio, so list '${metric.numerator}' or '${metric.denominator}' instead`;
  if (query.groupBy.length > 0) return `groupBy does not apply to format 'list' (each row is one event); add the dimensions to columns instead`;
  const defaults = (metric.query as { list?: string[] } | undefined)?.list ?? metric.dimensions;
  if (query.limit !== undefined && !isLimit(query.limit)) return `limit: must be a whole number from 1 to ${LIMIT_MAX}`;
  return { limit: (query.limit as number | undefined) ?? LIST_DEFAULT_LIMIT, columns: query.columns ?? defaults };
}

export function isPlanError(plan: Plan | PlanError): plan is PlanError {
  return 'error' in plan;
}
