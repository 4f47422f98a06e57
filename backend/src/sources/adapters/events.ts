import pg from 'pg';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { Pool } from '../../db/pool.js';
import type { ReadReplicas } from '../../db/replicas.js';
import type { WalPosition } from '../../db/wal.js';
import { BUCKET_MS } from '../../rollups/buckets.js';
import { ROLLUP_DIMENSIONS } from '../../rollups/dimensions.js';
import { DistinctAccumulator } from '../../rollups/distinct.js';
import { orderedBinsOfJsonAt, quantileOfOneJsonAt, quantileOfOrderedBins, SketchAccumulator, valueOfBinKeyAt } from '../../rollups/sketch.js';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { SourceError } from '../errors.js';
import type { AdapterType, Filter, ListQuery, ListRow, Series, SourceAdapter, SourceQuery } from '../types.js';
import { completeRows, dimensionEstimateSql, dimensionTotalsSql, oneDimensionOf, QUANTILE_KEY_PART } from './events-dimension-totals.js';
import { isTotalsQuestion, TotalsBatcher } from './events-batch.js';
import { distinctDaysSql } from './events-distinct.js';
import { levelSeries } from './events-levels.js';
import { listEvents } from './events-list.js';
import { windowSeries } from './events-window.js';
import { statementName } from './statement-names.js';
import { timeParam } from './events-time-params.js';

const HOUR = BUCKET_MS.hour;
const DAY = BUCKET_MS.day;

const dimension = z.enum(ROLLUP_DIMENSIONS, { message: `must be a rollup dimension (${ROLLUP_DIMENSIONS.join(', ')})` });

/** A metric of the built-in source: which events count and what is measured. */
export const eventsMetricQuerySchema = z
  .object({
    eventTypes: z.array(z.string().min(1)).min(1, 'needs at least one event type'),
    /** level: the running total of the values (+1/-1 deltas) up to each bucket's end (levels.ts). */
    measure: z.enum(['count', 'value', 'distinct', 'level']),
    /** measure distinct: the event attribute whose different values are counted. */
    attribute: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9_]{0,62}$/, 'must start with a letter and contain only letters, digits or _')
      .optional(),
    where: z.partialRecord(dimension, z.array(z.string()).min(1)).optional(),
    /** Event attributes a `format: list` query shows by default (else the metric's dimensions); marks the metric as list-friendly. */
    list: z.array(z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,62}$/, 'must be an attribute name')).min(1).max(20).optional(),
    /**
     * Live streaming (GET /api/v1/live): the trailing window a count, sum or
     * average covers, in seconds (default 60); 3600 makes "per hour" figures
     * such as a real-time card's messages per hour. Each tick reads the
     * window's raw events, hence the one-hour cap.
     */
    liveWindowSeconds: z.number().int('must be a whole number of seconds').min(60, 'must be at least 60').max(3600, 'must be at most 3600 (one hour)').optional(),
  })
  .strict()
  .refine((query) => (query.measure === 'distinct') === (query.attribute !== undefined), {
    message: 'measure distinct needs an attribute (e.g. attribute: contactId), and only measure distinct takes one',
    path: ['attribute'],
  })
  .refine((query) => query.liveWindowSeconds === undefined || query.measure === 'count' || query.measure === 'value', {
    message: 'only measures count and value stream over a window (a level streams its value now; distinct counts do not stream)',
    path: ['liveWindowSeconds'],
  });
export type EventsMetricQuery = z.infer<typeof eventsMetricQuerySchema>;

const eventsSourceSchema = z.object({ id: z.string(), type: z.literal('events') }).passthrough();

const QUANTILES: Record<string, number> = { p50: 0.5, p90: 0.9, p95: 0.95, p99: 0.99 };

/** Which rollup granularity covers which part of the range: [from, to) in epoch ms. */
export interface Slice {
  table: 'rollups_hourly' | 'rollups_daily';
  from: number;
  to: number;
}

/**
 * A question that neither groups nor filters by a dimension reads the totals
 * tables (one row per type and bucket) instead of the dimensioned ones, with
 * the rows ingestion appended since the last fold (migration 0014).
 */
const TOTALS_TABLES: Record<Slice['table'], [string, string]> = {
  rollups_hourly: ['rollup_totals_hourly', 'rollup_totals_hourly_pending'],
  rollups_daily: ['rollup_totals_daily', 'rollup_totals_daily_pending'],
};

/**
 * Distinct counts read the sketch tables of the same granularity (migration 0020); the whole days of a question
 * without group-by or filters read the blocks of days instead (events-distinct.ts, migration 0150).
 */
const DISTINCT_TABLES: Record<Slice['table'], { byDims: string; totals: [string, string] }> = {
  rollups_hourly: { byDims: 'rollups_distinct_hourly', totals: ['rollup_totals_distinct_hourly', 'rollup_totals_distinct_hourly_pending'] },
  rollups_daily: { byDims: 'rollups_distinct_daily', totals: ['rollup_totals_distinct_daily', 'rollup_totals_distinct_daily_pending'] },
};

/**
 * Distinct sketches travel as base64 text: sparse ones in binary array form (parsing the text of thousands of
 * integers was most of a cold answer), dense registers as they are. Base64 is 2/3 of bytea's hex form, and halved
 * what receiving a 30-day answer's rows cost Node (bench/README.md, "Distinct counts").
 */
const DISTINCT_COLUMNS = "encode(array_send((sketch).sparse), 'base64') AS sp, encode((sketch).dense, 'base64') AS dn";

/**
 * Whether the rollups exist and this role may read them, from the catalog
 * alone: touching no rows keeps the check a no-op on every shard once the
 * rollups are distributed (Citus), where even `LIMIT 0` visits each one.
 */
const ROLLUPS_READABLE = "SELECT has_table_privilege('rollups_hourly', 'SELECT') AS readable";

const alignDown = (ms: number, size: number) => Math.floor(ms / size) * size;
const alignUp = (ms: number, size: number) => Math.ceil(ms / size) * size;

/**
 * Query buckets that are whole days read the daily rollups. A single bucket
 * spanning the whole range (tables, KPIs) reads whole days from the daily
 * rollups and the ragged edges from the hourly ones: exact at hour resolution
 * at a fraction of the rows. Everything else reads the hourly rollups.
 * Rollup rows touching the range count whole (a rollup bucket cannot be split).
 */
