import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { after, before, test } from 'node:test';
import { createOrganization } from '../src/auth/keys.js';
import { loadCatalog } from '../src/catalog/load.js';
import type { CatalogMetric } from '../src/catalog/schema.js';
import { migrateUp } from '../src/db/migrate.js';
import { createPool, type Pool } from '../src/db/pool.js';
import { ingestEvents } from '../src/ingest/ingest.js';
import { createLogger } from '../src/logger.js';
import { WHOLE_RANGE_MS } from '../src/query/buckets.js';
import { refreshCumulativeSketches } from '../src/rollups/cumulative-sketches.js';
import { SketchAccumulator } from '../src/rollups/sketch.js';
import { EventsAdapter, slicesFor } from '../src/sources/adapters/events.js';
import type { Series, SourceQuery } from '../src/sources/types.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { seededRandom } from './support/seeded-random.js';

/**
 * rollup_totals_edge_rows() (migration 0320): a one-bucket percentile with whole days may read an edge as its whole
 * day minus the day's hours outside the range. Its sketches must merge to exactly the bins of every hourly row in the
 * range (folded and pending), and every answer must equal the one read through rollup_totals_prefix_rows() (0200).
 */
const SEED = Number(process.env.EDGE_DAYS_SEED ?? randomInt(2 ** 31));
console.log(`edge days tests: seed ${SEED} (replay with EDGE_DAYS_SEED=${SEED})`);

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2025, 0, 1);
/** Days T0 .. T0 + DAYS - 1 get cumulative rows; TODAY (the last generated day) has none, as today has none. */
const DAYS = 12;
const TODAY = T0 + DAYS * DAY;
const NOW = TODAY + DAY + HOUR;

const catalog = loadCatalog();
const twoTypes: CatalogMetric = { ...catalog.metric('order_value')!, key: 'order_and_response_values', query: { eventTypes: ['order.created', 'bot.response'], measure: 'value' } };
const metrics = [catalog.metric('bot_response_time_ms')!, catalog.metric('order_value')!, twoTypes];
const typesOf = (metric: CatalogMetric) => (metric.query as { eventTypes: string[] }).eventTypes;
const signal = new AbortController().signal;
let database: TestDatabase;
let pool: Pool;
let organization: string;
let adapter: EventsAdapter;

/**
 * Events on the generated days (TODAY included). Each day crowds its events into the first or the last hours, or
 * spreads them, so that an edge's day has sometimes fewer hours outside the range than inside and sometimes more.
 */
function events(random: () => number, count: number, prefix: string, days = DAYS + 1): unknown[] {
  const shapes = Array.from({ length: days }, () => Math.floor(random() * 3));
  return Array.from({ length: count }, (_, index) => {
    const dayIndex = Math.floor(random() * days);
    const shape = shapes[dayIndex]!;
    const r = random();
    const at = shape === 0 ? r * r : shape === 1 ? 1 - r * r : r;
    const type = random() < 0.5 ? 'order.created' : 'bot.response';
    const roll = random();
    const value = roll < 0.1 ? undefined : type === 'order.created' && roll < 0.25 ? -1 - Math.round(random() * 50) : Math.round(Math.exp(2 + 5 * random()) * 100) / 100;
    return {
      id: `${prefix}${index}`,
      type,
      occurredAt: new Date(T0 + dayIndex * DAY + Math.min(DAY - 1, Math.floor(at * DAY))).toISOString(),
      ...(value === undefined ? {} : { value }),
      attributes: type === 'order.created' ? { channel: random() < 0.5 ? 'web' : 'app' } : { botId: 'faq', success: random() < 0.9 },
    };
  });
}

async function ingest(list: unknown[]): Promise<void> {
  for (let start = 0; start < list.length; start += 500) {
    const chunk = list.slice(start, start + 500);
    const result = await ingestEvents(pool, organization, chunk, { now: () => NOW });
    assert.equal(result.accepted, chunk.length, JSON.stringify(result.rejected.slice(0, 3)));
  }
}

const fold = () => pool.query('SELECT fold_rollup_totals()');
const refresh = () => refreshCumulativeSketches(pool, { today: new Date(TODAY) });

before(async () => {
  database = await createTestDatabase('edge_days');
  await migrateUp(database.url, createLogger('silent'));
  pool = createPool(database.url, 2, createLogger('silent'));
  organization = (await createOrganization(pool, 'edge days')).id;
  adapter = new EventsAdapter('events', pool);
});

