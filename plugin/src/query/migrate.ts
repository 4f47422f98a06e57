import { FILTER_OPS, FilterOp, FORMATS, MetricsHubQuery, QueryFilter } from '../types';

/**
 * The version of the query model this plugin writes. Saved queries carry it in
 * `version`; a query without it was saved before versioning (version 1).
 *
 * Version 2: `groupBy` is a list, filter values are a list for in/not_in and a
 * string for eq/neq, `format` is always set.
 */
export const QUERY_MODEL_VERSION = 2;

/**
 * Brings a saved query to the current model. Pure, idempotent, and safe on
 * anything a dashboard JSON may hold: the data source runs it before every use
 * and the query editor runs it when it opens a query, so both see one shape.
 * Annotation queries have their own small model and pass through unchanged.
 */
export function migrateQuery<Q extends MetricsHubQuery>(query: Q): Q {
  if (query.queryType === 'annotations' || (query.version ?? 1) >= QUERY_MODEL_VERSION) {
    return query;
  }
  const legacy = query as Q & { groupBy?: unknown; filters?: unknown };
  return {
    ...query,
    groupBy: toList(legacy.groupBy),
    filters: Array.isArray(legacy.filters) ? legacy.filters.flatMap(migrateFilter) : [],
    format: FORMATS.includes(query.format as (typeof FORMATS)[number]) ? query.format : 'timeseries',
    version: QUERY_MODEL_VERSION,
  };
}

// Version 1 editors stored comma-separated text where lists belong.
function toList(value: unknown): string[] {
  if (Array.isArray(value)) {
    return value.filter((v): v is string => typeof v === 'string');
  }
  if (typeof value === 'string') {
    return value
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean);
  }
  return [];
}

function migrateFilter(filter: unknown): QueryFilter[] {
  if (!filter || typeof filter !== 'object') {
    return [];
  }
  const { dimension, op, value } = filter as { dimension?: unknown; op?: unknown; value?: unknown };
  if (typeof dimension !== 'string' || !FILTER_OPS.includes(op as FilterOp)) {
    // Kept as it is: the editor's problems list names what is wrong with it.
    return [filter as QueryFilter];
  }
  const values = toList(value);
  if (op === 'in' || op === 'not_in') {
    return [{ dimension, op, value: values }];
  }
  // A one-element list under eq/neq is what the version 1 editor wrote for a single value.
  return [{ dimension, op: op as FilterOp, value: Array.isArray(value) && values.length === 1 ? values[0] : (value as string) }];
}
