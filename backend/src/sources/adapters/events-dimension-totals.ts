import { BUCKET_MS } from '../../rollups/buckets.js';
import type { SourceQuery } from '../types.js';
import { valuesAtRunTime } from './run-time-values.js';
import { statementName } from './statement-names.js';
import { timeParam } from './events-time-params.js';
import type { EventsMetricQuery, Measure, Row, Slice } from './events.js';

/**
 * Questions that name exactly one dimension ("orders by channel", "p95 by
 * bot", "channel = web") read the totals per dimension (migration 0160): one
 * row per (type, bucket, dimension value) instead of one per dimension *set*
 * (channel x market: 20 rows an hour for orders), plus the rows ingestion
 * appended since the last fold, as the totals are read.
 *
 * An event without the dimension has no row there, yet a group-by answers it
 * as the series labelled "" (docs/api.md). So a group-by without an eq/in
 * condition on its dimension also returns the events of its rows and of the
 * totals over the same range (same statement, same snapshot), and the
 * adapter answers from the dimensioned rollups when the rows miss any
 * (such events exist, or rows older than the per-dimension totals). An eq/in
 * condition never keeps an event without the dimension, so it needs no count;
 * its answer only checks that the per-dimension totals hold any row of the
 * dimension where the totals hold events (two index probes): a database whose
 * per-dimension totals were never written for a range (rollups bulk-loaded
 * without `rebuild_dimension_totals()`, or ingestion without them) is read
 * from the dimensioned rollups rather than answered empty. `neq`/`not_in` keep
 * exactly the events without the dimension: such questions, and every other
 * one (two dimensions, distinct counts), read the dimensioned rollups.
 */
export interface OneDimension {
  dimension: string;
  grouped: boolean;
  /** Lists of values (the metric's `where`, the query's eq/in filters) a row's value must be in, every one. */
  valueLists: string[][];
}

const DAY = BUCKET_MS.day;
const HOUR = BUCKET_MS.hour;

/** Where each percentile's bin key sits among the keys of `quantile_points` (migrations 0165, 0180). */
export const QUANTILE_KEY_PART: Record<string, number> = { p50: 1, p90: 2, p95: 3, p99: 4 };

/** The one dimension a question reads per-dimension totals for, or undefined when it must read the dimensioned rollups. */
export function oneDimensionOf(query: Pick<SourceQuery, 'groupBy' | 'filters'>, metricQuery: EventsMetricQuery, measure: Measure): OneDimension | undefined {
  if (measure === 'distinct' || query.groupBy.length > 1) return undefined;
  const names = new Set<string>(query.groupBy);
  const valueLists: string[][] = [];
  for (const [name, values] of Object.entries(metricQuery.where ?? {})) {
    names.add(name);
    valueLists.push(values as string[]);
  }
  for (const filter of query.filters) {
    if (filter.op !== 'eq' && filter.op !== 'in') return undefined;
    names.add(filter.dimension);
    valueLists.push(Array.isArray(filter.value) ? filter.value : [filter.value]);
  }
  if (names.size !== 1) return undefined;
  return { dimension: [...names][0]!, grouped: query.groupBy.length === 1, valueLists };
}

/**
 * How an answer checks the per-dimension rows: `events`, their events against the totals' (a group-by whose
 * empty-label series they cannot show); `presence`, that they hold any row where the totals do (eq/in conditions).
 */
export type Check = 'events' | 'presence';
const checkOf = (one: OneDimension): Check => (one.grouped && one.valueLists.length === 0 ? 'events' : 'presence');

const grainOf = (slice: Slice) => (slice.table === 'rollups_hourly' ? 'hourly' : 'daily');

/** Positional parameters; dimension names and values only ever travel as parameters. */
function parameters(): { values: unknown[]; add: (value: unknown) => string } {
  const values: unknown[] = [];
  return { values, add: (value) => `$${values.push(value)}` };
}

type Range = { grain: string; from: string; to: string };

const inRange = (range: Range) => `bucket >= ${range.from}::timestamptz AND bucket < ${range.to}::timestamptz`;

/** `SELECT <columns> FROM` the folded and the pending table of each range, `UNION ALL`; `folded` replaces the folded table's SELECT. */
function selectFromBoth(tables: (grain: string) => string, ranges: Range[], columns: string, where: string, folded?: (table: string, pending: string, range: Range) => string): string {
  const selects: string[] = [];
  for (const range of ranges) {
    const table = tables(range.grain);
    const pending = `${table}_pending`;
    selects.push(folded ? folded(table, pending, range) : `SELECT ${columns} FROM ${table} WHERE ${where} AND ${inRange(range)}`);
    selects.push(`SELECT ${columns} FROM ${pending} WHERE ${where} AND ${inRange(range)}`);
  }
  return selects.join(' UNION ALL ');
}

