/**
 * A metric as the rollups hold it: one bucket per step with count, sum, the raw values when the
 * metric is a distribution, and for ratios the numerator and denominator sums. The benchmark
 * aggregates these over a rule's window exactly as the query service would over rollups.
 */
import type { Aggregation } from '../../../backend/src/catalog/schema.js';

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

export type Shape = 'spike' | 'drop' | 'level shift' | 'slow drift';

/** A labelled incident in time: a detection of a bucket that starts in [start, end) catches it. */
export interface Incident {
  shape: Shape;
  start: number;
  end: number;
}

export interface Bucket {
  time: number;
  count: number;
  sum: number;
  /** Raw values, for percentiles of distribution metrics. */
  values?: number[];
  numerator?: number;
  denominator?: number;
}

/** One series of one catalog metric (one group of a rule's group-by), with its incidents. */
export interface MetricSeries {
  metric: string;
  name: string;
  stepMs: number;
  buckets: Bucket[];
  incidents: Incident[];
}

export function emptyBucket(time: number): Bucket {
  return { time, count: 0, sum: 0 };
}

/** Adds one fact (an event, a module row) to a bucket. */
export function addFact(bucket: Bucket, value: number, keepValues: boolean): void {
  bucket.count += 1;
  bucket.sum += value;
  if (keepValues) (bucket.values ??= []).push(value);
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (pos - lo) * (sorted[hi]! - sorted[lo]!);
}

/** The metric over some buckets under an aggregation; null when there is nothing to aggregate. */
export function aggregate(buckets: readonly Bucket[], aggregation: Aggregation): number | null {
  let count = 0;
  let sum = 0;
  let numerator = 0;
  let denominator = 0;
  for (const b of buckets) {
    count += b.count;
    sum += b.sum;
    numerator += b.numerator ?? 0;
    denominator += b.denominator ?? 0;
  }
  switch (aggregation) {
    case 'sum':
      return sum;
    case 'count':
      return count;
    case 'avg':
      return count > 0 ? sum / count : null;
    case 'rate':
      return denominator > 0 ? numerator / denominator : null;
    default: {
      const values = buckets.flatMap((b) => b.values ?? []).sort((a, b) => a - b);
      if (values.length === 0) return null;
      if (aggregation === 'min') return values[0]!;
      if (aggregation === 'max') return values[values.length - 1]!;
      return quantile(values, Number(aggregation.slice(1)) / 100);
    }
  }
}

/** Merges consecutive buckets into buckets of `stepMs` (hours into days), aligned to the epoch. */
export function resample(series: MetricSeries, stepMs: number): MetricSeries {
  if (stepMs === series.stepMs) return series;
  const merged = new Map<number, Bucket>();
  for (const b of series.buckets) {
    const time = Math.floor(b.time / stepMs) * stepMs;
    const into = merged.get(time) ?? emptyBucket(time);
    merged.set(time, into);
    into.count += b.count;
    into.sum += b.sum;
    if (b.values) (into.values ??= []).push(...b.values);
    if (b.numerator !== undefined) into.numerator = (into.numerator ?? 0) + b.numerator;
    if (b.denominator !== undefined) into.denominator = (into.denominator ?? 0) + b.denominator;
  }
  return { ...series, stepMs, buckets: [...merged.values()].sort((a, b) => a.time - b.time) };
}
