import { bucketStart, type Granularity } from '../../src/rollups/buckets.js';
import { entryOf, sparseEntries } from '../../src/rollups/distinct.js';
import { binKey, mergeBins, type SketchBins } from '../../src/rollups/sketch.js';

/**
 * aggregate() as it was before issue 20's step 21 made it faster (commit fe45af7), kept as the reference the
 * faster one is compared with (backend/test/ingest-aggregate.test.ts): same rows, same order, same sums.
 */

/** What one counted event adds to the rollups of `type`. */
export interface Contribution {
  type: string;
  occurredAtMs: number;
  value: number | null;
  dims: Record<string, string>;
  /** Values of the attributes sketched for `type`: attribute -> value (none for derived rollup types). */
  distinct?: Record<string, string>;
}

/** The increment for one rollup row: (type, bucket, dims). */
export interface RollupDelta {
  type: string;
  bucketMs: number;
  /** JSON of the dims, keys in a fixed order so equal sets give equal strings. */
  dims: string;
  /** The same dims as an object ({} in totals rows), read to sum the per-dimension rows. */
  dimensions: Record<string, string>;
  count: number;
  /** Events of the row that carried a value: the divisor of an average. */
  valueCount: number;
  sum: number;
  min: number | null;
  max: number | null;
  sketch: SketchBins | null;
  /** Sparse entries (unsorted, repeated) of the row's values of each sketched attribute; null when none. */
  distinct: Record<string, number[]> | null;
}

const GRANULARITIES: Granularity[] = ['hour', 'day'];
const NO_DIMENSIONS: Record<string, string> = Object.freeze({});

/**
 * The increment for one per-dimension totals row: (type, bucket, dimension,
 * value), summed over every other dimension of the events (migration 0160).
 */
export interface DimensionDelta extends Omit<RollupDelta, 'dims' | 'dimensions' | 'distinct'> {
  dimension: string;
  value: string;
}

function add(rows: Map<string, RollupDelta>, type: string, bucketMs: number, dims: string, dimensions: Record<string, string>, value: number | null, bin: string | undefined): RollupDelta {
  const key = `${type}\u0000${bucketMs}\u0000${dims}`;
  let row = rows.get(key);
  if (!row) {
    row = { type, bucketMs, dims, dimensions, count: 0, valueCount: 0, sum: 0, min: null, max: null, sketch: null, distinct: null };
    rows.set(key, row);
  }
  return count(row, value, bin);
}

/**
 * Adds a dimensioned row into the per-dimension row of each of its (dimension,
 * value) pairs. Summing the batch's rows rather than its events: a batch has
 * fewer rows than events, and fewer still per day.
 */
function addToDimensions(rows: Map<string, DimensionDelta>, shared: Set<DimensionDelta>, from: RollupDelta): void {
  const prefix = `${from.type}\u0000${from.bucketMs}\u0000`;
  for (const dimension in from.dimensions) {
    const value = from.dimensions[dimension]!;
    const key = `${prefix}${dimension}\u0000${value}`;
    let row = rows.get(key);
    if (!row) {
      row = { type: from.type, bucketMs: from.bucketMs, dimension, value, count: 0, valueCount: 0, sum: 0, min: null, max: null, sketch: null };
      rows.set(key, row);
    }
    row.count += from.count;
    if (from.valueCount === 0) continue;
    row.valueCount += from.valueCount;
    row.sum += from.sum;
    row.min = row.min === null ? from.min : Math.min(row.min, from.min!);
    row.max = row.max === null ? from.max : Math.max(row.max, from.max!);
    // The first row's bins are shared (the batch's rows are final here), copied only when a second row adds to them.
    if (row.sketch === null) {
      row.sketch = from.sketch;
      shared.add(row);
    } else if (shared.delete(row)) {
      row.sketch = mergeBins({ ...row.sketch }, from.sketch);
    } else {
      mergeBins(row.sketch, from.sketch);
    }
  }
}

/** Counts one event into a row: its count, and when it has a value, the value's aggregates and sketch bin. */
function count(row: RollupDelta, value: number | null, bin: string | undefined): RollupDelta {
  row.count += 1;
  if (value !== null && bin !== undefined) {
    row.valueCount += 1;
    row.sum += value;
    row.min = row.min === null ? value : Math.min(row.min, value);
    row.max = row.max === null ? value : Math.max(row.max, value);
    row.sketch ??= {};
    row.sketch[bin] = (row.sketch[bin] ?? 0) + 1;
  }
  return row;
}

/** Adds hashed values to the row's distinct entries: a plain array, sorted once when written. */
function addEntries(row: RollupDelta, entries: ReadonlyArray<readonly [string, number]>): void {
  row.distinct ??= {};
  for (const [attribute, entry] of entries) (row.distinct[attribute] ??= []).push(entry);
}