/**
 * Whether every point of an hourly-or-finer percentile is at most one stored row per table: hourly rows only, one
 * event type, one value per series (a group-by, or a condition naming a single value). Such a point, when its
 * folded row has no pending twin, is read from the row's precomputed bin keys (migrations 0165, 0180) instead of its sketch.
 */
function pointsAreSingleRows(query: SourceQuery, metricQuery: EventsMetricQuery, one: OneDimension, slices: Slice[]): boolean {
  return (
    query.aggregation in QUANTILE_KEY_PART &&
    query.bucketMs <= HOUR &&
    slices.every((slice) => slice.table === 'rollups_hourly') &&
    new Set(metricQuery.eventTypes).size === 1 &&
    (one.grouped || one.valueLists.some((values) => new Set(values).size === 1))
  );
}

/**
 * The ranges of `slices` with their whole days read from the daily rows (the totals' daily rows hold the same events
 * as their hours): the events check of a 30-day hourly answer sums 30 + 24 totals rows instead of 720 wide ones.
 */
function wholeDaysOf(slices: Slice[], add: (value: unknown) => string): Range[] {
  const ranges: Range[] = [];
  const range = (grain: string, from: number, to: number) => ranges.push({ grain, from: add(timeParam(from)), to: add(timeParam(to)) });
  for (const slice of slices) {
    const dayFrom = Math.ceil(slice.from / DAY) * DAY;
    const dayTo = Math.floor(slice.to / DAY) * DAY;
    if (slice.table === 'rollups_daily' || dayTo <= dayFrom) {
      range(grainOf(slice), slice.from, slice.to);
      continue;
    }
    if (slice.from < dayFrom) range('hourly', slice.from, dayFrom);
    range('daily', dayFrom, dayTo);
    if (dayTo < slice.to) range('hourly', dayTo, slice.to);
  }
  return ranges;
}

/** The events of the ranges, from the totals. */
function totalEventsSql(ranges: Range[], keys: string): string {
  return `(SELECT coalesce(sum(count), 0) FROM (${selectFromBoth((grain) => `rollup_totals_${grain}`, ranges, 'count', keys)}) t)`;
}

/** 1 when the totals hold events of the range but the per-dimension totals no row of the dimension, else 0. */
function absentSql(ranges: Range[], keys: string, dimensionKeys: string): string {
  const any = (tables: (grain: string) => string, where: string) => `EXISTS (${selectFromBoth(tables, ranges, '1', where)})`;
  return `CASE WHEN ${any((grain) => `rollup_totals_${grain}`, keys)} AND NOT ${any((grain) => `rollup_dimension_totals_${grain}`, dimensionKeys)} THEN 1 ELSE 0 END`;
}

/**
 * Per measure: what each stored row adds to its series' packed text after its bucket (`addPackedValues` in events.ts
 * reads them in this order; `n` is a NULL), and the columns that takes.
 */
const PACKED: Record<Exclude<Measure, 'distinct'>, { read: string; values: string }> = {
  count: { read: 'count', values: 'count::text' },
  sum: { read: 'sum', values: 'sum::text' },
  avg: { read: 'value_count, sum', values: "value_count::text || ' ' || sum::text" },
  min: { read: 'min', values: "coalesce(min::text, 'n')" },
  max: { read: 'max', values: "coalesce(max::text, 'n')" },
  sketch: { read: 'sketch_text', values: 'sketch_text' },
};

/**
 * The statement of a one-dimension question over `slices` (slicesFor: daily
 * for whole days, hourly otherwise): one row per series, its stored rows
 * packed in one text of "<bucket ms> <values>" (`pv`; percentiles: `packed`,
 * the sketches' stored text form, as the dimensioned path packs them), merged
 * per query bucket in `toSeries`. Receiving the 2,880 rows of the hourly
 * orders by channel one by one cost node-pg 5-7 ms of CPU, their packed text
 * 1 ms, and PostgreSQL less (bench/README.md, issue 20, step 5).
 *
 * One more row carries the check (see OneDimension) in `m`, with no group
 * value and no packed text. `events`: each series also carries its events in
 * `m`, the check row minus the range's events from the totals, and the `m`
 * sum to zero when no event lacks a row (the difference in SQL over a
 * materialized CTE cost PostgreSQL 3 of the 6 ms of the hourly p95 by bot).
 * `presence`: the check row's `m` is 1 when the dimension has no row at all.
 *
 * An hourly percentile whose points are single rows also sends `points`, the
 * folded rows' stored "<hours since 1970> <p50 key> <p90 key> <p95 key> <p99
 * key>" (`quantile_points`, migration 0180), and packs the sketch of only the
 * points those cannot answer (see keyedFolded); whole days send their daily
 * rows' `hour_points`, the same entries for the day's hours (migration 0210):
 * bench/README.md, steps 7, 9 and 14.
 */