export function slicesFor(from: number, to: number, bucketMs: number): Slice[] {
  if (bucketMs % DAY === 0) return [{ table: 'rollups_daily', from: alignDown(from, DAY), to }];
  const hourFrom = alignDown(from, HOUR);
  const hourTo = alignUp(to, HOUR);
  const singleBucket = Math.floor(from / bucketMs) === Math.floor((to - 1) / bucketMs);
  const dayFrom = alignUp(hourFrom, DAY);
  const dayTo = alignDown(hourTo, DAY);
  if (!singleBucket || dayTo <= dayFrom) return [{ table: 'rollups_hourly', from: hourFrom, to }];
  const slices: Slice[] = [{ table: 'rollups_daily', from: dayFrom, to: dayTo }];
  if (hourFrom < dayFrom) slices.push({ table: 'rollups_hourly', from: hourFrom, to: dayFrom });
  if (dayTo < to) slices.push({ table: 'rollups_hourly', from: dayTo, to });
  return slices;
}

/** Collects positional parameters; dimension names and values only ever travel as parameters. */
export class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

function filterCondition(filter: Filter, params: Params): string {
  const column = `dims->>${params.add(filter.dimension)}::text`;
  const values = Array.isArray(filter.value) ? filter.value : [filter.value];
  switch (filter.op) {
    case 'eq':
    case 'in':
      return `${column} = ANY(${params.add(values)}::text[])`;
    case 'neq':
    case 'not_in':
      // An event without the dimension is "not equal" to any value.
      return `(${column} IS NULL OR NOT (${column} = ANY(${params.add(values)}::text[])))`;
  }
}

export type Measure = 'count' | 'sum' | 'avg' | 'min' | 'max' | 'sketch' | 'distinct';

export function measureOf(query: SourceQuery, metricQuery: EventsMetricQuery): Measure {
  const { aggregation } = query;
  if (metricQuery.measure === 'level') {
    if (aggregation !== 'sum') throw new SourceError('events', 'bad_query', `metric '${query.metric.key}' is a level; only 'sum' (the level at each bucket's end) applies`);
    return 'sum';
  }
  if (metricQuery.measure === 'distinct' || aggregation === 'distinct') {
    if (metricQuery.measure !== 'distinct' || aggregation !== 'distinct') {
      throw new SourceError('events', 'bad_query', `metric '${query.metric.key}': only a metric with measure distinct answers the aggregation distinct`);
    }
    return 'distinct';
  }
  if (metricQuery.measure === 'count' || aggregation === 'count') {
    if (aggregation !== 'count' && aggregation !== 'sum') {
      throw new SourceError('events', 'bad_query', `metric '${query.metric.key}' counts events; '${aggregation}' needs a metric that measures event values`);
    }
    return 'count';
  }
  if (aggregation in QUANTILES) return 'sketch';
  return aggregation as Measure;
}

/**
 * Builds the SQL for one query: partial aggregates per rollup bucket and
 * group-by values (b = bucket start in epoch ms). Merging rollup buckets into
 * query buckets happens in `toSeries`. Dimensioned rows are first summed per
 * stored bucket and group-by values in PostgreSQL (many rows per bucket);
 * totals rows (one per type and bucket, and the few pending ones) travel as
 * they are. Sketches travel as jsonb text and are merged bin by bin in Node,
 * which measured several times faster than expanding every bin with
 * jsonb_each in SQL; those of dimensioned rows arrive packed, one row per
 * series (bench/README.md, "Query against the indexed raw table").
 *
 * Totals questions get a statement name: their shapes are few (measure x
 * slices), so each pooled connection plans each shape once and reuses it.
 */
export function buildSql(query: SourceQuery, metricQuery: EventsMetricQuery, measure: Measure, params = new Params()): { text: string; values: unknown[]; name?: string } {
  const org = params.add(query.organizationId);
  const types = params.add(metricQuery.eventTypes);
  const groups = query.groupBy.map((name, index) => `dims->>${params.add(name)}::text AS g${index}`);
  const conditions: string[] = [];
  for (const [name, values] of Object.entries(metricQuery.where ?? {})) {
    conditions.push(filterCondition({ dimension: name, op: 'in', value: values as string[] }, params));
  }
  for (const filter of query.filters) conditions.push(filterCondition(filter, params));
  const totals = groups.length === 0 && conditions.length === 0;
  const time = 'extract(epoch FROM bucket)::float8 * 1000 AS b';
  if (totals && measure === 'sketch') return totalsSketchesSql(query, params, org, types, time);
  // Counts, sums and extremes without dimensions: one text per measure and slice tables whatever the range (its bounds
  // are parameters), built and named once; a dashboard load built ~40 of them (bench/README.md, issue 20, step 17).
  let memo: string | undefined;
  if (totals && measure !== 'distinct') {
    const slices = slicesFor(query.from.getTime(), query.to.getTime(), query.bucketMs);
    memo = `${org} ${types} ${params.values.length} ${measure}`;
    for (const slice of slices) memo += ` ${slice.table}`;
    const known = totalsTexts.get(memo);
    if (known) {
      // The values in the order selectRows adds them: each slice's bounds.
      for (const slice of slices) {
        params.add(timeParam(slice.from));
        params.add(timeParam(slice.to));
      }
      return { text: known.text, values: params.values, name: known.name };
    }
  }

  const attribute = measure === 'distinct' ? params.add(metricQuery.attribute) : undefined;

  const selectRows = (slice: Slice) => {
    const keys = [`organization_id = ${org}::uuid`, `event_type = ANY(${types}::text[])`, ...(attribute ? [`attribute = ${attribute}::text`] : [])];
    if (measure === 'distinct' && totals && slice.table === 'rollups_daily') return distinctDaysSql(keys, DISTINCT_COLUMNS, slice.from, slice.to, query.bucketMs, (value) => params.add(value));
    const where = [
      ...keys,
      `bucket >= ${params.add(timeParam(slice.from))}::timestamptz`,
      `bucket < ${params.add(timeParam(slice.to))}::timestamptz`,
      ...conditions,
      ...(measure === 'sketch' ? ['sketch IS NOT NULL'] : []),
    ];
    // Totals keep their sketch's text form too (migration 0013): far cheaper to send than jsonb.
    const sketch = totals ? 'sketch_text AS sketch' : 'sketch';
    const columns = measure === 'sketch' ? sketch : measure === 'distinct' ? DISTINCT_COLUMNS : 'count, value_count, sum, min, max';
    const select = (table: string) => `SELECT bucket, ${[...groups, columns].join(', ')} FROM ${table} WHERE ${where.join(' AND ')}`;
    if (measure === 'distinct') return totals ? DISTINCT_TABLES[slice.table].totals.map(select).join(' UNION ALL ') : select(DISTINCT_TABLES[slice.table].byDims);
    return totals ? TOTALS_TABLES[slice.table].map(select).join(' UNION ALL ') : select(slice.table);
  };
  const rows = slicesFor(query.from.getTime(), query.to.getTime(), query.bucketMs).map(selectRows).join(' UNION ALL ');
  const keys = groups.map((_, index) => `g${index}`);
  if (totals) {
    const columns = { count: 'count::float8 AS c', sum: 'sum AS s', avg: 'value_count::float8 AS v, sum AS s', min: 'min AS mn', max: 'max AS mx', sketch: 'sketch', distinct: 'sp, dn' }[measure];
    const packed = PACKED_TOTALS[measure];
    const text = packed === undefined ? `SELECT ${time}, ${columns} FROM (${rows}) r` : `SELECT ${packed} FROM (${rows}) r`;
    const name = statementName('events_totals_', text);
    if (memo !== undefined) {
      if (totalsTexts.size >= 1_000) totalsTexts.clear();
      totalsTexts.set(memo, { text, name });
    }
    return { text, values: params.values, name };
  }
  if (measure === 'sketch') {
    // One row per series, its sketches in one text ("<b> <bins> <b> <bins> ..."): a grouped hourly percentile reads
    // thousands of small sketches, and receiving each as its own row cost more than formatting and merging them.
    const packed = `string_agg((extract(epoch FROM bucket)::bigint * 1000)::text || ' ' || sketch::text, ' ') AS packed`;
    return { text: `SELECT ${[...keys, packed].join(', ')} FROM (${rows}) r${keys.length > 0 ? ` GROUP BY ${keys.join(', ')}` : ''}`, values: params.values };
  }
  if (measure === 'distinct') return { text: `SELECT ${[time, ...keys, 'sp', 'dn'].join(', ')} FROM (${rows}) r`, values: params.values };
  const partials = {
    count: ['sum(count)::float8 AS c'],
    sum: ['sum(sum) AS s'],
    avg: ['sum(value_count)::float8 AS v', 'sum(sum) AS s'],
    min: ['min(min) AS mn'],
    max: ['max(max) AS mx'],
  }[measure];
  return { text: `SELECT ${[time, ...keys, ...partials].join(', ')} FROM (${rows}) r GROUP BY ${['bucket', ...keys].join(', ')}`, values: params.values };
}

