import { BUCKET_MS } from '../../rollups/buckets.js';
import type { Series, SourceQuery } from '../types.js';

/**
 * Levels ("conversations open now", "bot conversations active now") are kept
 * as +1/-1 deltas in the rollups (ingest/derived). The level at a time is the
 * sum of every delta before it, so a bucket's value is the level at its end:
 * the deltas of the whole history before the range (one daily-then-hourly
 * sum per group), plus the running sum of the range's own buckets.
 */

const HOUR = BUCKET_MS.hour;
const DAY = BUCKET_MS.day;
const alignDown = (ms: number, size: number) => Math.floor(ms / size) * size;

const groupKey = (groupBy: string[], labels: Record<string, string>) => JSON.stringify(groupBy.map((name) => labels[name] ?? ''));

/** Where the rollup rows read for the range's buckets begin (the events adapter's slicing). */
function firstRollupRow(from: number, bucketMs: number): number {
  return bucketMs % DAY === 0 ? alignDown(from, DAY) : alignDown(from, HOUR);
}

export async function levelSeries(query: SourceQuery, run: (query: SourceQuery) => Promise<Series[]>): Promise<Series[]> {
  const { bucketMs, groupBy } = query;
  const start = alignDown(query.from.getTime(), bucketMs);
  const rangeQuery = { ...query, from: new Date(start) };
  const before = firstRollupRow(start, bucketMs);
  const [inRange, baseline] = await Promise.all([
    run(rangeQuery),
    // One whole-history bucket: daily rows up to the last whole day, hourly rows after it.
    before > 0 ? run({ ...query, from: new Date(0), to: new Date(before), bucketMs: 2 ** 52 }) : Promise.resolve([]),
  ]);
  const times: number[] = [];
  for (let t = start; t < query.to.getTime(); t += bucketMs) times.push(t);

  const groups = new Map<string, { labels: Record<string, string>; base: number; deltas: Map<number, number> }>();
  const entry = (labels: Record<string, string>) => {
    const key = groupKey(groupBy, labels);
    let found = groups.get(key);
    if (!found) groups.set(key, (found = { labels, base: 0, deltas: new Map() }));
    return found;
  };
  for (const one of baseline) entry(one.labels).base += one.values.reduce<number>((sum, value) => sum + (value ?? 0), 0);
  for (const one of inRange) {
    const found = entry(one.labels);
    one.times.forEach((time, index) => found.deltas.set(time, (found.deltas.get(time) ?? 0) + (one.values[index] ?? 0)));
  }
  const series: Series[] = [];
  for (const { labels, base, deltas } of groups.values()) {
    let level = base;
    const values = times.map((time) => (level += deltas.get(time) ?? 0));
    // A group that is empty throughout (every conversation it had is closed) is not a series.
    if (values.some((value) => value !== 0)) series.push({ labels, times, values });
  }
  return series;
}