export function dimensionTotalsSql(
  query: SourceQuery,
  metricQuery: EventsMetricQuery,
  measure: Measure,
  one: OneDimension,
  slices: Slice[],
  quantileKeys = true,
): { text: string; values: unknown[]; name: string; check: Check } {
  if (measure === 'distinct') throw new Error('distinct counts have no per-dimension totals');
  const statement = parameters();
  const keys = `organization_id = ${statement.add(query.organizationId)}::uuid AND event_type = ANY(${statement.add(metricQuery.eventTypes)}::text[])`;
  const dimensionOnly = `${keys} AND dimension = ${statement.add(one.dimension)}::text`;
  const dimensionKeys = [dimensionOnly, ...one.valueLists.map((values) => `value = ANY(${statement.add(values)}::text[])`)].join(' AND ');
  const ranges: Range[] = slices.map((slice) => ({ grain: grainOf(slice), from: statement.add(timeParam(slice.from)), to: statement.add(timeParam(slice.to)) }));
  const check = checkOf(one);
  const checked = check === 'events';
  const { read, values } = PACKED[measure];
  const sketch = measure === 'sketch';
  const counted = checked && read !== 'count';
  const columnsReading = (readColumns: string, count = 'count') => ['bucket', 'value', ...(counted ? [count] : []), readColumns].join(', ');
  const where = sketch && !checked ? `${dimensionKeys} AND sketch IS NOT NULL` : dimensionKeys;
  // Each folded hourly row that is its point alone sends its stored "<hour> <keys>" (`points`), and its sketch only if
  // it has no points, or a pending row of the same hour and value will merge into it (the rows of the last fold
  // interval): such a twin is read once more, for its sketch (and no events), and its points are ignored. An
  // uncorrelated `IN` on each folded row, the previous form, cost a fifth of the statement. A connection's generic
  // plan sorts the rows by value to group them: rows with points leave their sketch out of that sort.
  const keyed = sketch && quantileKeys && pointsAreSingleRows(query, metricQuery, one, slices);
  // Each slice's whole days and ragged edges: the events check sums the totals over them, and a keyed answer reads the
  // folded hours of its whole days from the daily rows' `hour_points` (migration 0210), its edges from the hourly rows.
  const partsOf = slices.map((slice) => (keyed || checked ? wholeDaysOf([slice], statement.add) : []));
  const pointsOfHours = 'CASE WHEN quantile_points IS NULL THEN sketch_text END AS sketch_text';
  const keyedFolded = (table: string, pending: string, range: Range) =>
    [
      ...partsOf[ranges.indexOf(range)]!.map((part) => keyedFoldedPart(table, part)),
      `SELECT ${columnsReading(read, 'NULL::bigint')}, NULL FROM ${table} WHERE ${where} AND ${inRange(range)} ` +
        `AND (bucket, value) IN (SELECT bucket, value FROM ${pending} WHERE ${dimensionKeys} AND ${inRange(range)})`,
    ].join(' UNION ALL ');
  // A whole day's folded hours: the daily row's points while they were made from the hours its count holds (else
  // none, and its hours are read one by one, as are those of a day with an hour that has no points).
  const keyedFoldedPart = (hourly: string, part: Range) => {
    if (part.grain === 'hourly') return `SELECT ${columnsReading(pointsOfHours)}, quantile_points AS points FROM ${hourly} WHERE ${where} AND ${inRange(part)}`;
    const daily = 'rollup_dimension_totals_daily';
    const stale = 'sketch IS NOT NULL AND (hour_points IS NULL OR hour_points_count IS DISTINCT FROM count)';
    return (
      `SELECT ${columnsReading('NULL::text AS sketch_text')}, CASE WHEN hour_points_count = count THEN hour_points END AS points FROM ${daily} WHERE ${where} AND ${inRange(part)} UNION ALL ` +
      `SELECT ${columnsReading(pointsOfHours, 'NULL::bigint')}, quantile_points FROM ${hourly} WHERE ${where} AND ${inRange(part)} ` +
      `AND (date_bin('1 day', bucket, TIMESTAMPTZ '1970-01-01 00:00:00+00'), value) IN (SELECT bucket, value FROM ${daily} WHERE ${where} AND ${inRange(part)} AND ${stale})`
    );
  };
  // Percentiles pack only the rows with a sketch (with the check every row still counts its events), and not those read from points.
  const only = [...(keyed ? ['points IS NULL'] : []), ...(sketch && checked ? ['sketch_text IS NOT NULL'] : [])];
  // date_part is float8; extract() is numeric since PostgreSQL 14, and slower.
  const packed = [
    ...(keyed ? ["string_agg(points, ' ') AS points"] : []),
    `string_agg((date_part('epoch', bucket) * 1000)::bigint::text || ' ' || ${values}, ' ')${only.length > 0 ? ` FILTER (WHERE ${only.join(' AND ')})` : ''} AS ${sketch ? 'packed' : 'pv'}`,
  ];
  const rows = selectFromBoth((grain) => `rollup_dimension_totals_${grain}`, ranges, columnsReading(read) + (keyed ? ', NULL::text AS points' : ''), where, keyed ? keyedFolded : undefined);
  const select = [...(one.grouped ? ['value AS g0'] : []), ...packed, checked ? 'sum(count)::float8 AS m' : 'NULL::float8 AS m'];
  const checkRow = checked ? `-${totalEventsSql(partsOf.flat(), keys)}::float8` : `(${absentSql(ranges, keys, dimensionOnly)})::float8`;
  const empty = [...(one.grouped ? ['NULL'] : []), ...(keyed ? ['NULL'] : []), 'NULL'];
  const statementText = `SELECT ${select.join(', ')} FROM (${rows}) r${one.grouped ? ' GROUP BY value' : ''} UNION ALL SELECT ${empty.join(', ')}, ${checkRow}`;
  // Values at run time: PostgreSQL kept custom plans, planning each of the 4-12 branches on every execution (counts,
  // sums and extremes: bench/README.md, issue 20, step 15). Percentiles too since step 32: at 30M events it kept them
  // for the 30-day hourly p95 by bot (2.2-2.6 ms a run against 0.95 with its generic plan).
  const text = valuesAtRunTime(statementText);
  return { text, values: statement.values, name: statementName('events_dimension_', text), check };
}