after(async () => {
  await pool?.end();
  await database?.drop();
});

interface Range {
  types: string[];
  from: number;
  to: number;
}

/** Ranges with whole days inside, starting and ending anywhere (milliseconds included), some ending on TODAY. */
function ranges(random: () => number, count: number): Range[] {
  const list: Range[] = [];
  while (list.length < count) {
    const from = T0 - 3 * HOUR + Math.floor(random() * (DAYS + 1) * DAY);
    const to = random() < 0.2 ? TODAY + Math.floor(random() * DAY) : from + 1 + Math.floor(random() * (T0 + (DAYS + 1) * DAY - from));
    const metric = metrics[Math.floor(random() * metrics.length)]!;
    if (to > from && slicesFor(from, to, WHOLE_RANGE_MS).some((slice) => slice.table === 'rollups_daily')) list.push({ types: typesOf(metric), from, to });
  }
  return list;
}

/** The function's rows for a range, its bounds passed as events.ts passes them. */
async function edgeRows(range: Range, fn = 'rollup_totals_edge_rows'): Promise<Array<{ sketch: string | null; minus: string | null }>> {
  const slices = slicesFor(range.from, range.to, WHOLE_RANGE_MS);
  const days = slices.find((slice) => slice.table === 'rollups_daily')!;
  const start = slices.find((slice) => slice.table === 'rollups_hourly' && slice.to === days.from);
  const end = slices.find((slice) => slice.table === 'rollups_hourly' && slice.from === days.to);
  const bound = (at: number | undefined) => (at === undefined ? null : new Date(at));
  const { rows } = await pool.query<{ sketch: string | null; minus: string | null }>(`SELECT sketch, minus FROM ${fn}($1, $2, $3, $4, $5, $6, $7, $8)`, [
    organization, range.types, bound(days.from), bound(days.to), bound(start?.from), bound(start?.to), bound(end?.from), bound(end?.to),
  ]);
  return rows;
}

/** Every sketch added, then every `minus` taken out, as the answer's merge does. */
function merge(rows: Array<{ sketch: string | null; minus: string | null }>): SketchAccumulator {
  const merged = new SketchAccumulator();
  for (const row of rows) if (row.sketch) merged.addJsonAt(row.sketch, 0);
  for (const row of rows) if (row.minus) merged.subtractJsonAt(row.minus, 0);
  return merged;
}

/** The bins of every hourly row of the range, folded and pending. */
async function hourlyMerge(range: Range): Promise<SketchAccumulator> {
  const { rows } = await pool.query<{ sketch: string }>(
    `SELECT sketch_text AS sketch FROM rollup_totals_hourly WHERE organization_id = $1 AND event_type = ANY($2) AND bucket >= $3 AND bucket < $4 AND sketch IS NOT NULL
     UNION ALL
     SELECT sketch_text FROM rollup_totals_hourly_pending WHERE organization_id = $1 AND event_type = ANY($2) AND bucket >= $3 AND bucket < $4 AND sketch IS NOT NULL`,
    [organization, range.types, new Date(Math.floor(range.from / HOUR) * HOUR), new Date(range.to)],
  );
  return merge(rows.map((row) => ({ sketch: row.sketch, minus: null })));
}

const query = (range: Range, aggregation: 'p50' | 'p95' | 'p99'): SourceQuery => ({
  organizationId: organization,
  metric: metrics.find((metric) => typesOf(metric).join() === range.types.join())!,
  aggregation,
  groupBy: [],
  filters: [],
  from: new Date(range.from),
  to: new Date(range.to),
  bucketMs: WHOLE_RANGE_MS,
});

/**
 * For `count` seeded ranges: the function's merged bins equal the range's hourly bins, each answer equals the
 * all-hourly merge's quantile, and the answers equal those read through rollup_totals_prefix_rows() (the function's
 * body swapped for a call of it, then put back). Returns how many ranges read an edge as its day.
 */
