import { bucketStart, type Granularity } from '../rollups/buckets.js';
import { entryOf, sparseEntries } from '../rollups/distinct.js';
import { binKey } from '../rollups/sketch.js';

/** What one counted event adds to the rollups of `type`. */
export interface Contribution {
  type: string;
  occurredAtMs: number;
  value: number | null;
  dims: Record<string, string>;
  /** Values of the attributes sketched for `type`: attribute -> value (none for derived rollup types). */
  distinct?: Record<string, string>;
}

/**
 * A delta's sketch bins: bin key (sketch.ts) -> count, in a Map, not an object: most keys are whole numbers below
 * 1024, and V8 gives an object with such a key an array of that many slots (8 kB), to allocate, scan and print
 * (bench/README.md, issue 20, step 21). batch-json.ts writes it as the JSON object PostgreSQL merges.
 */
export type BinCounts = Map<string, number>;

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
  sketch: BinCounts | null;
  /** Sparse entries (unsorted, repeated) of the row's values of each sketched attribute; null when none. */
  distinct: Record<string, number[]> | null;
}

const NO_DIMENSIONS: Record<string, string> = Object.freeze({});

/**
 * The increment for one per-dimension totals row: (type, bucket, dimension,
 * value), summed over every other dimension of the events (migration 0160).
 */
export interface DimensionDelta extends Omit<RollupDelta, 'dims' | 'dimensions' | 'distinct'> {
  dimension: string;
  value: string;
}

/** A row and, for dimensioned hourly rows, the per-dimension rows of its (dimension, value) pairs. */
interface Cell {
  row: RollupDelta;
  dimensionRows: DimensionDelta[];
}

/** Rows of one (type, dims) and granularity by bucket, the last one used kept at hand: a batch spans an hour or two. */
interface Slot {
  bucketMs: number;
  cell: Cell | undefined;
  /** Every cell by bucket, made when a second bucket comes (most series of a batch have one per granularity). */
  byBucket: Map<number, Cell> | undefined;
}

/** One (type, dims) of the batch: its rows in both granularities. */
interface Series {
  dims: string;
  dimensions: Record<string, string>;
  hour: Slot;
  day: Slot;
}

const newSeries = (dims: string, dimensions: Record<string, string>): Series => ({
  dims,
  dimensions,
  hour: { bucketMs: Number.NaN, cell: undefined, byBucket: undefined },
  day: { bucketMs: Number.NaN, cell: undefined, byBucket: undefined },
});

const NO_DIMENSION_ROWS: DimensionDelta[] = [];

/** The batch's rows of one granularity, and (hourly, dimensioned) the per-dimension rows by key. */
class Rows {
  readonly cells: Cell[] = [];
  private readonly dimensions: Map<string, DimensionDelta> | undefined;

  constructor(perDimension: boolean) {
    this.dimensions = perDimension ? new Map() : undefined;
  }

  /** The cell of `series` at `bucketMs` in `slot`'s granularity; a new row gets its per-dimension rows once. */
  at(type: string, series: Series, slot: Slot, bucketMs: number): Cell {
    if (slot.bucketMs === bucketMs) return slot.cell!;
    if (slot.cell && !slot.byBucket) slot.byBucket = new Map([[slot.bucketMs, slot.cell]]);
    let cell = slot.byBucket?.get(bucketMs);
    if (!cell) {
      const row: RollupDelta = { type, bucketMs, dims: series.dims, dimensions: series.dimensions, count: 0, valueCount: 0, sum: 0, min: null, max: null, sketch: null, distinct: null };
      cell = { row, dimensionRows: this.dimensions ? this.dimensionRowsOf(row) : NO_DIMENSION_ROWS };
      slot.byBucket?.set(bucketMs, cell);
      this.cells.push(cell);
    }
    slot.bucketMs = bucketMs;
    slot.cell = cell;
    return cell;
  }

  private dimensionRowsOf(from: RollupDelta): DimensionDelta[] {
    const found: DimensionDelta[] = [];
    for (const dimension in from.dimensions) {
      const value = from.dimensions[dimension]!;
      const key = `${from.type}\u0000${from.bucketMs}\u0000${dimension}\u0000${value}`;
      let row = this.dimensions!.get(key);
      if (!row) {
        row = { type: from.type, bucketMs: from.bucketMs, dimension, value, count: 0, valueCount: 0, sum: 0, min: null, max: null, sketch: null };
        this.dimensions!.set(key, row);
      }
      found.push(row);
    }
    return found;
  }

