import type { Filter, Series, SourceQuery } from './types.js';

/**
 * Client-side bucketing for sources that return raw points (JSON APIs, SaaS
 * records): keeps points in [from, to) that pass the filters, groups them by
 * the group-by labels and bucket start, and aggregates each group the way the
 * SQL adapters do (percentiles by linear interpolation, as percentile_cont).
 */
export interface Point {
  time: number;
  value: number | null;
  labels: Record<string, string>;
}

export function bucketStart(time: number, bucketMs: number): number {
  return Math.floor(time / bucketMs) * bucketMs;
}

export function matchesFilters(labels: Record<string, string>, filters: Filter[]): boolean {
  return filters.every((filter) => {
    const actual = labels[filter.dimension];
    const wanted = Array.isArray(filter.value) ? filter.value : [filter.value];
    const hit = actual !== undefined && wanted.includes(actual);
    return filter.op === 'eq' || filter.op === 'in' ? hit : !hit;
  });
}

export function aggregate(values: number[], aggregation: SourceQuery['aggregation']): number | null {
  if (aggregation === 'count') return values.length;
  if (aggregation === 'distinct') return new Set(values).size;
  if (values.length === 0) return null;
  switch (aggregation) {
    case 'sum':
      return values.reduce((total, value) => total + value, 0);
    case 'avg':
      return values.reduce((total, value) => total + value, 0) / values.length;
    case 'min':
      return Math.min(...values);
    case 'max':
      return Math.max(...values);
    default:
      return percentile(values, PERCENTILES[aggregation]);
  }
}

export const PERCENTILES = { p50: 0.5, p90: 0.9, p95: 0.95, p99: 0.99 } as const;

/** Same definition as PostgreSQL's percentile_cont: linear interpolation between closest ranks. */
export function percentile(values: number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const position = fraction * (sorted.length - 1);
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  return sorted[lower]! + (sorted[upper]! - sorted[lower]!) * (position - lower);
}

export function pointsToSeries(points: Iterable<Point>, query: SourceQuery): Series[] {
  const from = query.from.getTime();
  const to = query.to.getTime();
  const groups = new Map<string, { labels: Record<string, string>; buckets: Map<number, number[]> }>();
  for (const point of points) {
    if (!(point.time >= from && point.time < to) || !matchesFilters(point.labels, query.filters)) continue;
    const labels = Object.fromEntries(query.groupBy.map((dimension) => [dimension, point.labels[dimension] ?? '']));
    const key = JSON.stringify(labels);
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { labels, buckets: new Map() }));
    const bucket = bucketStart(point.time, query.bucketMs);
    let values = group.buckets.get(bucket);
    if (!values) group.buckets.set(bucket, (values = []));
    // A point without a value still counts for `count` (e.g. one record = one deal).
    if (point.value !== null) values.push(point.value);
    else if (query.aggregation === 'count') values.push(0);
  }
  return [...groups.values()].map(({ labels, buckets }) => {
    const times = [...buckets.keys()].sort((a, b) => a - b);
    return { labels, times, values: times.map((time) => aggregate(buckets.get(time)!, query.aggregation)) };
  });
}

/** Reads a time from an API: epoch ms or s numbers, ISO strings, or date-only strings (UTC). */
export function parseTime(raw: unknown, format: 'auto' | 'iso' | 'epoch_ms' | 'epoch_s' = 'auto'): number | undefined {
  if (raw instanceof Date) return raw.getTime();
  // GA4 exports and many reporting APIs write days as YYYYMMDD.
  const day = typeof raw === 'string' ? /^(\d{4})(\d{2})(\d{2})$/.exec(raw) : null;
  if (day && format === 'auto') return Date.UTC(Number(day[1]), Number(day[2]) - 1, Number(day[3]));
  if (typeof raw === 'number' || (typeof raw === 'string' && /^\d+(\.\d+)?$/.test(raw) && format !== 'iso')) {
    const number = Number(raw);
    if (format === 'epoch_s') return number * 1000;
    if (format === 'epoch_ms') return number;
    // Ten-digit numbers are seconds until the year 2286; larger ones are milliseconds.
    return number < 1e11 ? number * 1000 : number;
  }
  if (typeof raw === 'string') {
    const time = Date.parse(raw);
    return Number.isNaN(time) ? undefined : time;
  }
  return undefined;
}

export function parseValue(raw: unknown): number | null {
  if (raw === null || raw === undefined || raw === '') return null;
  const number = typeof raw === 'number' ? raw : Number(raw);
  return Number.isFinite(number) ? number : null;
}