/**
 * Counts and sums without dimensions travel packed: the statement's rows in one text of "<bucket ms> <value>" pairs,
 * in the order the rows come (`pv`, added per query bucket by addPackedSums, as the totals per dimension send theirs),
 * so the same additions in the same order. A cold Business overview load received ~3,300 such rows, each a DataRow of
 * node-pg's parsing, a row object and three strings: about a sixth of its Node CPU (bench/README.md, issue 20, step
 * 24). Every column is NOT NULL, so no pair is left out; no rows at all is one NULL text, as in the per-dimension path.
 */
const PACKED_TOTALS: { [M in Measure]?: string } = {
  count: "string_agg((date_part('epoch', bucket) * 1000)::bigint::text || ' ' || count::text, ' ') AS pv",
  sum: "string_agg((date_part('epoch', bucket) * 1000)::bigint::text || ' ' || sum::text, ' ') AS pv",
};

/** Whether a totals statement of this measure answers one packed row (`pv`) instead of a row per rollup bucket. */
export function packsTotals(measure: Measure): boolean {
  return PACKED_TOTALS[measure] !== undefined;
}

/**
 * The sketches of a percentile without group-by or filters, through
 * `rollup_totals_rows()` (migration 0190): its generic plan is made once per
 * connection, where the same six-branch UNION ALL sent as a statement was
 * planned again on every execution (0.2-0.3 ms of PostgreSQL CPU per answer,
 * more than executing it). A slice the range does not have gets NULL bounds.
 * Counts and sums keep their statement: their ranges read hundreds of hourly
 * rows in two branches, which cost more through the function's result set
 * than planning them (bench/README.md, issue 20, step 10).
 *
 * A range that is one query bucket and has whole days reads
 * `rollup_totals_prefix_rows()` instead (migration 0200): the same rows, but
 * each type's whole days as two cumulative sketches, the later in `sketch`
 * and the earlier in `minus`, whose bins the merge takes out again, when
 * their counts match the days' (else the daily rows, in `sketch`). Both
 * return at the range's first day, so only a single query bucket may read
 * them (bench/README.md, issue 20, step 13).
 */
function totalsSketchesSql(query: SourceQuery, params: Params, org: string, types: string, time: string): { text: string; values: unknown[]; name: string } {
  const slices = slicesFor(query.from.getTime(), query.to.getTime(), query.bucketMs);
  const days = slices.find((slice) => slice.table === 'rollups_daily');
  const hours = slices.filter((slice) => slice.table === 'rollups_hourly');
  const first = params.values.length + 1;
  for (const slice of [days, hours[0], hours[1]]) {
    params.add(slice ? timeParam(slice.from) : null);
    params.add(slice ? timeParam(slice.to) : null);
  }
  const singleBucket = Math.floor(query.from.getTime() / query.bucketMs) === Math.floor((query.to.getTime() - 1) / query.bucketMs);
  const prefixes = Boolean(days && singleBucket);
  // The same two texts for every range (its bounds are parameters): built once, so each answer's statement is one
  // string that the batch finds by identity (bench/README.md, issue 20, step 17).
  const key = `${org} ${types} ${time} ${first} ${prefixes}`;
  let text = sketchTexts.get(key);
  if (text === undefined) {
    const bounds = Array.from({ length: 6 }, (_, index) => `$${first + index}::timestamptz`).join(', ');
    text = prefixes
      ? `SELECT ${time}, sketch, minus FROM rollup_totals_prefix_rows(${org}::uuid, ${types}::text[], ${bounds}) r`
      : `SELECT ${time}, sketch, NULL::text AS minus FROM rollup_totals_rows(${org}::uuid, ${types}::text[], ${bounds}, true) r`;
    sketchTexts.set(key, text);
  }
  return { text, values: params.values, name: prefixes ? 'events_totals_prefix_sketches' : 'events_totals_sketches' };
}