/**
 * The rows of an answer without its check row, or undefined when the check
 * fails (the answer then comes from the dimensioned rollups).
 */
export function completeRows(rows: Row[], check: Check): Row[] | undefined {
  let missing = 0;
  let at = -1;
  for (let index = 0; index < rows.length; index += 1) {
    const row = rows[index]!;
    if (check === 'events') {
      // Every series has its value; only the check row has none.
      missing -= Number(row.m);
      if (row.g0 === null) at = index;
    } else if (row.m !== null && row.m !== undefined) {
      // Only the check row has an m.
      missing = row.m;
      at = index;
    }
  }
  if (at < 0) throw new Error('a per-dimension answer came without its check row');
  if (missing !== 0) return undefined;
  rows.splice(at, 1);
  return rows;
}

/**
 * The answer budget's estimate for a one-dimension group-by: the distinct
 * values of the daily per-dimension totals over the range's days, up to
 * `limit`, with the same check in `m` (not 0: counted from the dimensioned
 * rollups instead: a group-by that may answer an empty-label series, or rows
 * the per-dimension totals lack). Named, as the answer's statement: parsing
 * and planning it on each cold answer cost PostgreSQL 0.75 ms of CPU, running
 * it prepared 0.2 (bench/README.md, issue 20, step 9). Its values are read at
 * run time (valuesAtRunTime), or PostgreSQL still made a custom plan on every
 * run: 0.3-0.9 ms of CPU each, 0.07-0.14 ms with the generic plan (step 16).
 */
export function dimensionEstimateSql(query: SourceQuery, metricQuery: EventsMetricQuery, one: OneDimension, limit: number): { text: string; values: unknown[]; name: string } {
  const statement = parameters();
  const keys = `organization_id = ${statement.add(query.organizationId)}::uuid AND event_type = ANY(${statement.add(metricQuery.eventTypes)}::text[])`;
  const dimensionOnly = `${keys} AND dimension = ${statement.add(one.dimension)}::text`;
  const dimensionKeys = [dimensionOnly, ...one.valueLists.map((values) => `value = ANY(${statement.add(values)}::text[])`)].join(' AND ');
  const ranges = [{ grain: 'daily', from: statement.add(new Date(Math.floor(query.from.getTime() / DAY) * DAY)), to: statement.add(query.to) }];
  const checked = checkOf(one) === 'events';
  const tables = (grain: string) => `rollup_dimension_totals_${grain}`;
  const count = `(SELECT count(*) FROM (SELECT DISTINCT value FROM d LIMIT ${statement.add(limit)}) s)::int AS n`;
  const missing = checked ? `${totalEventsSql(ranges, keys)} - (SELECT coalesce(sum(count), 0) FROM d)` : absentSql(ranges, keys, dimensionOnly);
  const text = `WITH d AS (${selectFromBoth(tables, ranges, checked ? 'value, count' : 'value', dimensionKeys)}) SELECT ${count}, (${missing})::float8 AS m`;
  const runTime = valuesAtRunTime(text);
  return { text: runTime, values: statement.values, name: statementName('events_dimension_estimate_', runTime) };
}
