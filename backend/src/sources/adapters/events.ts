import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { Pool } from '../../db/pool.js';
import { BUCKET_MS } from '../../rollups/buckets.js';
import { ROLLUP_DIMENSIONS } from '../../rollups/dimensions.js';
import { mergeBins, quantile, type SketchBins } from '../../rollups/sketch.js';
import { SourceError } from '../errors.js';
import type { AdapterType, Filter, Series, SourceAdapter, SourceQuery } from '../types.js';

const HOUR = BUCKET_MS.hour;
const DAY = BUCKET_MS.day;

const dimension = z.enum(ROLLUP_DIMENSIONS, { message: `must be a rollup dimension (${ROLLUP_DIMENSIONS.join(', ')})` });

/** A metric of the built-in source: which events count and what is measured. */
export const eventsMetricQuerySchema = z
  .object({
    eventTypes: z.array(z.string().min(1)).min(1, 'needs at least one event type'),
    measure: z.enum(['count', 'value']),
    where: z.partialRecord(dimension, z.array(z.string()).min(1)).optional(),
  })
  .strict();
export type EventsMetricQuery = z.infer<typeof eventsMetricQuerySchema>;

const eventsSourceSchema = z.object({ id: z.string(), type: z.literal('events') }).passthrough();

const QUANTILES: Record<string, number> = { p50: 0.5, p90: 0.9, p95: 0.95, p99: 0.99 };