/** buildSql's totals statements (counts, sums, extremes) by placeholders, measure and slice tables: a few dozen. */
const totalsTexts = new Map<string, { text: string; name: string }>();

/** totalsSketchesSql's texts by their placeholders: buildSql numbers them alike for every question, so a few. */
const sketchTexts = new Map<string, string>();

/**
 * Counts the distinct group-by value sets of a query, stopping at `limit`,
 * from the daily rollups (a 24th of the hourly rows): the answer budget's
 * estimate of how many series a query will answer before any bucket is read.
 */
export function buildEstimateSql(query: SourceQuery, metricQuery: EventsMetricQuery, limit: number): { text: string; values: unknown[] } {
  const params = new Params();
  const groups = query.groupBy.map((name) => `dims->>${params.add(name)}::text`);
  const where = [
    `organization_id = ${params.add(query.organizationId)}::uuid`,
    `event_type = ANY(${params.add(metricQuery.eventTypes)}::text[])`,
    `bucket >= ${params.add(new Date(alignDown(query.from.getTime(), DAY)))}::timestamptz`,
    `bucket < ${params.add(query.to)}::timestamptz`,
  ];
  for (const [name, values] of Object.entries(metricQuery.where ?? {})) where.push(filterCondition({ dimension: name, op: 'in', value: values as string[] }, params));
  for (const filter of query.filters) where.push(filterCondition(filter, params));
  return {
    text: `SELECT count(*)::int AS n FROM (SELECT DISTINCT ${groups.join(', ')} FROM rollups_daily WHERE ${where.join(' AND ')} LIMIT ${params.add(limit)}) s`,
    values: params.values,
  };
}

export interface Row {
  /** The bucket (epoch ms); absent from a packed row (`pv`, `packed`), whose text carries each bucket. */
  b: number;
  c?: number;
  v?: number;
  s?: number;
  mn?: number | null;
  mx?: number | null;
  /** jsonb text: read by SketchAccumulator without building an object per sketch. */
  sketch?: string;
  /** A cumulative sketch whose bins the point's merge takes out of the others (rollup_totals_prefix_rows(), migration 0200). */
  minus?: string | null;
  /** Several rollup rows' sketches: "<bucket ms> <jsonb text>" pairs separated by spaces. */
  packed?: string | null;
  /**
   * Points that are one folded hourly per-dimension row each: their stored "<hours since 1970> <p50 key> <p90 key>
   * <p95 key> <p99 key>" texts, separated by spaces (migration 0180, events-dimension-totals.ts).
   */
  points?: string | null;
  /** Several rollup rows' counts, sums or extremes: "<bucket ms> <value>..." (events-dimension-totals.ts, PACKED). */
  pv?: string | null;
  /** A distinct sketch, base64: sparse entries (binary int4[]) or dense registers. */
  sp?: string | null;
  dn?: string | null;
  /** A per-dimension answer's check (events-dimension-totals.ts, dimensionTotalsSql). */
  m?: number | null;
  [group: `g${number}`]: string | null;
}

/** What one query bucket accumulates from its rollup rows. */
interface Partial {
  c: number;
  /** Events that carried a value. */
  v: number;
  s: number;
  mn: number | null;
  mx: number | null;
  /**
   * The bucket's sketches (jsonb text at an offset of a text), merged once when its value is read: the first in
   * `sketch`/`sketchAt`, any others in `more` as text, offset pairs. An hourly point of an hourly percentile has one,
   * and two arrays per point were most of the garbage a cold grouped percentile left.
   */
  sketch: string | undefined;
  sketchAt: number;
  /** The row whose whole `sketch` is the first sketch (a plain row, not a packed one): its scan is kept (rowBins). */
  sketchRow: Row | undefined;
  more: Array<string | number> | undefined;
  /** Sketches (jsonb text) to take out of the merged ones: earlier cumulative sketches of later ones in `sketch`/`more`. */
  minus: string[] | undefined;
  /** The quantile of a point that is one stored row, from its precomputed bin key (migrations 0165, 0180). */
  quantile: number | undefined;
  distinct: DistinctAccumulator | undefined;
  /**
   * Sparse distinct sketches (base64), added when the value is read: after every dense one of the point, whose
   * registers they then raise directly, where added first they were sorted and deduplicated as they grew (the same
   * registers either way: a union is exact in any order).
   */
  sparse: string[] | undefined;
}

/** One accumulator for every bucket's merge: answers are computed synchronously, one bucket at a time. */
const merged = new SketchAccumulator();

function quantileOf(partial: Partial, q: number): number | null {
  if (partial.sketch === undefined) return partial.quantile ?? null;
  if (partial.more === undefined && partial.minus === undefined) {
    const row = partial.sketchRow;
    if (row !== undefined) {
      let bins = rowBins.get(row);
      if (bins === undefined) rowBins.set(row, (bins = orderedBinsOfJsonAt(partial.sketch, 0) ?? null));
      if (bins !== null) return quantileOfOrderedBins(bins, q);
    } else {
      const one = quantileOfOneJsonAt(partial.sketch, partial.sketchAt, q);
      if (one !== undefined) return one;
    }
  }
  merged.clear();
  merged.addJsonAt(partial.sketch, partial.sketchAt);
  const more = partial.more;
  if (more) for (let index = 0; index < more.length; index += 2) merged.addJsonAt(more[index] as string, more[index + 1] as number);
  // After every addition: the bins taken out are in the later cumulative sketches.
  if (partial.minus) for (const text of partial.minus) merged.subtractJsonAt(text, 0);
  return merged.quantile(q) ?? null;
}

/**
 * A plain row's sketch, scanned once into its ordered bins (null: not in that form), however many questions read the
 * row: a batch gives the questions of one statement the same rows (events-batch.ts), and a panel's p50, p95 and p99
 * scanned each hourly sketch three times (1.7 ms of Node per Bot performance load).
 */
const rowBins = new WeakMap<Row, number[] | null>();

function addSketch(point: Partial, text: string, at: number, row?: Row): void {
  // A point read from its bin key that has a sketch too is a folded row with pending twins: the sketches answer it.
  point.quantile = undefined;
  if (point.sketch === undefined) {
    point.sketch = text;
    point.sketchAt = at;
    point.sketchRow = row;
  } else (point.more ??= []).push(text, at);
}

