import { bucketStart, type Granularity } from '../rollups/buckets.js';
import { binKey, type SketchBins } from '../rollups/sketch.js';

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

const GRANULARITIES: Granularity[] = ['hour', 'day'];

function add(rows: Map<string, RollupDelta>, type: string, bucketMs: number, dims: string, value: number | null, bin: string | undefined): void {
  const key = `${type}\u0000${bucketMs}\u0000${dims}`;
  let row = rows.get(key);
  if (!row) {
    row = { type, bucketMs, dims, count: 0, sum: 0, min: null, max: null, sketch: null };
    rows.set(key, row);
  }
  row.count += 1;
  if (value !== null && bin !== undefined) {
    row.sum += value;
    row.min = row.min === null ? value : Math.min(row.min, value);
    row.max = row.max === null ? value : Math.max(row.max, value);
    row.sketch ??= {};
    row.sketch[bin] = (row.sketch[bin] ?? 0) + 1;
  }
}

/**
 * Folds the batch's counted events into one increment per rollup row, hourly
 * and daily in one pass, so the database applies one upsert per row instead
 * of one per event. Rows come out sorted by key: concurrent batches then lock
 * shared rows in the same order and cannot deadlock.
 */
export function aggregate(contributions: Contribution[]): Record<Granularity, RollupDelta[]> {
  const rows: Record<Granularity, Map<string, RollupDelta>> = { hour: new Map(), day: new Map() };
  for (const { type, occurredAtMs, value, dims } of contributions) {
    const dimsJson = JSON.stringify(dims);
    const bin = value === null ? undefined : binKey(value);
    for (const granularity of GRANULARITIES) add(rows[granularity], type, bucketStart(occurredAtMs, granularity), dimsJson, value, bin);
  }
  return { hour: [...rows.hour.values()].sort(compareRows), day: [...rows.day.values()].sort(compareRows) };
}

function compareRows(a: RollupDelta, b: RollupDelta): number {
  if (a.type !== b.type) return a.type < b.type ? -1 : 1;
  if (a.bucketMs !== b.bucketMs) return a.bucketMs - b.bucketMs;
  return a.dims < b.dims ? -1 : a.dims > b.dims ? 1 : 0;
}