/** Which rollup table covers which part of the range: [from, to) in epoch ms. */
interface Slice {
  table: 'rollups_hourly' | 'rollups_daily';
  from: number;
  to: number;
}

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
class Params {
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

type Measure = 'count' | 'sum' | 'avg' | 'min' | 'max' | 'sketch';

function measureOf(query: SourceQuery, metricQuery: EventsMetricQuery): Measure {
  const { aggregation } = query;
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
 * Builds the SQL for one query: rows of (t, g0..gn, measure columns). `t` is
 * the query bucket start, aligned down to a multiple of bucketMs (UTC).
 */
export function buildSql(query: SourceQuery, metricQuery: EventsMetricQuery, measure: Measure): { text: string; values: unknown[] } {
  const params = new Params();
  const org = params.add(query.organizationId);
  const types = params.add(metricQuery.eventTypes);
  const bucket = params.add(query.bucketMs);
  const groups = query.groupBy.map((name, index) => `dims->>${params.add(name)}::text AS g${index}`);
  const conditions: string[] = [];
  for (const [name, values] of Object.entries(metricQuery.where ?? {})) {
    conditions.push(filterCondition({ dimension: name, op: 'in', value: values as string[] }, params));
  }
  for (const filter of query.filters) conditions.push(filterCondition(filter, params));

  const selectRows = (slice: Slice) => {
    const where = [
      `organization_id = ${org}::uuid`,
      `event_type = ANY(${types}::text[])`,
      `bucket >= ${params.add(new Date(slice.from))}::timestamptz`,
      `bucket < ${params.add(new Date(slice.to))}::timestamptz`,
      ...conditions,
    ];
    const columns = measure === 'sketch' ? 'sketch' : 'count, sum, min, max';
    return `SELECT bucket, dims, ${columns} FROM ${slice.table} WHERE ${where.join(' AND ')}`;
  };
  const rows = slicesFor(query.from.getTime(), query.to.getTime(), query.bucketMs).map(selectRows).join(' UNION ALL ');
  const time = `floor(extract(epoch FROM bucket) * 1000 / ${bucket}::float8) * ${bucket}::float8 AS t`;
  const keys = ['t', ...groups.map((_, index) => `g${index}`)];
  if (measure === 'sketch') {
    // Merge bins in SQL (sum per bin key) so only the merged sketch travels.
    return {
      text: `SELECT ${keys.join(', ')}, b.key AS bin, sum(b.n::float8) AS n
             FROM (SELECT ${[time, ...groups].join(', ')}, sketch FROM (${rows}) r WHERE sketch IS NOT NULL) s,
                  LATERAL jsonb_each_text(s.sketch) AS b(key, n)
             GROUP BY ${keys.map((_, index) => index + 1).join(', ')}, bin`,
      values: params.values,
    };
  }
  const value = {
    count: 'sum(count)::float8',
    sum: 'sum(sum)',
    avg: 'sum(sum) / nullif(sum(count), 0)',
    min: 'min(min)',
    max: 'max(max)',
  }[measure];
  return {
    text: `SELECT ${[time, ...groups].join(', ')}, ${value} AS v FROM (${rows}) r GROUP BY ${keys.map((_, index) => index + 1).join(', ')}`,
    values: params.values,
  };
}

interface Row {
  t: number;
  v?: number | null;
  bin?: string;
  n?: number;
  [group: `g${number}`]: string | null;
}

/** Groups rows into series keyed by their group-by values, times ascending. */
function toSeries(rows: Row[], query: SourceQuery, measure: Measure): Series[] {
  const series = new Map<string, { labels: Record<string, string>; points: Map<number, number | null | SketchBins> }>();
  for (const row of rows) {
    const labels: Record<string, string> = {};
    // A row without the dimension gets an empty label, as Grafana shows missing labels.
    query.groupBy.forEach((name, index) => (labels[name] = row[`g${index}`] ?? ''));
    const key = JSON.stringify(query.groupBy.map((name) => labels[name]));
    let entry = series.get(key);
    if (!entry) series.set(key, (entry = { labels, points: new Map() }));
    const t = Number(row.t);
    if (measure === 'sketch') {
      const bins = (entry.points.get(t) as SketchBins | undefined) ?? {};
      mergeBins(bins, { [row.bin!]: Number(row.n) });
      entry.points.set(t, bins);
    } else {
      entry.points.set(t, row.v === null || row.v === undefined ? null : Number(row.v));
    }
  }
  const q = QUANTILES[query.aggregation];
  return [...series.values()].map(({ labels, points }) => {
    const times = [...points.keys()].sort((a, b) => a - b);
    const values = times.map((t) => {
      const point = points.get(t)!;
      if (measure !== 'sketch') return point as number | null;
      return quantile(point as SketchBins, q!) ?? null;
    });
    return { labels, times, values };
  });
}

/** The built-in source: metrics computed from the hourly and daily rollups of ingested events. */
export class EventsAdapter implements SourceAdapter {
  readonly type = 'events';
  private readonly metricQueries = new Map<string, EventsMetricQuery>();

  constructor(
    readonly id: string,
    private readonly pool: Pool,
  ) {}

  async initialize(): Promise<void> {
    await this.pool.query('SELECT 1 FROM rollups_hourly LIMIT 0');
  }

  async query(query: SourceQuery, signal: AbortSignal): Promise<Series[]> {
    const metricQuery = this.metricQueryOf(query);
    const measure = measureOf(query, metricQuery);
    const sql = buildSql(query, metricQuery, measure);
    const client = await this.pool.connect();
    // A timed-out query is cancelled server-side rather than left running.
    const cancel = () => void this.pool.query('SELECT pg_cancel_backend($1)', [(client as unknown as { processID: number }).processID]).catch(() => undefined);
    signal.addEventListener('abort', cancel, { once: true });
    try {
      const result = await client.query<Row>(sql);
      return toSeries(result.rows, query, measure);
    } finally {
      signal.removeEventListener('abort', cancel);
      client.release();
    }
  }

  async healthCheck() {
    await this.pool.query('SELECT 1 FROM rollups_hourly LIMIT 0');
    return { ok: true, detail: 'rollups readable' };
  }

  async close(): Promise<void> {
    // The pool belongs to the application context and is closed with it.
  }

  private metricQueryOf(query: SourceQuery): EventsMetricQuery {
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
  create: (source, context: AppContext) => new EventsAdapter(source.id, context.pool),
};