async function assertExact(seed: number, what: string, count = 80): Promise<number> {
  const list = ranges(seededRandom(seed), count);
  const aggregations = ['p50', 'p95', 'p99'] as const;
  let whole = 0;
  const answers: Series[][] = [];
  for (const [index, range] of list.entries()) {
    const rows = await edgeRows(range);
    if (rows.some((row) => row.sketch === null && row.minus !== null)) whole += 1;
    const at = `${what}, range ${index}: ${JSON.stringify({ ...range, from: new Date(range.from), to: new Date(range.to) })}`;
    const expected = await hourlyMerge(range);
    assert.deepStrictEqual(merge(rows).toBins(), expected.toBins(), `${at}: bins`);
    const aggregation = aggregations[index % 3]!;
    const answer = await adapter.query(query(range, aggregation), signal);
    answers.push(answer);
    const value = answer[0]?.values[0] ?? null;
    assert.equal(value, expected.quantile({ p50: 0.5, p95: 0.95, p99: 0.99 }[aggregation]) ?? null, `${at}: ${aggregation}`);
  }
  const { rows } = await pool.query<{ definition: string }>("SELECT pg_get_functiondef('rollup_totals_edge_rows'::regproc) AS definition");
  await pool.query(`CREATE OR REPLACE FUNCTION rollup_totals_edge_rows(org uuid, types text[], day_from timestamptz, day_to timestamptz,
      hour_from timestamptz, hour_to timestamptz, edge_from timestamptz, edge_to timestamptz)
    RETURNS TABLE (bucket timestamptz, sketch text, minus text) LANGUAGE sql STABLE AS
    'SELECT * FROM rollup_totals_prefix_rows(org, types, day_from, day_to, hour_from, hour_to, edge_from, edge_to)'`);
  try {
    for (const [index, range] of list.entries()) {
      const before = await adapter.query(query(range, aggregations[index % 3]!), signal);
      assert.deepStrictEqual(answers[index], before, `${what}, range ${index}: the answer read through rollup_totals_prefix_rows()`);
    }
  } finally {
    await pool.query(rows[0]!.definition);
  }
  return whole;
}

test('the edges read as whole days give the all-hourly bins and answers, with pending rows, late events and damaged days', async () => {
  const random = seededRandom(SEED);
  await ingest(events(random, 3_000, 'a'));
  await fold();
  await refresh();
  const folded = await assertExact(SEED + 1, 'folded');
  assert.ok(folded > 10, `folded: ${folded} ranges read an edge as its day`);

  // Pending rows on both sides (unfolded): hourly and daily pending rows of the same events.
  await ingest(events(random, 600, 'b'));
  assert.ok(await assertExact(SEED + 2, 'pending') > 10);

  // Late events folded but not yet in the prefixes: the cumulative check falls back to the daily rows.
  await fold();
  assert.ok(await assertExact(SEED + 3, 'folded, prefixes stale') > 10);

  await refresh();
  await ingest(events(random, 300, 'c'));
  assert.ok(await assertExact(SEED + 4, 'refreshed, pending again') > 10);
});

test('a day whose hourly rows no longer sum to its daily row is read hour by hour (the count check)', async () => {
  const random = seededRandom(SEED + 10);
  // Hourly rows deleted by hand (as a retention of hours would): the days' daily rows keep them.
  const damaged = Array.from({ length: 4 }, () => T0 + (1 + Math.floor(random() * (DAYS - 2))) * DAY);
  const { rowCount } = await pool.query(
    `DELETE FROM rollup_totals_hourly WHERE organization_id = $1 AND date_trunc('day', bucket AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' = ANY($2::timestamptz[])
       AND extract(hour FROM bucket AT TIME ZONE 'UTC')::int % 5 = 0`,
    [organization, damaged.map((day) => new Date(day))],
  );
  assert.ok((rowCount ?? 0) > 0, 'some hourly rows deleted');
  let edges = 0;
  for (let index = 0; index < 120; index += 1) {
    const day = damaged[index % damaged.length]!;
    const types = typesOf(metrics[index % metrics.length]!);
    // A range starting or ending inside a damaged day: that edge must be read from its hours, as before.
    const inside = day + HOUR * (1 + Math.floor(random() * 22)) + Math.floor(random() * HOUR);
    const range = index % 2 === 0 ? { types, from: inside, to: inside + 2 * DAY + Math.floor(random() * 3 * DAY) } : { types, from: inside - 2 * DAY - Math.floor(random() * 3 * DAY), to: inside };
    const rows = await edgeRows(range);
    const before = await edgeRows(range, 'rollup_totals_prefix_rows');
    assert.deepStrictEqual(merge(rows).toBins(), merge(before).toBins(), `damaged ${new Date(day).toISOString()}, ${JSON.stringify(range)}`);
    edges += 1;
  }
  assert.equal(edges, 120);
});