  /** The per-dimension rows in key order, their sums taken from the rows in key order (sums of doubles depend on it). */
  byDimension(): DimensionDelta[] {
    if (!this.dimensions) return [];
    for (const { row: from, dimensionRows } of this.cells) {
      for (const row of dimensionRows) {
        row.count += from.count;
        if (from.valueCount === 0) continue;
        row.valueCount += from.valueCount;
        row.sum += from.sum;
        row.min = row.min === null ? from.min : Math.min(row.min, from.min!);
        row.max = row.max === null ? from.max : Math.max(row.max, from.max!);
      }
    }
    return [...this.dimensions.values()].sort(compareDimensions);
  }
}

function addBin(row: { sketch: BinCounts | null }, bin: string): void {
  const sketch = (row.sketch ??= new Map());
  sketch.set(bin, (sketch.get(bin) ?? 0) + 1);
}

/** Counts one event into a row: its count, and when it has a value, the value's aggregates and sketch bin. */
function count(row: RollupDelta, value: number | null, bin: string | undefined): RollupDelta {
  row.count += 1;
  if (value !== null && bin !== undefined) {
    row.valueCount += 1;
    row.sum += value;
    row.min = row.min === null ? value : Math.min(row.min, value);
    row.max = row.max === null ? value : Math.max(row.max, value);
    addBin(row, bin);
  }
  return row;
}

/** Adds one hashed value to the row's distinct entries: a plain array, sorted once when written. */
function addEntry(row: RollupDelta, attribute: string, entry: number): void {
  const distinct = (row.distinct ??= {});
  const entries = distinct[attribute];
  if (entries) entries.push(entry);
  else distinct[attribute] = [entry];
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
export function aggregate(contributions: Contribution[]): Record<Granularity, RollupDeltas> {
  const rows = { hour: new Rows(true), day: new Rows(false) };
  const totals = { hour: new Rows(false), day: new Rows(false) };
  // Per type: its series by dims JSON, and its totals' series. Nested maps and the slots' last cell spare building a
  // (type, bucket, dims) key string per event and row (bench/README.md, issue 20, step 21).
  const byType = new Map<string, { series: Map<string, Series>; totals: Series }>();
  for (const { type, occurredAtMs, value, dims, distinct } of contributions) {
    let ofType = byType.get(type);
    if (!ofType) byType.set(type, (ofType = { series: new Map(), totals: newSeries('{}', NO_DIMENSIONS) }));
    const dimsJson = JSON.stringify(dims);
    let series = ofType.series.get(dimsJson);
    if (!series) ofType.series.set(dimsJson, (series = newSeries(dimsJson, dims)));
    const bin = value === null ? undefined : binKey(value);
    const hourMs = bucketStart(occurredAtMs, 'hour');
    const dayMs = bucketStart(occurredAtMs, 'day');
    const hour = rows.hour.at(type, series, series.hour, hourMs);
    const day = count(rows.day.at(type, series, series.day, dayMs).row, value, bin);
    const hourTotal = count(totals.hour.at(type, ofType.totals, ofType.totals.hour, hourMs).row, value, bin);
    const dayTotal = count(totals.day.at(type, ofType.totals, ofType.totals.day, dayMs).row, value, bin);
    count(hour.row, value, bin);
    // The per-dimension sketches take the event's bin here (counts add up in any order); their sums come from the rows.
    if (bin !== undefined) for (const row of hour.dimensionRows) addBin(row, bin);
    // Hashed once per value, added to the four rows it belongs to (their sketches share the rows' keys).
    for (const attribute in distinct) {
      const entry = entryOf(distinct[attribute]!);
      addEntry(hour.row, attribute, entry);
      addEntry(day, attribute, entry);
      addEntry(hourTotal, attribute, entry);
      addEntry(dayTotal, attribute, entry);
    }
  }
  const of = (granularity: Granularity): RollupDeltas => {
    const byDims = sortedRows(rows[granularity]);
    const totalRows = sortedRows(totals[granularity]);
    // After sortedRows: the per-dimension sums are taken in the rows' key order.
    const byDimension = rows[granularity].byDimension();
    return { byDims, totals: totalRows, distinctByDims: distinctOf(byDims), distinctTotals: distinctOf(totalRows), byDimension };
  };
  return { hour: of('hour'), day: of('day') };
}

/** Sorts the cells by their rows' key (the per-dimension sums are then taken in that order) and returns the rows. */
function sortedRows(rows: Rows): RollupDelta[] {
  rows.cells.sort((a, b) => compareRows(a.row, b.row));
  return rows.cells.map((cell) => cell.row);
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
