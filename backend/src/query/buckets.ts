import { BUCKET_MS } from '../rollups/buckets.js';

export const HOUR_MS = BUCKET_MS.hour;
export const DAY_MS = BUCKET_MS.day;

/**
 * The bucket of a whole-range answer (tables, KPIs). Wider than any epoch, so
 * every time of any range falls into the one bucket that starts at 0: a
 * source following the adapter contract (buckets aligned down to a multiple
 * of bucketMs) answers one point per series without knowing about tables.
 */
export const WHOLE_RANGE_MS = 2 ** 52;

/** Longest `rolling` range: raw events are read row by row, so longer ranges belong to the rollups. */
export const ROLLING_MAX_MS = DAY_MS;

export const alignDown = (ms: number, size: number): number => Math.floor(ms / size) * size;

/**
 * How far back the previous period of a time series lies (`compareToPrevious`):
 * whole buckets, so its points line up with the current ones; a rolling
 * window by its length.
 */
export function previousShiftMs(from: number, to: number, bucketMs: number, rolling: boolean): number {
  const span = to - from;
  return rolling ? span : Math.ceil(span / bucketMs) * bucketMs;
}

/** Start times of the buckets that touch [from, to), ascending. */
export function bucketTimes(from: number, to: number, bucketMs: number): number[] {
  const times: number[] = [];
  for (let t = alignDown(from, bucketMs); t < to; t += bucketMs) times.push(t);
  return times;
}

/**
 * Bucket width for a time series: whole hours when Grafana asks for an
 * interval under a day (hourly rollups), whole days otherwise (daily rollups),
 * at least the asked interval, and widened until the range holds no more than
 * `maxDataPoints` buckets.
 */
export function chooseBucketMs(from: number, to: number, intervalMs: number, maxDataPoints: number): number {
  const base = intervalMs < DAY_MS ? HOUR_MS : DAY_MS;
  const points = (size: number) => Math.floor((to - 1) / size) - Math.floor(from / size) + 1;
  // Aligned buckets can add one at the edge, hence maxDataPoints - 1 in the estimate.
  const floor = Math.ceil((to - from) / (Math.max(maxDataPoints - 1, 1) * base));
  let multiple = Math.max(1, Math.ceil(intervalMs / base), floor);
  while (points(multiple * base) > maxDataPoints) multiple += 1;
  return multiple * base;
}