/** Walks a packed row's "<bucket ms> <bins>" pairs; a bin map holds no braces inside, so each ends at the next }. */
function forEachPacked(packed: string, visit: (bucket: number, at: number) => void): void {
  let p = 0;
  while (p < packed.length) {
    // The bucket's digits read in place: a string per sketch was a good part of the garbage.
    const negative = packed.charCodeAt(p) === 45; /* - */
    let q = negative ? p + 1 : p;
    let bucket = 0;
    for (let ch = packed.charCodeAt(q); ch >= 48 && ch <= 57; ch = packed.charCodeAt(++q)) bucket = bucket * 10 + ch - 48;
    if (q === p || packed.charCodeAt(q) !== 32 || packed.charCodeAt(q + 1) !== 123 /* { */) throw new Error(`unreadable packed sketches at ${p}: ${packed.slice(p, p + 40)}`);
    const close = packed.indexOf('}', q + 1);
    if (close < 0) throw new Error(`unreadable packed sketches at ${p}: ${packed.slice(p, p + 40)}`);
    visit(negative ? -bucket : bucket, q + 1);
    p = close + 2;
  }
}

/**
 * Reads a `points` text ("<hours> <key> <key> <key> <key>" per point) into `visit(hour ms, value)`: the value of the
 * `part`-th key (1-4, QUANTILE_KEY_PART), as `SketchAccumulator.quantile` answers for that bin.
 */
function forEachPoint(text: string, part: number, visit: (time: number, value: number) => void): void {
  let p = 0;
  while (p < text.length) {
    const negative = text.charCodeAt(p) === 45; /* - */
    let q = negative ? p + 1 : p;
    let hours = 0;
    for (let ch = text.charCodeAt(q); ch >= 48 && ch <= 57; ch = text.charCodeAt(++q)) hours = hours * 10 + ch - 48;
    if (q === (negative ? p + 1 : p) || text.charCodeAt(q) !== 32) throw new Error(`unreadable quantile points at ${p}: ${text.slice(p, p + 40)}`);
    // The point's keys: skip to the part-th, read it, skip past the fourth.
    let start = q + 1;
    for (let skip = 1; skip < part; skip += 1) {
      start = text.indexOf(' ', start) + 1;
      if (start === 0) throw new Error(`unreadable quantile points at ${p}: ${text.slice(p, p + 40)}`);
    }
    let end = text.indexOf(' ', start);
    if (end < 0) end = text.length;
    const value = valueOfBinKeyAt(text, start, end);
    for (let skip = part; skip < 4; skip += 1) {
      if (end >= text.length) throw new Error(`unreadable quantile points at ${p}: ${text.slice(p, p + 40)}`);
      end = text.indexOf(' ', end + 1);
      if (end < 0) end = text.length;
    }
    visit((negative ? -hours : hours) * HOUR, value);
    p = end + 1;
  }
}

/** Where `numberAt` stopped: just past the token's separating space. */
let cursor = 0;

/** The number (or `n`, null) at `p` of a space-separated text; integers are read in place, other numbers by Number. */
function numberAt(text: string, p: number): number | null {
  let q = text.charCodeAt(p) === 45 /* - */ ? p + 1 : p;
  const digits = q;
  let value = 0;
  let ch = text.charCodeAt(q);
  for (; ch >= 48 && ch <= 57; ch = text.charCodeAt(++q)) value = value * 10 + ch - 48;
  // Up to 15 digits an integer is exact in a double; anything else (fractions, exponents, Infinity) goes through Number.
  if (q > digits && q - digits <= 15 && (q === text.length || ch === 32)) {
    cursor = q + 1;
    return digits > p ? -value : value;
  }
  let end = text.indexOf(' ', p);
  if (end < 0) end = text.length;
  cursor = end + 1;
  if (end === p + 1 && text.charCodeAt(p) === 110 /* n */) return null;
  const parsed = Number(text.slice(p, end));
  if (Number.isNaN(parsed) && text.slice(p, end) !== 'NaN') throw new Error(`unreadable packed values at ${p}: ${text.slice(p, p + 40)}`);
  return parsed;
}

/** Adds a series' packed "<bucket ms> <values>" text to its points, the values in PACKED's order for the measure. */
function addPackedValues(text: string, measure: Measure, pointOf: (bucket: number) => Partial): void {
  cursor = 0;
  while (cursor < text.length) {
    const bucket = numberAt(text, cursor);
    if (bucket === null) throw new Error(`packed values without a bucket at ${cursor}`);
    const point = pointOf(bucket);
    const value = numberAt(text, cursor);
    switch (measure) {
      case 'count':
        point.c += value!;
        break;
      case 'sum':
        point.s += value!;
        break;
      case 'avg':
        point.v += value!;
        point.s += numberAt(text, cursor)!;
        break;
      case 'min':
        if (value !== null) point.mn = point.mn === null ? value : Math.min(point.mn, value);
        break;
      case 'max':
        if (value !== null) point.mx = point.mx === null ? value : Math.max(point.mx, value);
        break;
      default:
        throw new Error(`packed values cannot carry ${measure}`);
    }
  }
}

/** A point's distinct count: its sparse sketches go in after its dense ones (Partial.sparse). */
function distinctCount(partial: Partial): number {
  const sparse = partial.sparse;
  if (sparse !== undefined) {
    const union = (partial.distinct ??= new DistinctAccumulator());
    for (const text of sparse) union.addSparseBinary(fromBase64(text));
    partial.sparse = undefined;
  }
  return partial.distinct?.count() ?? 0;
}

/** One buffer that every distinct sketch is decoded into (its bytes are merged right away, never kept). */
let decoded = Buffer.allocUnsafeSlow(64 * 1024);

/**
 * A base64 sketch's bytes, in the shared buffer: valid until the next call. A 30-day distinct answer decodes dozens
 * of sketches, dense ones 32 KiB each, and a Buffer per sketch was most of its garbage.
 */
function fromBase64(text: string): Buffer {
  const bound = Math.ceil(text.length / 4) * 3;
  if (bound > decoded.length) decoded = Buffer.allocUnsafeSlow(2 ** Math.ceil(Math.log2(bound)));
  return decoded.subarray(0, decoded.write(text, 0, 'base64'));
}

/** A count's or sum's packed "<bucket ms> <value>..." text, into its sums per query bucket (as addPackedValues adds). */
function addPackedSums(text: string, sums: Map<number, number>, bucketMs: number): void {
  cursor = 0;
  while (cursor < text.length) {
    const bucket = numberAt(text, cursor);
    if (bucket === null) throw new Error(`packed values without a bucket at ${cursor}`);
    const t = Math.floor(bucket / bucketMs) * bucketMs;
    // A null value adds 0, as `c += null` does.
    sums.set(t, (sums.get(t) ?? 0) + Number(numberAt(text, cursor)));
  }
}

