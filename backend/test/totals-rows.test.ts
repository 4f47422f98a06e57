import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { after, before, test } from 'node:test';
import { createOrganization } from '../src/auth/keys.js';
import { loadCatalog } from '../src/catalog/load.js';
import { migrateUp } from '../src/db/migrate.js';
import { createPool, type Pool } from '../src/db/pool.js';
import { ingestEvents } from '../src/ingest/ingest.js';
import { createLogger } from '../src/logger.js';
import { WHOLE_RANGE_MS } from '../src/query/buckets.js';
import { buildSql, EventsAdapter, eventsMetricQuerySchema, measureOf } from '../src/sources/adapters/events.js';
import type { Series, SourceQuery } from '../src/sources/types.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { seededRandom } from './support/seeded-random.js';

const SEED = Number(process.env.TOTALS_ROWS_SEED ?? randomInt(2 ** 31));
console.log(`totals rows tests: seed ${SEED} (replay with TOTALS_ROWS_SEED=${SEED})`);

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 5, 1);
const DAYS = 5;
const NOW = T0 + (DAYS + 1) * DAY;

const catalog = loadCatalog();
const signal = new AbortController().signal;
let database: TestDatabase;
let pool: Pool;
let organization: string;
let adapter: EventsAdapter;
let dimensioned: EventsAdapter;

/** Orders (some without value, some zero or negative) and bot responses, anywhere in DAYS days. */
function events(random: () => number, count: number, prefix: string): unknown[] {
  return Array.from({ length: count }, (_, index) => {
    const isOrder = random() < 0.55;
    const roll = random();
    const value = roll < 0.15 ? undefined : isOrder && roll < 0.2 ? 0 : isOrder && roll < 0.25 ? -Math.round(random() * 50) : Math.round(Math.exp(2 + 4 * random()) * 100) / 100;
    return {
      id: `${prefix}${index}`,
      type: isOrder ? 'order.created' : 'bot.response',
      occurredAt: new Date(T0 + Math.floor(random() * DAYS * DAY)).toISOString(),
      ...(value === undefined || (!isOrder && value < 0) ? {} : { value }),
      attributes: isOrder ? { channel: random() < 0.5 ? 'web' : 'app' } : { botId: 'faq', success: random() < 0.9 },
    };
  });
}

before(async () => {
  database = await createTestDatabase('totals_rows');
  await migrateUp(database.url, createLogger('silent'));
  pool = createPool(database.url, 2, createLogger('silent'));
  organization = (await createOrganization(pool, 'totals rows')).id;
  adapter = new EventsAdapter('events', pool);
  dimensioned = new EventsAdapter('events', pool, undefined, { dimensionTotals: false });
  const all = events(seededRandom(SEED), 2_000, 'e');
  for (let start = 0; start < all.length; start += 500) {
    const result = await ingestEvents(pool, organization, all.slice(start, start + 500), { now: () => NOW });
    assert.equal(result.accepted, 500, JSON.stringify(result.rejected.slice(0, 3)));
  }
});

after(async () => {
  await pool?.end();
  await database?.drop();
});

/** A question without group-by or filters (the totals), over a range with ragged hours or whole days. */
function randomQuestion(random: () => number): SourceQuery {
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
  const metric = catalog.metric(pick(['orders_created', 'order_value', 'bot_response_time_ms']))!;
  const counts = eventsMetricQuerySchema.parse(metric.query).measure === 'count';
  const aggregation = counts ? pick(['count', 'sum'] as const) : random() < 0.5 ? pick(['p50', 'p95', 'p99'] as const) : pick(['count', 'sum', 'avg', 'min', 'max'] as const);
  const wholeDays = random() < 0.25;
  const from = wholeDays ? T0 + Math.floor(random() * DAYS) * DAY : T0 - 3 * HOUR + Math.floor(random() * (DAYS * DAY));
  const to = wholeDays ? from + (1 + Math.floor(random() * 3)) * DAY : from + 1 + Math.floor(random() * (DAYS * DAY));
  return { organizationId: organization, metric, aggregation, groupBy: [], filters: [], from: new Date(from), to: new Date(to), bucketMs: pick([HOUR, 3 * HOUR, DAY, WHOLE_RANGE_MS]) };
}

