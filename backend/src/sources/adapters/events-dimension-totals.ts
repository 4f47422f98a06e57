import { createHash } from 'node:crypto';
import { BUCKET_MS } from '../../rollups/buckets.js';
import type { SourceQuery } from '../types.js';
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
 * condition on its dimension also returns how many events of the range the
 * per-dimension rows miss against the totals (same statement, same snapshot),
 * and the adapter answers from the dimensioned rollups when any are missing
 * (such events exist, or rows older than the per-dimension totals). An eq/in
 * condition never keeps an event without the dimension, so it needs no check.
 * `neq`/`not_in` keep exactly those events: such questions, and every other
 * one (two dimensions, distinct counts), read the dimensioned rollups.
 */
export interface OneDimension {
  dimension: string;
  grouped: boolean;
  /** Lists of values (the metric's `where`, the query's eq/in filters) a row's value must be in, every one. */
  valueLists: string[][];
}

const DAY = BUCKET_MS.day;

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

/** Whether the answer needs the completeness check: a group-by whose empty-label series the rows cannot show. */
const needsCheck = (one: OneDimension) => one.grouped && one.valueLists.length === 0;

const grainOf = (slice: Slice) => (slice.table === 'rollups_hourly' ? 'hourly' : 'daily');

/** Positional parameters; dimension names and values only ever travel as parameters. */
function parameters(): { values: unknown[]; add: (value: unknown) => string } {
  const values: unknown[] = [];
  return { values, add: (value) => `$${values.push(value)}` };
}

/** `SELECT <columns> FROM` the folded and the pending table of each range, `UNION ALL`. */
function selectFromBoth(tables: (grain: string) => string, ranges: Array<{ grain: string; from: string; to: string }>, columns: string, where: string): string {
  const selects: string[] = [];
  for (const range of ranges) {
    for (const table of [tables(range.grain), `${tables(range.grain)}_pending`]) {
      selects.push(`SELECT ${columns} FROM ${table} WHERE ${where} AND bucket >= ${range.from}::timestamptz AND bucket < ${range.to}::timestamptz`);
    }
  }
  return selects.join(' UNION ALL ');
}

/** The events of the range, from the totals. */
function totalEventsSql(ranges: Array<{ grain: string; from: string; to: string }>, keys: string): string {
  return `(SELECT coalesce(sum(count), 0) FROM (${selectFromBoth((grain) => `rollup_totals_${grain}`, ranges, 'count', keys)}) t)`;
}

/** Per measure: what each row sends (totals' column names: c, v, s, mn, mx). */
const COLUMNS: Record<Exclude<Measure, 'sketch' | 'distinct'>, { read: string[]; send: string[] }> = {
  count: { read: ['count'], send: ['count::float8 AS c'] },
  sum: { read: ['sum'], send: ['sum AS s'] },
  avg: { read: ['value_count', 'sum'], send: ['value_count::float8 AS v', 'sum AS s'] },
  min: { read: ['min'], send: ['min AS mn'] },
  max: { read: ['max'], send: ['max AS mx'] },
};

/**
 * The statement of a one-dimension question over `slices` (slicesFor: daily
 * for whole days, hourly otherwise): counts and sums one row per (bucket,
 * value) as they are stored, merged per query bucket in `toSeries`;
 * percentiles one row per series, its sketches packed as the dimensioned path
 * packs them, from the stored text form (`sketch_text`). With the check (see
 * OneDimension) each row carries its events in `m`, and one more row (no
 * group value) minus the range's events from the totals: the `m` sum to zero
 * when no event lacks a row. (Computing the difference in SQL over a
 * materialized CTE cost PostgreSQL 3 of the 6 ms of the hourly p95 by bot.)
 */