function valueOf(partial: Partial, measure: Measure, q: number | undefined): number | null {
  switch (measure) {
    case 'count':
      return partial.c;
    case 'sum':
      return partial.s;
    case 'avg':
      return partial.v === 0 ? null : partial.s / partial.v;
    case 'min':
      return partial.mn;
    case 'max':
      return partial.mx;
    case 'sketch':
      return quantileOf(partial, q!);
    case 'distinct':
      return distinctCount(partial);
  }
}

/**
 * `read`: a series whose every point came from `points` (one stored row each), kept as the arrays it answers, times
 * in the order read: 3,600 accumulators in Maps were most of a cold hourly p95 by bot's Node time. Anything else for
 * the series moves them into `points` first.
 */
type Entry = { labels: Record<string, string>; points: Map<number, Partial>; read?: { times: number[]; values: number[]; ordered: boolean }; sums?: Map<number, number> };

/** Work between two turns handed back to the event loop: rows, or packed text in hundreds (sketches) or twenties (values) of characters. */
const YIELD_EVERY = 2_000;

/**
 * What `toSeries` accumulates, in small methods and loops that return to it to yield: V8 optimizes these apart. As one
 * large async function with closures, toSeries was deoptimized by the first row of another shape (the rows of every
 * statement of a dashboard reach it) and ran unoptimized: 150-800 us for 168 plain rows (bench/README.md, issue 20,
 * step 15).
 */
class SeriesMerge {
  readonly series = new Map<string, Entry>();
  private readonly groupBy: string[];
  private readonly bucketMs: number;
  private readonly aggregation: string;
  private readonly part: number | undefined;
  /**
   * Counts and sums add one number per query bucket, kept in `Entry.sums` instead of a Partial per point: most rows of a
   * cold dashboard are counts (3,000 of a Business overview load's 3,500), and an accumulator object per point was most
   * of their merge.
   */
  private readonly plain: 'c' | 's' | undefined;
  /** Work done since the last yield (see YIELD_EVERY). */
  work = 0;

  constructor(
    query: SourceQuery,
    private readonly measure: Measure,
  ) {
    this.groupBy = query.groupBy;
    this.bucketMs = query.bucketMs;
    this.aggregation = query.aggregation;
    this.part = QUANTILE_KEY_PART[query.aggregation];
    this.plain = measure === 'count' ? 'c' : measure === 'sum' ? 's' : undefined;
  }

  /** Adds rows from `start` until the work since the last yield reaches YIELD_EVERY; returns where it stopped. */
  addRows(rows: Row[], start: number): number {
    let index = start;
    for (; index < rows.length; index += 1) {
      const row = rows[index]!;
      // A row's weight counts before it is read, as the turn it may end.
      const weight = row.packed !== undefined ? ((row.packed?.length ?? 0) + (row.points?.length ?? 0)) / 100 : row.pv !== undefined ? (row.pv?.length ?? 0) / 20 : 1;
      if (this.work + weight >= YIELD_EVERY && index > start) return index;
      this.work += weight;
      this.addRow(row);
    }
    return index;
  }

  private addRow(row: Row): void {
    if (row.packed !== undefined) {
      const { packed, points } = row;
      // No rollup rows at all: string_agg over nothing is one NULL row.
      if (!packed && !points) return;
      const entry = this.seriesOf(row);
      if (packed) forEachPacked(packed, (bucket, at) => addSketch(this.pointOf(entry, bucket), packed, at));
      if (points) this.addPoints(entry, points);
      return;
    }
    if (row.pv !== undefined) {
      if (row.pv === null) return;
      const entry = this.seriesOf(row);
      if (this.plain !== undefined) addPackedSums(row.pv, this.sumsOf(entry), this.bucketMs);
      else addPackedValues(row.pv, this.measure, (bucket) => this.pointOf(entry, bucket));
      return;
    }
    if (this.plain !== undefined) {
      const sums = this.sumsOf(this.seriesOf(row));
      const t = Math.floor(Number(row.b) / this.bucketMs) * this.bucketMs;
      const value = row[this.plain];
      // As a Partial's `c += Number(row.c)` from 0: the same additions in the same order.
      if (value !== undefined) sums.set(t, (sums.get(t) ?? 0) + Number(value));
      else if (!sums.has(t)) sums.set(t, 0);
      return;
    }
    addRowValues(this.pointOf(this.seriesOf(row), Number(row.b)), row);
  }

  private sumsOf(entry: Entry): Map<number, number> {
    let sums = entry.sums;
    if (sums === undefined) entry.sums = sums = new Map();
    return sums;
  }

  private seriesOf(row: Row): Entry {
    const groupBy = this.groupBy;
    let key = '';
    for (let index = 0; index < groupBy.length; index += 1) key += `${row[`g${index}`] ?? ''}\u0000`;
    let entry = this.series.get(key);
    if (!entry) {
      // A row without the dimension gets an empty label, as Grafana shows missing labels.
      const labels = Object.fromEntries(groupBy.map((name, index) => [name, row[`g${index}`] ?? '']));
      this.series.set(key, (entry = { labels, points: new Map() }));
    }
    return entry;
  }

  private pointOf(entry: Entry, bucket: number): Partial {
    if (entry.read !== undefined) this.moveRead(entry);
    const t = Math.floor(bucket / this.bucketMs) * this.bucketMs;
    let point = entry.points.get(t);
    if (!point) entry.points.set(t, (point = { c: 0, v: 0, s: 0, mn: null, mx: null, sketch: undefined, sketchAt: 0, sketchRow: undefined, more: undefined, minus: undefined, quantile: undefined, distinct: undefined, sparse: undefined }));
    return point;
  }

  private moveRead(entry: Entry): void {
    const { times, values } = entry.read!;
    entry.read = undefined;
    for (let index = 0; index < times.length; index += 1) addQuantile(this.pointOf(entry, times[index]!), values[index]!);
  }