/** Counts, extremes and percentiles exactly (integer bin counts sum exactly in any order); sums and averages within float tolerance. */
function assertSame(actual: Series[], expected: Series[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: series`);
  actual.forEach((one, index) => {
    const other = expected[index]!;
    assert.deepEqual(one.times, other.times, `${what}: times`);
    one.values.forEach((value, at) => {
      const want = other.values[at]!;
      if (value === null || want === null) assert.equal(value, want, `${what} at ${one.times[at]}`);
      else assert.ok(Math.abs(value - want) <= 1e-9 * Math.max(1, Math.abs(want)), `${what} at ${one.times[at]}: ${value} vs ${want}`);
    });
  });
}

/**
 * The totals (percentiles read through rollup_totals_rows()) against the dimensioned rollups: a filter "channel (or botId) is
 * not a value no event has" keeps every event, and sends the question to the rows of every dimension combination.
 */
async function assertTotalsAnswerAsDimensioned(seed: number, label: string): Promise<number> {
  const random = seededRandom(seed);
  let read = 0;
  let sketches = 0;
  for (let round = 0; round < 200; round += 1) {
    const query = randomQuestion(random);
    const what = `${label}, round ${round}: ${JSON.stringify({ metric: query.metric.key, aggregation: query.aggregation, from: query.from, to: query.to, bucketMs: query.bucketMs })}`;
    const measure = measureOf(query, eventsMetricQuerySchema.parse(query.metric.query));
    // Percentiles read through a function (one query bucket with whole days: the cumulative sketches' one, migration
    // 0200, which without cumulative rows reads the daily rows); counts and sums keep their own statement.
    const viaFunction = /FROM rollup_totals_(prefix_)?rows\(/.test(buildSql(query, eventsMetricQuerySchema.parse(query.metric.query), measure).text);
    assert.equal(viaFunction, measure === 'sketch', what);
    if (viaFunction) sketches += 1;
    const everything = { ...query, filters: [{ dimension: query.metric.key === 'bot_response_time_ms' ? 'botId' : 'channel', op: 'neq' as const, value: 'none-such' }] };
    const answer = await adapter.query(query, signal);
    assertSame(answer, await dimensioned.query(everything, signal), what);
    if (answer.some((one) => one.values.some((value) => value !== null && value !== 0))) read += 1;
  }
  assert.ok(sketches > 40, `${sketches} percentiles read through rollup_totals_rows()`);
  return read;
}

test(`totals answers (pending rows, then folded, then both) are those of the dimensioned rollups (seed ${SEED})`, async () => {
  const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM rollup_totals_hourly_pending WHERE organization_id = $1', [organization]);
  assert.ok(rows[0]!.n > 0, 'rows pending before the fold');
  assert.ok((await assertTotalsAnswerAsDimensioned(SEED + 1, 'pending')) > 150);
  await pool.query('SELECT fold_rollup_totals()');
  assert.ok((await assertTotalsAnswerAsDimensioned(SEED + 2, 'folded')) > 150);
  // Late events: pending rows beside folded ones of the same buckets.
  await ingestEvents(pool, organization, events(seededRandom(SEED + 3), 300, 'late'), { now: () => NOW });
  assert.ok((await assertTotalsAnswerAsDimensioned(SEED + 4, 'folded and pending')) > 150);
});

test('rollup_totals_rows() reads only the slices it gets: a NULL bound leaves a slice out, and sketches only when asked', async () => {
  const read = async (day: [number, number] | null, hour: [number, number] | null, edge: [number, number] | null, sketches: boolean) => {
    const bound = (range: [number, number] | null, at: 0 | 1) => (range ? new Date(range[at]) : null);
    const { rows } = await pool.query<{ bucket: Date; count: number; sketch: string | null }>(
      "SELECT bucket, count, sketch FROM rollup_totals_rows($1, '{bot.response}', $2, $3, $4, $5, $6, $7, $8) ORDER BY bucket",
      [organization, bound(day, 0), bound(day, 1), bound(hour, 0), bound(hour, 1), bound(edge, 0), bound(edge, 1), sketches],
    );
    return rows;
  };
  const { rows: expected } = await pool.query<{ days: number; hours: number }>(
    `SELECT (SELECT count(DISTINCT bucket) FROM (SELECT bucket FROM rollup_totals_daily WHERE organization_id = $1 AND event_type = 'bot.response' AND bucket >= $2 AND bucket < $3
       UNION ALL SELECT bucket FROM rollup_totals_daily_pending WHERE organization_id = $1 AND event_type = 'bot.response' AND bucket >= $2 AND bucket < $3) d)::int AS days,
     (SELECT count(DISTINCT bucket) FROM (SELECT bucket FROM rollup_totals_hourly WHERE organization_id = $1 AND event_type = 'bot.response' AND bucket >= $3 AND bucket < $4
       UNION ALL SELECT bucket FROM rollup_totals_hourly_pending WHERE organization_id = $1 AND event_type = 'bot.response' AND bucket >= $3 AND bucket < $4) h)::int AS hours`,
    [organization, new Date(T0), new Date(T0 + 2 * DAY), new Date(T0 + 2 * DAY + 6 * HOUR)],
  );
  assert.ok(expected[0]!.days === 2 && expected[0]!.hours > 0, JSON.stringify(expected[0]));
  const days = await read([T0, T0 + 2 * DAY], null, null, true);
  assert.deepEqual(new Set(days.map((row) => row.bucket.getTime())), new Set([T0, T0 + DAY]));
  assert.ok(days.every((row) => row.sketch !== null && row.sketch.startsWith('{')), 'sketches when asked');
  const hours = await read(null, null, [T0 + 2 * DAY, T0 + 2 * DAY + 6 * HOUR], false);
  assert.equal(new Set(hours.map((row) => row.bucket.getTime())).size, expected[0]!.hours);
  assert.ok(hours.every((row) => row.sketch === null && row.bucket.getTime() >= T0 + 2 * DAY && row.bucket.getTime() < T0 + 2 * DAY + 6 * HOUR));
  const both = await read([T0, T0 + 2 * DAY], [T0 + 2 * DAY, T0 + 2 * DAY + 6 * HOUR], null, false);
  assert.equal(both.length, days.length + hours.length);
  assert.deepEqual(await read(null, null, null, true), []);
});