export function dimensionTotalsSql(query: SourceQuery, metricQuery: EventsMetricQuery, measure: Measure, one: OneDimension, slices: Slice[]): { text: string; values: unknown[]; name: string; checked: boolean } {
  const statement = parameters();
  const keys = `organization_id = ${statement.add(query.organizationId)}::uuid AND event_type = ANY(${statement.add(metricQuery.eventTypes)}::text[])`;
  const dimensionKeys = [`${keys} AND dimension = ${statement.add(one.dimension)}::text`, ...one.valueLists.map((values) => `value = ANY(${statement.add(values)}::text[])`)].join(' AND ');
  const ranges = slices.map((slice) => ({ grain: grainOf(slice), from: statement.add(new Date(slice.from)), to: statement.add(new Date(slice.to)) }));
  const checked = needsCheck(one);
  const group = one.grouped ? ['value AS g0'] : [];
  const tables = (grain: string) => `rollup_dimension_totals_${grain}`;
  let text: string;
  if (measure === 'sketch') {
    const packed = `string_agg((extract(epoch FROM bucket)::bigint * 1000)::text || ' ' || sketch_text, ' ')`;
    const byValue = one.grouped ? ' GROUP BY value' : '';
    if (!checked) {
      const rows = selectFromBoth(tables, ranges, 'bucket, value, sketch_text', `${dimensionKeys} AND sketch IS NOT NULL`);
      text = `SELECT ${[...group, `${packed} AS packed`].join(', ')} FROM (${rows}) r${byValue}`;
    } else {
      // Every row counts towards the check; only those with a sketch are packed.
      const rows = selectFromBoth(tables, ranges, 'bucket, value, count, sketch_text', dimensionKeys);
      text =
        `SELECT value AS g0, ${packed} FILTER (WHERE sketch_text IS NOT NULL) AS packed, sum(count)::float8 AS m FROM (${rows}) r${byValue}` +
        ` UNION ALL SELECT NULL, NULL, -${totalEventsSql(ranges, keys)}::float8`;
    }
  } else if (measure === 'distinct') {
    throw new Error('distinct counts have no per-dimension totals');
  } else {
    const { read, send } = COLUMNS[measure];
    const time = 'extract(epoch FROM bucket)::float8 * 1000 AS b';
    const columns = ['bucket', 'value', ...new Set([...(checked ? ['count'] : []), ...read])].join(', ');
    const rows = selectFromBoth(tables, ranges, columns, dimensionKeys);
    text = checked
      ? `SELECT ${[time, ...group, ...send].join(', ')}, count::float8 AS m FROM (${rows}) r UNION ALL SELECT ${['NULL', ...group, ...send].map(() => 'NULL').join(', ')}, -${totalEventsSql(ranges, keys)}::float8`
      : `SELECT ${[time, ...group, ...send].join(', ')} FROM (${rows}) r`;
  }
  return { text, values: statement.values, name: `events_dimension_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`, checked };
}

/**
 * The rows of a checked answer without its check row, or undefined when the
 * per-dimension rows miss events (the answer then comes from the dimensioned
 * rollups). Unchecked answers pass through.
 */
export function completeRows(rows: Row[], checked: boolean): Row[] | undefined {
  if (!checked) return rows;
  let missing = 0;
  let check = -1;
  for (let index = 0; index < rows.length; index += 1) {
    const row = rows[index]!;
    missing -= Number(row.m);
    if (row.g0 === null) check = index;
  }
  if (check < 0) throw new Error('a checked per-dimension answer came without its check row');
  if (missing !== 0) return undefined;
  rows.splice(check, 1);
  return rows;
}

/**
 * The answer budget's estimate for a one-dimension group-by: the distinct
 * values of the daily per-dimension totals over the range's days, up to
 * `limit`, with the same check (a group-by that may answer an empty-label
 * series, or rows older than these totals, is counted from the dimensioned
 * rollups instead).
 */
export function dimensionEstimateSql(query: SourceQuery, metricQuery: EventsMetricQuery, one: OneDimension, limit: number): { text: string; values: unknown[]; checked: boolean } {
  const statement = parameters();
  const keys = `organization_id = ${statement.add(query.organizationId)}::uuid AND event_type = ANY(${statement.add(metricQuery.eventTypes)}::text[])`;
  const dimensionKeys = [`${keys} AND dimension = ${statement.add(one.dimension)}::text`, ...one.valueLists.map((values) => `value = ANY(${statement.add(values)}::text[])`)].join(' AND ');
  const ranges = [{ grain: 'daily', from: statement.add(new Date(Math.floor(query.from.getTime() / DAY) * DAY)), to: statement.add(query.to) }];
  const checked = needsCheck(one);
  const tables = (grain: string) => `rollup_dimension_totals_${grain}`;
  const count = `(SELECT count(*) FROM (SELECT DISTINCT value FROM d LIMIT ${statement.add(limit)}) s)::int AS n`;
  const missing = `(${totalEventsSql(ranges, keys)} - (SELECT coalesce(sum(count), 0) FROM d))::float8 AS m`;
  const text = `WITH d AS (${selectFromBoth(tables, ranges, checked ? 'value, count' : 'value', dimensionKeys)}) SELECT ${count}${checked ? `, ${missing}` : ''}`;
  return { text, values: statement.values, checked };
}