  private addPoints(entry: Entry, text: string): void {
    if (this.part === undefined) throw new Error(`quantile points cannot answer ${this.aggregation}`);
    if (entry.points.size > 0 || entry.read !== undefined) {
      forEachPoint(text, this.part, (hour, value) => addQuantile(this.pointOf(entry, hour), value));
      return;
    }
    const read = { times: [] as number[], values: [] as number[], ordered: true };
    const bucketMs = this.bucketMs;
    let last = Number.NEGATIVE_INFINITY;
    forEachPoint(text, this.part, (hour, value) => {
      const t = Math.floor(hour / bucketMs) * bucketMs;
      if (t <= last) read.ordered = false;
      last = t;
      read.times.push(t);
      read.values.push(value);
    });
    entry.read = read;
  }
}

/** What one plain rollup row (not packed) adds to its point. */
function addRowValues(point: Partial, row: Row): void {
  if (row.c !== undefined) point.c += Number(row.c);
  if (row.v !== undefined) point.v += Number(row.v);
  if (row.s !== undefined) point.s += Number(row.s);
  if (row.mn !== undefined && row.mn !== null) point.mn = point.mn === null ? Number(row.mn) : Math.min(point.mn, Number(row.mn));
  if (row.mx !== undefined && row.mx !== null) point.mx = point.mx === null ? Number(row.mx) : Math.max(point.mx, Number(row.mx));
  if (row.sketch) addSketch(point, row.sketch, 0, row);
  if (row.minus) (point.minus ??= []).push(row.minus);
  // The union of the range's sketches, never a sum of per-bucket counts.
  if (row.sp) (point.sparse ??= []).push(row.sp);
  if (row.dn) (point.distinct ??= new DistinctAccumulator()).addDense(fromBase64(row.dn));
}

/**
 * A point with a sketch is a folded row with pending twins, sent again with its sketch: its bin key is not the answer.
 * Two bin keys in one point would be two stored rows, which a point read from keys never is.
 */
function addQuantile(point: Partial, value: number): void {
  if (point.quantile !== undefined) throw new Error('a point read from its bin key has another row');
  if (point.sketch === undefined) point.quantile = value;
}

/**
 * The values of `points` at `times`, from `from`, until the sketches merged (`merges.count`, across calls) reach
 * YIELD_EVERY; returns where it stopped.
 */
function valuesAt(points: Map<number, Partial>, times: number[], values: Array<number | null>, from: number, measure: Measure, q: number | undefined, merges: { count: number }): number {
  let index = from;
  while (index < times.length) {
    const point = points.get(times[index]!)!;
    values.push(valueOf(point, measure, q));
    index += 1;
    if (point.sketch !== undefined) merges.count += 1 + (point.more?.length ?? 0) / 2;
    if (merges.count >= YIELD_EVERY) return index;
  }
  return index;
}

/**
 * Merges rollup rows into query buckets per group-by values; series keyed by
 * labels, times ascending. This runs for every row of every cold answer, so it
 * avoids per-row allocations beyond one accumulator per query bucket, and hands
 * the event loop back every YIELD_EVERY rows or sketch merges.
 */
export async function toSeries(rows: Row[], query: SourceQuery, measure: Measure): Promise<Series[]> {
  const merge = new SeriesMerge(query, measure);
  for (let index = merge.addRows(rows, 0); index < rows.length; index = merge.addRows(rows, index)) {
    merge.work = 0;
    await nextTurn();
  }
  const q = QUANTILES[query.aggregation];
  const merges = { count: 0 };
  const out: Series[] = [];
  for (const { labels, points, read, sums } of merge.series.values()) {
    if (sums) {
      const times = [...sums.keys()].sort((a, b) => a - b);
      out.push({ labels, times, values: times.map((time) => sums.get(time)!) });
      continue;
    }
    if (read) {
      out.push(read.ordered ? { labels, times: read.times, values: read.values } : { labels, ...inTimeOrder(read.times, read.values, query.bucketMs) });
      continue;
    }
    const times = [...points.keys()].sort((a, b) => a - b);
    const values: Array<number | null> = [];
    for (let index = valuesAt(points, times, values, 0, measure, q, merges); index < times.length; index = valuesAt(points, times, values, index, measure, q, merges)) {
      merges.count = 0;
      await nextTurn();
    }
    out.push({ labels, times, values });
  }
  return out;
}

/**
 * Points read out of order, in time order; two in one bucket are an error. The packed texts of a series come in no
 * set order (string_agg after a sort by value), each in time order: its times are bucket starts, so each is put in its
 * bucket's slot when the range's buckets are not many more than the points (a comparison sort of an hourly p95 by bot's
 * 3,600 points was about 0.4 ms of Node per cold answer; bench/README.md, issue 20, step 14).
 */
export function inTimeOrder(times: number[], values: number[], bucketMs: number): { times: number[]; values: number[] } {
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const time of times) {
    if (time < first) first = time;
    if (time > last) last = time;
  }
  const slots = (last - first) / bucketMs + 1;
  if (times.length > 0 && Number.isInteger(slots) && slots <= 4 * times.length) {
    const at = new Int32Array(slots).fill(-1);
    for (let index = 0; index < times.length; index += 1) {
      const slot = (times[index]! - first) / bucketMs;
      if (!Number.isInteger(slot)) return sortedByTime(times, values);
      if (at[slot] !== -1) throw new Error('a point read from its bin key has another row');
      at[slot] = index;
    }
    const ordered = { times: [] as number[], values: [] as number[] };
    for (const index of at) {
      if (index < 0) continue;
      ordered.times.push(times[index]!);
      ordered.values.push(values[index]!);
    }
    return ordered;
  }
  return sortedByTime(times, values);
}

function sortedByTime(times: number[], values: number[]): { times: number[]; values: number[] } {
  const order = times.map((_, index) => index).sort((a, b) => times[a]! - times[b]!);
  for (let index = 1; index < order.length; index += 1) {
    if (times[order[index]!] === times[order[index - 1]!]) throw new Error('a point read from its bin key has another row');
  }
  return { times: order.map((index) => times[index]!), values: order.map((index) => values[index]!) };
}

// Sketches stay jsonb text: SketchAccumulator reads them faster than JSON.parse builds objects.
const JSONB_OID = 3802;
const JSONB_AS_TEXT = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === JSONB_OID ? (text: string) => text : pg.types.getTypeParser(oid, format))) as typeof pg.types.getTypeParser,
};

/**
 * The built-in source: metrics computed from the hourly and daily rollups of
 * ingested events. With read replicas (DATABASE_READ_URL) its reads go to a
 * standby that has replayed the organization's newest write (`readAfter`),
 * else to the primary.
 */
export class EventsAdapter implements SourceAdapter {
  readonly type = 'events';
  private readonly metricQueries = new Map<string, EventsMetricQuery>();

