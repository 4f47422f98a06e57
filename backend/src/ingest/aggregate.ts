import { bucketStart, type Granularity } from '../rollups/buckets.js';
import { addToBins, type SketchBins } from '../rollups/sketch.js';

/** What one counted event adds to the rollups of `type`. */
export interface Contribution {
  type: string;
  occurredAtMs: number;
  value: number | null;
  dims: Record<string, string>;
}

/** The increment for one rollup row: (type, bucket, dims). */
export interface RollupDelta {
  type: string;
  bucketMs: number;
  /** JSON of the dims, keys in a fixed order so equal sets give equal strings. */
  dims: string;
  count: number;
  sum: number;
  min: number | null;
  max: number | null;
  sketch: SketchBins | null;
}

/**
 * Folds the batch's counted events into one increment per rollup row, so the
 * database applies one upsert per row instead of one per event. Rows come out
 * sorted by key: concurrent batches then lock shared rows in the same order
 * and cannot deadlock.
 */
export function aggregate(contributions: Contribution[], granularity: Granularity): RollupDelta[] {
  const rows = new Map<string, RollupDelta>();
  for (const { type, occurredAtMs, value, dims } of contributions) {
    const bucketMs = bucketStart(occurredAtMs, granularity);
    const dimsJson = JSON.stringify(dims);
    const key = `${type}\u0000${bucketMs}\u0000${dimsJson}`;
    let row = rows.get(key);
    if (!row) {
      row = { type, bucketMs, dims: dimsJson, count: 0, sum: 0, min: null, max: null, sketch: null };
      rows.set(key, row);
    }
    row.count += 1;
    if (value !== null) {
      row.sum += value;
      row.min = row.min === null ? value : Math.min(row.min, value);
      row.max = row.max === null ? value : Math.max(row.max, value);
      row.sketch = addToBins(row.sketch ?? {}, value);
    }
  }
  return [...rows.values()].sort(compareRows);
}

function compareRows(a: RollupDelta, b: RollupDelta): number {
  if (a.type !== b.type) return a.type < b.type ? -1 : 1;
  if (a.bucketMs !== b.bucketMs) return a.bucketMs - b.bucketMs;
  return a.dims < b.dims ? -1 : a.dims > b.dims ? 1 : 0;
}