/** The distinct values one batch adds to one sketch row: (type, attribute, bucket, dims). */
export interface DistinctDelta {
  type: string;
  attribute: string;
  bucketMs: number;
  dims: string;
  /** Sorted sparse entries, one per sparse index (sparseEntries()). */
  entries: number[];
}

/** The increments of one granularity: per dimension set, and per (type, bucket) over all of them. */
export interface RollupDeltas {
  byDims: RollupDelta[];
  totals: RollupDelta[];
  distinctByDims: DistinctDelta[];
  distinctTotals: DistinctDelta[];
  /**
   * Per (type, bucket, dimension, value), in key order; events without dims add none. Hourly only: the fold
   * derives the daily per-dimension rows from the hourly ones (migration 0170), so `day` has none.
   */
  byDimension: DimensionDelta[];
}

/** The distinct deltas of the rows that carry distinct values, in lock order (type, attribute, bucket, dims). */
function distinctOf(rows: RollupDelta[]): DistinctDelta[] {
  const deltas: DistinctDelta[] = [];
  for (const { type, bucketMs, dims, distinct } of rows) {
    for (const attribute in distinct) deltas.push({ type, attribute, bucketMs, dims, entries: sparseEntries(distinct[attribute]!) });
  }
  return deltas.sort(compareDistinct);
}

/**
 * Folds the batch's counted events into one increment per rollup row, hourly
 * and daily in one pass, so the database applies one upsert per row instead
 * of one per event. Rows come out sorted by key: concurrent batches then lock
 * shared rows in the same order and cannot deadlock. Totals rows (dims
 * '{}' here, no dims column in their table) sum every dimension set;
 * per-dimension rows sum, for each dimension and value of an event, every
 * dimension set holding it (hourly only: the fold sums the days).
 */
export function aggregateReference(contributions: Contribution[]): Record<Granularity, RollupDeltas> {
  const rows: Record<Granularity, Map<string, RollupDelta>> = { hour: new Map(), day: new Map() };
  const totals: Record<Granularity, Map<string, RollupDelta>> = { hour: new Map(), day: new Map() };
  for (const { type, occurredAtMs, value, dims, distinct } of contributions) {
    const dimsJson = JSON.stringify(dims);
    const bin = value === null ? undefined : binKey(value);
    // Hashed once per value, added to the four rows it belongs to (their sketches share the rows' keys).
    let entries: Array<[string, number]> | undefined;
    for (const attribute in distinct) (entries ??= []).push([attribute, entryOf(distinct[attribute]!)]);
    for (const granularity of GRANULARITIES) {
      const bucketMs = bucketStart(occurredAtMs, granularity);
      const row = add(rows[granularity], type, bucketMs, dimsJson, dims, value, bin);
      const total = add(totals[granularity], type, bucketMs, '{}', NO_DIMENSIONS, value, bin);
      if (entries) {
        addEntries(row, entries);
        addEntries(total, entries);
      }
    }
  }
  const of = (granularity: Granularity): RollupDeltas => {
    const byDims = [...rows[granularity].values()].sort(compareRows);
    const totalRows = [...totals[granularity].values()].sort(compareRows);
    const dimensions = new Map<string, DimensionDelta>();
    const shared = new Set<DimensionDelta>();
    if (granularity === 'hour') for (const row of byDims) addToDimensions(dimensions, shared, row);
    const byDimension = [...dimensions.values()].sort(compareDimensions);
    return { byDims, totals: totalRows, distinctByDims: distinctOf(byDims), distinctTotals: distinctOf(totalRows), byDimension };
  };
  return { hour: of('hour'), day: of('day') };
}

function compareDistinct(a: DistinctDelta, b: DistinctDelta): number {
  if (a.type !== b.type) return a.type < b.type ? -1 : 1;
  if (a.attribute !== b.attribute) return a.attribute < b.attribute ? -1 : 1;
  return compareRows(a, b);
}

/** The key order of the per-dimension totals: (type, dimension, bucket, value). */
function compareDimensions(a: DimensionDelta, b: DimensionDelta): number {
  if (a.type !== b.type) return a.type < b.type ? -1 : 1;
  if (a.dimension !== b.dimension) return a.dimension < b.dimension ? -1 : 1;
  if (a.bucketMs !== b.bucketMs) return a.bucketMs - b.bucketMs;
  return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
}

function compareRows(a: Pick<RollupDelta, 'type' | 'bucketMs' | 'dims'>, b: Pick<RollupDelta, 'type' | 'bucketMs' | 'dims'>): number {
  if (a.type !== b.type) return a.type < b.type ? -1 : 1;
  if (a.bucketMs !== b.bucketMs) return a.bucketMs - b.bucketMs;
  return a.dims < b.dims ? -1 : a.dims > b.dims ? 1 : 0;
}