  constructor(
    readonly id: string,
    private readonly pool: Pool,
    private readonly replicas?: ReadReplicas,
    /**
     * `dimensionTotals: false` reads every grouped or filtered question from the dimensioned rollups; `quantileKeys:
     * false` reads per-dimension percentiles from the sketches only (tests and benchmarks compare the paths).
     */
    private readonly options: { dimensionTotals?: boolean; quantileKeys?: boolean; batch?: boolean } = {},
  ) {
    if (options.batch !== false) {
      this.batcher = new TotalsBatcher((readAfter, work) => this.read(readAfter, (pool) => this.withClient(pool, work)));
    }
  }

  /** Totals questions of one turn in one statement (events-batch.ts); `batch: false` sends each its own. */
  private readonly batcher: TotalsBatcher | undefined;

  async initialize(): Promise<void> {
    await this.assertRollupsReadable();
  }

  private async assertRollupsReadable(): Promise<void> {
    const { rows } = await this.pool.query<{ readable: boolean }>(ROLLUPS_READABLE);
    if (!rows[0]?.readable) throw new SourceError(this.id, 'unavailable', 'the database role may not read rollups_hourly (GRANT SELECT on the rollup tables)');
  }

  async query(query: SourceQuery, signal: AbortSignal): Promise<Series[]> {
    const metricQuery = this.metricQueryOf(query);
    const measure = measureOf(query, metricQuery);
    if (this.batcher && query.batch && isTotalsQuestion(query, metricQuery)) return toSeries(await this.batcher.rows({ query, metricQuery, measure }, signal), query, measure);
    return this.read(query.readAfter, (pool) =>
      this.withClient(pool, async (client, cancel) => {
        signal.addEventListener('abort', cancel, { once: true });
        try {
          const run = async (one: SourceQuery) => toSeries(await this.rowsOf(client, one, metricQuery, measure), one, measure);
          if (metricQuery.measure === 'level') return await levelSeries(query, run);
          return await run(query);
        } finally {
          signal.removeEventListener('abort', cancel);
        }
      }),
    );
  }

  /** `work` on a client of `pool`, with what cancels its statement server-side (a timed-out query is not left running). */
  private async withClient<T>(pool: Pool, work: (client: pg.PoolClient, cancel: () => void) => Promise<T>): Promise<T> {
    const client = await pool.connect();
    const cancel = () => void pool.query('SELECT pg_cancel_backend($1)', [(client as unknown as { processID: number }).processID]).catch(() => undefined);
    try {
      return await work(client, cancel);
    } finally {
      client.release();
    }
  }

  /**
   * The rollup rows of one question: from the totals per dimension when it
   * names one dimension and they hold all its events (events-dimension-totals.ts),
   * else from the dimensioned rollups (or the totals, without dimensions).
   */
  private async rowsOf(client: pg.PoolClient, query: SourceQuery, metricQuery: EventsMetricQuery, measure: Measure): Promise<Row[]> {
    const one = this.options.dimensionTotals === false ? undefined : oneDimensionOf(query, metricQuery, measure);
    if (one) {
      const slices = slicesFor(query.from.getTime(), query.to.getTime(), query.bucketMs);
      const { check, ...sql } = dimensionTotalsSql(query, metricQuery, measure, one, slices, this.options.quantileKeys !== false);
      const rows = completeRows((await client.query<Row>(sql)).rows, check);
      if (rows) return rows;
    }
    return (await client.query<Row>({ ...buildSql(query, metricQuery, measure), types: JSONB_AS_TEXT })).rows;
  }

  /** The `rolling` option: the metric over exactly [from, to), from the raw events (events-window.ts). */
  async window(query: SourceQuery, signal: AbortSignal): Promise<Series[]> {
    const metricQuery = this.metricQueryOf(query);
    if (signal.aborted) throw new SourceError(this.id, 'timeout', 'rolling window cancelled');
    return this.read(query.readAfter, (pool) => windowSeries(pool, query, metricQuery, measureOf(query, metricQuery), this.id));
  }

  async list(query: ListQuery, signal: AbortSignal): Promise<ListRow[]> {
    const metricQuery = this.metricQueryOf(query);
    if (signal.aborted) throw new SourceError(this.id, 'timeout', 'list cancelled');
    return this.read(query.readAfter, (pool) => listEvents(pool, query, metricQuery.eventTypes, (metricQuery.where ?? {}) as Record<string, string[]>));
  }

  async estimateSeries(query: SourceQuery, limit: number): Promise<number> {
    if (query.groupBy.length === 0) return 1;
    const metricQuery = this.metricQueryOf(query);
    return this.read(query.readAfter, async (pool) => {
      const one = this.options.dimensionTotals === false ? undefined : oneDimensionOf(query, metricQuery, 'count');
      if (one) {
        const { rows } = await pool.query<{ n: number; m: number }>(dimensionEstimateSql(query, metricQuery, one, limit));
        if (rows[0]?.m === 0) return rows[0].n;
      }
      const { rows } = await pool.query<{ n: number }>(buildEstimateSql(query, metricQuery, limit));
      return rows[0]?.n ?? 0;
    });
  }

  private read<T>(readAfter: WalPosition | undefined, work: (pool: Pool) => Promise<T>): Promise<T> {
    return this.replicas ? this.replicas.read(readAfter, work) : work(this.pool);
  }

  async healthCheck() {
    await this.assertRollupsReadable();
    return { ok: true, detail: 'rollups readable' };
  }

  async close(): Promise<void> {
    // The pool belongs to the application context and is closed with it.
  }

  private metricQueryOf(query: Pick<SourceQuery, 'metric'>): EventsMetricQuery {
    let parsed = this.metricQueries.get(query.metric.key);
    if (!parsed) {
      const result = eventsMetricQuerySchema.safeParse(query.metric.query ?? {});
      if (!result.success) throw new SourceError(this.id, 'bad_query', `metric '${query.metric.key}' has no valid events query: ${result.error.issues[0]?.message}`);
      parsed = result.data;
      this.metricQueries.set(query.metric.key, parsed);
    }
    return parsed;
  }
}

export const eventsAdapterType: AdapterType<typeof eventsSourceSchema, typeof eventsMetricQuerySchema> = {
  type: 'events',
  sourceSchema: eventsSourceSchema,
  metricQuerySchema: eventsMetricQuerySchema,
  create: (source, context: AppContext) => new EventsAdapter(source.id, context.pool, context.replicas),
};
