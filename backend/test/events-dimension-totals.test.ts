import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createOrganization } from '../src/auth/keys.js';
import type { CatalogMetric } from '../src/catalog/schema.js';
import { loadCatalog } from '../src/catalog/load.js';
import { migrateUp } from '../src/db/migrate.js';
import { createPool, type Pool } from '../src/db/pool.js';
import { ingestEvents } from '../src/ingest/ingest.js';
import { createLogger } from '../src/logger.js';
import { WHOLE_RANGE_MS } from '../src/query/buckets.js';
import { completeRows, dimensionEstimateSql, dimensionTotalsSql, oneDimensionOf } from '../src/sources/adapters/events-dimension-totals.js';
import { EventsAdapter, eventsMetricQuerySchema, measureOf, slicesFor, type Row } from '../src/sources/adapters/events.js';
import type { Filter, Series, SourceQuery } from '../src/sources/types.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { seededRandom } from './support/seeded-random.js';

const SEED = Number(process.env.DIMENSION_TOTALS_SEED ?? randomInt(2 ** 31));
console.log(`per-dimension totals tests: seed ${SEED} (replay with DIMENSION_TOTALS_SEED=${SEED})`);

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 2, 2);
const DAYS = 4;
const NOW = T0 + (DAYS + 1) * DAY;

const VALUES: Record<string, string[]> = {
  channel: ['web', 'app', 'pos'],
  market: ['us', 'de', 'fr'],
  product: ['basic', 'pro'],
  botId: ['faq', 'sales', 'support', 'billing'],
  status: ['ok', 'error'],
};

const catalog = loadCatalog();
const metricOf = (key: string) => catalog.metric(key)!;
/** Metrics asked about: the catalog's, plus a fixed `where` and two event types per point, which only a test needs. */
const METRICS: CatalogMetric[] = [
  metricOf('orders_created'),
  metricOf('order_value'),
  metricOf('bot_response_time_ms'),
  metricOf('bot_errors'),
  { ...metricOf('order_value'), key: 'test_web_app_order_value', query: { eventTypes: ['order.created'], measure: 'value', where: { channel: ['web', 'app'] } } },
  { ...metricOf('order_value'), key: 'test_orders_and_bots_by_channel', dimensions: ['channel'], query: { eventTypes: ['order.created', 'bot.response'], measure: 'value' } },
];

/**
 * One organization's events over DAYS days: with `every` each event carries
 * every dimension of its type, else about one in six lacks each one. Values:
 * about one in five events has none; a few are zero, a few orders negative
 * (bot response times cannot be).
 */
function eventsFor(random: () => number, count: number, every: boolean, prefix: string): unknown[] {
  const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)]!;
  const events: unknown[] = [];
  for (let index = 0; index < count; index += 1) {
    const isOrder = random() < 0.55;
    const names = isOrder ? ['channel', 'market', 'product'] : ['botId', 'status', 'channel'];
    const attributes: Record<string, string | boolean> = isOrder ? {} : { success: random() < 0.9 };
    // product is on a third of the orders even in the complete organization: its group-bys take the fallback.
    // bot.response requires its botId.
    for (const name of names) if ((every && name !== 'product') || name === 'botId' || random() > (name === 'product' ? 0.66 : 0.17)) attributes[name] = pick(VALUES[name]!);
    const roll = random();
    const value = roll < 0.2 ? undefined : roll < 0.23 ? 0 : roll < 0.26 && isOrder ? -Math.round(random() * 50) : Math.round(Math.exp(3 + 2 * random()) * 100) / 100;
    events.push({
      id: `${prefix}${index}`,
      type: isOrder ? 'order.created' : 'bot.response',
      occurredAt: new Date(T0 + Math.floor(random() * DAYS * DAY)).toISOString(),
      ...(value === undefined ? {} : { value }),
      attributes,
    });
  }
  return events;
}

const AGGREGATIONS = ['count', 'sum', 'avg', 'min', 'max', 'p50', 'p95', 'p99'] as const;

/** A random question: mostly one dimension (grouped, filtered eq/in, or both), sometimes what must take the dimensioned path. */
function randomQuestion(random: () => number, organizationId: string): SourceQuery {
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
  const metric = pick(METRICS);
  const measure = eventsMetricQuerySchema.parse(metric.query).measure;
  const aggregation = measure === 'count' ? pick(['count', 'sum'] as const) : pick(AGGREGATIONS);
  const where = Object.keys(eventsMetricQuerySchema.parse(metric.query).where ?? {});
  const dimension = where[0] ?? pick(metric.dimensions);
  const roll = random();
  const groupBy = roll < 0.75 ? [dimension] : [];
  const filters: Filter[] = [];
  const someValues = () => [...VALUES[dimension]!, 'none-such'].filter(() => random() < 0.5);
  const filterRoll = random();
  if (filterRoll < 0.25) filters.push({ dimension, op: 'eq', value: pick([...VALUES[dimension]!, 'none-such']) });
  else if (filterRoll < 0.45) filters.push({ dimension, op: 'in', value: someValues() });
  else if (filterRoll < 0.5) filters.push({ dimension, op: 'in', value: someValues() }, { dimension, op: 'eq', value: pick(VALUES[dimension]!) });
  else if (filterRoll < 0.55) filters.push({ dimension, op: pick(['neq', 'not_in'] as const), value: pick(VALUES[dimension]!) });
  else if (filterRoll < 0.6) {
    // A second dimension: the dimensioned path on both sides.
    const other = metric.dimensions.find((name) => name !== dimension);
    if (other) filters.push({ dimension: other, op: 'eq', value: pick(VALUES[other]!) });
  }
  if (groupBy.length === 0 && filters.length === 0) filters.push({ dimension, op: 'in', value: [pick(VALUES[dimension]!)] });
  // Ragged edges: from and to anywhere inside an hour, sometimes whole days.
  const wholeDays = random() < 0.2;
  const from = wholeDays ? T0 + Math.floor(random() * DAYS) * DAY : T0 - 3 * HOUR + Math.floor(random() * (DAYS * DAY + 3 * HOUR));
  const to = wholeDays ? from + (1 + Math.floor(random() * 3)) * DAY : from + 1 + Math.floor(random() * 3 * DAY);
  const bucketMs = pick([HOUR, 3 * HOUR, DAY, WHOLE_RANGE_MS]);
  return { organizationId, metric, aggregation, groupBy, filters, from: new Date(from), to: new Date(to), bucketMs };
}

const describeQuestion = (query: SourceQuery) =>
  JSON.stringify({ metric: query.metric.key, aggregation: query.aggregation, groupBy: query.groupBy, filters: query.filters, from: query.from, to: query.to, bucketMs: query.bucketMs });

/** Series in label order, so two answers compare whatever order their rows came in. */
const sorted = (series: Series[]) => [...series].sort((a, b) => (JSON.stringify(a.labels) < JSON.stringify(b.labels) ? -1 : 1));

/** Counts and sums within float tolerance (rows are added in another order); everything else exactly, percentiles included. */
function assertSameAnswer(actual: Series[], expected: Series[], what: string): void {
  const left = sorted(actual);
  const right = sorted(expected);
  assert.deepEqual(
    left.map((one) => one.labels),
    right.map((one) => one.labels),
    `${what}: series`,
  );
  left.forEach((one, index) => {
    const other = right[index]!;
    assert.deepEqual(one.times, other.times, `${what}: times of ${JSON.stringify(one.labels)}`);
    one.values.forEach((value, at) => {
      const want = other.values[at]!;
      if (value === null || want === null) assert.equal(value, want, `${what}: ${JSON.stringify(one.labels)} at ${one.times[at]}`);
      else assert.ok(Math.abs(value - want) <= 1e-9 * Math.max(1, Math.abs(want)), `${what}: ${JSON.stringify(one.labels)} at ${one.times[at]}: ${value} vs ${want}`);
    });
  });
}

describe('totals per dimension: the same answers as the dimensioned rollups (migration 0160)', () => {
  let database: TestDatabase;
  let pool: Pool;
  let fast: EventsAdapter;
  let dimensioned: EventsAdapter;
  /** The per-dimension path reading every percentile from the sketches, never from the precomputed bin keys. */
  let sketchesOnly: EventsAdapter;
  /** Every event carries every dimension of its type (but product), so group-bys read the per-dimension totals. */
  let complete: string;
  /** About one event in six lacks each dimension: group-bys fall back, filters do not. */
  let partial: string;
  const signal = new AbortController().signal;

  /** Whether a question reads the per-dimension totals (and is complete there), as the adapter decides. */
  async function readsPerDimension(query: SourceQuery): Promise<boolean> {
    const metricQuery = eventsMetricQuerySchema.parse(query.metric.query);
    const measure = measureOf(query, metricQuery);
    const one = oneDimensionOf(query, metricQuery, measure);
    if (!one) return false;
    const { check, ...sql } = dimensionTotalsSql(query, metricQuery, measure, one, slicesFor(query.from.getTime(), query.to.getTime(), query.bucketMs));
    return completeRows((await pool.query<Row>(sql)).rows, check) !== undefined;
  }

  before(async () => {
    database = await createTestDatabase('dimension_totals');
    await migrateUp(database.url, createLogger('silent'));
    pool = createPool(database.url, 4, createLogger('silent'));
    complete = (await createOrganization(pool, 'complete')).id;
    partial = (await createOrganization(pool, 'partial')).id;
    fast = new EventsAdapter('events', pool);
    dimensioned = new EventsAdapter('events', pool, undefined, { dimensionTotals: false });
    sketchesOnly = new EventsAdapter('events', pool, undefined, { quantileKeys: false });
    const random = seededRandom(SEED);
    // Shuffled over the days and sent in batches: later batches bring late events into hours already stored.
    for (const [organization, every] of [
      [complete, true],
      [partial, false],
    ] as const) {
      const events = eventsFor(random, 2_500, every, every ? 'c' : 'p');
      for (let start = 0; start < events.length; start += 500) {
        const result = await ingestEvents(pool, organization, events.slice(start, start + 500), { now: () => NOW });
        assert.equal(result.accepted, Math.min(500, events.length - start), JSON.stringify(result.rejected.slice(0, 3)));
      }
    }
    await pool.query('SELECT rebuild_dimension_totals()');
    // About a third of the hourly per-dimension rows as ingestion leaves them before a fold: pending, read beside the
    // folded, also as the pending part of their days (migration 0170); the folded days hold only the folded hours.
    await pool.query(
      `WITH moved AS (DELETE FROM rollup_dimension_totals_hourly WHERE hashtext(value || bucket::text || $1::text) % 3 = 0
         RETURNING organization_id, event_type, dimension, bucket, value, count, value_count, sum, min, max, sketch)
       INSERT INTO rollup_dimension_totals_hourly_pending (organization_id, event_type, dimension, bucket, value, count, value_count, sum, min, max, sketch) SELECT * FROM moved`,
      [SEED],
    );
    await pool.query('TRUNCATE rollup_dimension_totals_daily');
    await pool.query(
      `INSERT INTO rollup_dimension_totals_daily (organization_id, event_type, dimension, bucket, value, count, value_count, sum, min, max, sketch)
       SELECT organization_id, event_type, dimension, date_bin('1 day', bucket, TIMESTAMPTZ '1970-01-01 00:00:00+00'), value,
              sum(count), sum(value_count), sum(sum), min(min), max(max), sketch_merge_agg(sketch)
       FROM rollup_dimension_totals_hourly GROUP BY 1, 2, 3, 4, 5`,
    );
    // The daily rows' points of their hours, as the fold and the rebuild keep them (migration 0210).
    await pool.query('SELECT refresh_dimension_day_points(NULL, NULL, NULL, NULL, NULL)');
    const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM rollup_dimension_totals_hourly_pending');
    assert.ok(rows[0]!.n > 100, `${rows[0]!.n} pending rows to read`);
  });
  after(async () => {
    await pool?.end();
    await database?.drop();
  });

  test(`random questions answer the same from both paths, pending rows unfolded (seed ${SEED})`, async () => {
    const random = seededRandom(SEED + 1);
    let perDimension = 0;
    for (let round = 0; round < 400; round += 1) {
      const query = randomQuestion(random, round % 2 === 0 ? complete : partial);
      const what = `round ${round} ${describeQuestion(query)}`;
      const answer = await fast.query(query, signal);
      assertSameAnswer(answer, await dimensioned.query(query, signal), what);
      if (query.aggregation.startsWith('p')) assert.deepEqual(sorted(answer), sorted(await sketchesOnly.query(query, signal)), `${what}: keys vs sketches`);
      if (await readsPerDimension(query)) perDimension += 1;
      if (query.groupBy.length === 1) {
        assert.equal(await fast.estimateSeries(query, 100), await dimensioned.estimateSeries(query, 100), `${what}: series estimate`);
      }
    }
    assert.ok(perDimension >= 200, `${perDimension} of 400 questions read the per-dimension totals`);
  });

  test('a group-by over events that lack the dimension falls back and answers the empty label; a filter needs no fallback', async () => {
    const base = { metric: metricOf('orders_created'), aggregation: 'count' as const, from: new Date(T0), to: new Date(T0 + DAYS * DAY), bucketMs: DAY };
    const byChannel: SourceQuery = { ...base, organizationId: partial, groupBy: ['channel'], filters: [] };
    assert.equal(await readsPerDimension(byChannel), false, 'the partial organization has orders without a channel');
    const answer = await fast.query(byChannel, signal);
    const empty = answer.find((one) => one.labels.channel === '');
    assert.ok(empty && empty.values.some((value) => (value ?? 0) > 0), 'orders without a channel are the series labelled ""');
    assertSameAnswer(answer, await dimensioned.query(byChannel, signal), 'partial, by channel');
    assert.equal(await fast.estimateSeries(byChannel, 100), 4, 'three channels and ""');

    const filtered: SourceQuery = { ...byChannel, filters: [{ dimension: 'channel', op: 'in', value: ['web', 'app'] }] };
    assert.equal(await readsPerDimension(filtered), true, 'an eq/in filter keeps no event without the dimension');
    assertSameAnswer(await fast.query(filtered, signal), await dimensioned.query(filtered, signal), 'partial, by channel, web or app');

    const completeByChannel: SourceQuery = { ...byChannel, organizationId: complete };
    assert.equal(await readsPerDimension(completeByChannel), true, 'every order of the complete organization has a channel');
    assert.equal((await fast.query(completeByChannel, signal)).length, 3);
  });

  test('after a fold, the answers are unchanged', async () => {
    const { rows } = await pool.query<{ folded: string }>('SELECT fold_dimension_totals() AS folded');
    assert.ok(Number(rows[0]!.folded) > 0);
    const random = seededRandom(SEED + 2);
    for (let round = 0; round < 60; round += 1) {
      const query = randomQuestion(random, round % 2 === 0 ? complete : partial);
      const answer = await fast.query(query, signal);
      assertSameAnswer(answer, await dimensioned.query(query, signal), `folded, round ${round} ${describeQuestion(query)}`);
      if (query.aggregation.startsWith('p')) assert.deepEqual(sorted(answer), sorted(await sketchesOnly.query(query, signal)), `folded, round ${round}: keys vs sketches`);
    }
  });
  test('counts, sums, extremes and percentiles of one dimension read their values at run time, so a connection plans them once', async () => {
    const questions: SourceQuery[] = [
      { organizationId: complete, metric: metricOf('orders_created'), aggregation: 'count', groupBy: ['channel'], filters: [], from: new Date(T0 + 3 * HOUR), to: new Date(T0 + 2 * DAY), bucketMs: HOUR },
      { organizationId: partial, metric: metricOf('order_value'), aggregation: 'max', groupBy: [], filters: [{ dimension: 'market', op: 'in', value: ['us', 'de'] }], from: new Date(T0), to: new Date(T0 + 3 * DAY + 5 * HOUR), bucketMs: WHOLE_RANGE_MS },
      { organizationId: complete, metric: metricOf('bot_errors'), aggregation: 'count', groupBy: [], filters: [], from: new Date(T0), to: new Date(T0 + 2 * DAY), bucketMs: DAY },
      // A percentile too: PostgreSQL kept custom plans for the 30-day hourly p95 by bot at 30M events (step 32).
      { organizationId: complete, metric: metricOf('bot_response_time_ms'), aggregation: 'p95', groupBy: ['botId'], filters: [], from: new Date(T0 + 5 * HOUR), to: new Date(T0 + 2 * DAY), bucketMs: HOUR },
    ];
    const client = await pool.connect();
    try {
      for (const query of questions) {
        const metricQuery = eventsMetricQuerySchema.parse(query.metric.query);
        const measure = measureOf(query, metricQuery);
        const { check, ...sql } = dimensionTotalsSql(query, metricQuery, measure, oneDimensionOf(query, metricQuery, measure)!, slicesFor(query.from.getTime(), query.to.getTime(), query.bucketMs));
        assert.ok(sql.values.length > 4, `${describeQuestion(query)}: ${sql.values.length} values`);
        assert.equal(sql.text.match(/(?<!\(SELECT )\$\d+::/g), null, `${describeQuestion(query)}: every value is read through a one-row subquery`);
        assert.equal(new Set(sql.text.match(/\(SELECT \$\d+::/g)).size, sql.values.length, 'every value is read');
        const answers = [];
        for (let run = 0; run < 7; run += 1) answers.push(completeRows((await client.query<Row>(sql)).rows, check));
        for (const answer of answers) assert.deepEqual(answer, answers[0]);
        const { rows } = await client.query<{ generic: string }>('SELECT generic_plans AS generic FROM pg_prepared_statements WHERE name = $1', [sql.name]);
        assert.ok(Number(rows[0]!.generic) > 0, `${describeQuestion(query)}: the connection keeps its generic plan`);
      }
    } finally {
      client.release();
    }
  });

  test("a group-by's series estimate reads its values at run time too, so a connection plans it once, and counts the same", async () => {
    const questions: SourceQuery[] = [
      { organizationId: complete, metric: metricOf('orders_created'), aggregation: 'count', groupBy: ['channel'], filters: [], from: new Date(T0 + 3 * HOUR), to: new Date(T0 + 2 * DAY), bucketMs: HOUR },
      { organizationId: partial, metric: metricOf('bot_response_time_ms'), aggregation: 'p95', groupBy: ['botId'], filters: [{ dimension: 'botId', op: 'in', value: ['faq', 'sales'] }], from: new Date(T0), to: new Date(T0 + 3 * DAY), bucketMs: HOUR },
    ];
    const client = await pool.connect();
    try {
      for (const query of questions) {
        const metricQuery = eventsMetricQuerySchema.parse(query.metric.query);
        const sql = dimensionEstimateSql(query, metricQuery, oneDimensionOf(query, metricQuery, 'count')!, 50);
        assert.equal(sql.text.match(/(?<!\(SELECT )\$\d+::/g), null, `${describeQuestion(query)}: every typed value is read through a one-row subquery`);
        // The same statement with its values as parameters, planned for them: what it counted before.
        const planned = await client.query<{ n: number; m: number }>(sql.text.replace(/\(SELECT (\$\d+::[a-z0-9_]+(?:\[\])?)\)::[a-z0-9_]+(?:\[\])?/g, '$1'), sql.values);
        for (let run = 0; run < 7; run += 1) assert.deepEqual((await client.query<{ n: number; m: number }>(sql)).rows, planned.rows, `${describeQuestion(query)}, run ${run}`);
        assert.ok(planned.rows[0]!.n > 0, `${describeQuestion(query)}: some series are estimated`);
        const { rows } = await client.query<{ generic: string }>('SELECT generic_plans AS generic FROM pg_prepared_statements WHERE name = $1', [sql.name]);
        assert.ok(Number(rows[0]!.generic) > 0, `${describeQuestion(query)}: the connection keeps its generic plan`);
      }
    } finally {
      client.release();
    }
  });

  test('rows the per-dimension totals lack are seen by the group-by check, a dimension without any row by the filter check; both answered from the dimensioned rollups', async () => {
    const query: SourceQuery = { organizationId: complete, metric: metricOf('bot_response_time_ms'), aggregation: 'p95', groupBy: ['botId'], filters: [], from: new Date(T0), to: new Date(T0 + DAY), bucketMs: HOUR };
    const expected = await dimensioned.query(query, signal);
    assert.equal(await readsPerDimension(query), true);
    // Both grains, as ingestion writes them: a whole day's hourly points are read from its daily row (migration 0210).
    for (const table of ['rollup_dimension_totals_hourly', 'rollup_dimension_totals_hourly_pending', 'rollup_dimension_totals_daily']) {
      await pool.query(`DELETE FROM ${table} WHERE organization_id = $1 AND dimension = 'botId' AND value = 'faq'`, [complete]);
    }
    assert.equal(await readsPerDimension(query), false, 'the missing rows are seen');
    const answer = await fast.query(query, signal);
    assert.ok(answer.some((one) => one.labels.botId === 'faq'));
    assertSameAnswer(answer, expected, 'without the faq rows');

    // A filter needs no count, but per-dimension totals never written for the range (bulk-loaded rollups, or
    // ingestion without them) must not answer it empty.
    const filtered: SourceQuery = { ...query, groupBy: [], filters: [{ dimension: 'botId', op: 'in', value: ['sales', 'support'] }] };
    const expectedFiltered = await dimensioned.query(filtered, signal);
    assert.equal(await readsPerDimension(filtered), true);
    for (const grain of ['hourly', 'daily']) {
      for (const table of [`rollup_dimension_totals_${grain}`, `rollup_dimension_totals_${grain}_pending`]) await pool.query(`DELETE FROM ${table} WHERE organization_id = $1 AND dimension = 'botId'`, [complete]);
    }
    assert.equal(await readsPerDimension(filtered), false, 'no per-dimension row of botId where the totals hold events');
    assert.ok(expectedFiltered[0]!.values.some((value) => value !== null));
    assertSameAnswer(await fast.query(filtered, signal), expectedFiltered, 'filtered, without any botId rows');
    assert.equal(await fast.estimateSeries({ ...filtered, groupBy: ['botId'] }, 100), 2);
    await pool.query('SELECT rebuild_dimension_totals()');
    assert.equal(await readsPerDimension(query), true, 'rebuilt');
    assertSameAnswer(await fast.query(query, signal), expected, 'rebuilt');
  });

  /**
   * How many points of a per-dimension percentile answer are answered by their bin keys (migrations 0165, 0180): those
   * in `points` ("<hours> <key> x 4" each) without a sketch in `packed` ("<bucket ms> {bins}").
   */
  async function keyedPoints(query: SourceQuery): Promise<number> {
    const metricQuery = eventsMetricQuerySchema.parse(query.metric.query);
    const one = oneDimensionOf(query, metricQuery, 'sketch')!;
    const { check, ...sql } = dimensionTotalsSql(query, metricQuery, 'sketch', one, slicesFor(query.from.getTime(), query.to.getTime(), query.bucketMs));
    const rows = completeRows((await pool.query<Row>(sql)).rows, check)!;
    return rows.reduce((sum, row) => {
      const sketched = new Set([...(row.packed ?? '').matchAll(/(?:^| )(-?\d+) \{/g)].map((match) => Number(match[1])));
      const hours = (row.points ?? '').split(' ').filter((_, index) => index % 5 === 0 && row.points);
      return sum + hours.filter((hour) => !sketched.has(Number(hour) * HOUR)).length;
    }, 0);
  }

  test('an hourly point with a folded and a pending row merges both sketches; a point that is one folded row is read from its bin key', async () => {
    // Filtered (no events check): the pending rows below are the per-dimension totals' alone.
    const filters: Filter[] = [{ dimension: 'botId', op: 'in', value: VALUES.botId! }];
    const query: SourceQuery = { organizationId: complete, metric: metricOf('bot_response_time_ms'), aggregation: 'p95', groupBy: ['botId'], filters, from: new Date(T0), to: new Date(T0 + DAYS * DAY), bucketMs: HOUR };
    const points = (series: Series[]) => series.reduce((sum, one) => sum + one.values.filter((value) => value !== null).length, 0);
    const folded = await fast.query(query, signal);
    assert.deepEqual(sorted(folded), sorted(await sketchesOnly.query(query, signal)), 'all folded');
    assert.equal(await keyedPoints(query), points(folded), 'every point is one folded row, read from its key');
    assert.equal(await keyedPoints({ ...query, bucketMs: 3 * HOUR }), 0, 'a 3-hour point merges sketches');

    // Rows of a fold interval not yet folded: 50 responses of 1,000 s each beside a quarter of the folded hours.
    const { rowCount } = await pool.query(
      `INSERT INTO rollup_dimension_totals_hourly_pending (organization_id, event_type, dimension, bucket, value, count, value_count, sum, min, max, sketch)
       SELECT organization_id, event_type, dimension, bucket, value, 50, 50, 5e7, 1e6, 1e6, jsonb_build_object(sketch_bin(1e6), 50)
       FROM rollup_dimension_totals_hourly
       WHERE organization_id = $1 AND event_type = 'bot.response' AND dimension = 'botId' AND sketch IS NOT NULL AND hashtext(value || bucket::text || $2::text) % 4 = 0`,
      [complete, SEED],
    );
    assert.ok(rowCount! > 10, `${rowCount} pending rows`);
    const withPending = await fast.query(query, signal);
    assert.deepEqual(sorted(withPending), sorted(await sketchesOnly.query(query, signal)), 'with pending rows');
    const slow = withPending.reduce((sum, one) => sum + one.values.filter((value) => value !== null && value > 9e5).length, 0);
    assert.equal(slow, rowCount, 'each point with a pending row answers its merged sketch');
    assert.equal(await keyedPoints(query), points(folded) - rowCount!, 'the others still from their keys');

    await pool.query('SELECT fold_dimension_totals()');
    assert.deepEqual(sorted(await fast.query(query, signal)), sorted(withPending), 'folded, from the new rows\' keys');
    assert.equal(await keyedPoints(query), points(folded));
  });
  test('a whole day reads its hours\' points from its daily row while the row\'s count is theirs, else hour by hour (migration 0210)', async () => {
    await pool.query('SELECT rebuild_dimension_totals()');
    /** Daily rows with a sketch whose points or count are not those of their hours now. */
    const stale = async () =>
      (
        await pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM rollup_dimension_totals_daily d
           CROSS JOIN LATERAL (
             SELECT string_agg(quantile_points, ' ' ORDER BY bucket) AS points, sum(count) AS counted FROM rollup_dimension_totals_hourly h
             WHERE (h.organization_id, h.event_type, h.dimension, h.value) = (d.organization_id, d.event_type, d.dimension, d.value)
               AND h.bucket >= d.bucket AND h.bucket < d.bucket + interval '1 day') hours
           WHERE d.sketch IS NOT NULL AND (d.hour_points IS DISTINCT FROM hours.points OR d.hour_points_count IS DISTINCT FROM hours.counted)`,
        )
      ).rows[0]!.n;
    const withPoints = async () => (await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM rollup_dimension_totals_daily WHERE hour_points IS NOT NULL")).rows[0]!.n;
    assert.equal(await stale(), 0, 'rebuilt');
    assert.ok((await withPoints()) > 20, 'days with points');

    // Late events into days already folded, then a fold: the days it touched get their hours' points again.
    const late = eventsFor(seededRandom(SEED + 3), 300, true, 'late');
    assert.equal((await ingestEvents(pool, complete, late, { now: () => NOW })).accepted, 300);
    const { rows: touched } = await pool.query<{ n: number }>(
      "SELECT count(DISTINCT (event_type, dimension, value, date_bin('1 day', bucket, TIMESTAMPTZ '1970-01-01 00:00:00+00')))::int AS n FROM rollup_dimension_totals_hourly_pending WHERE sketch IS NOT NULL",
    );
    assert.ok(touched[0]!.n > 10, `${touched[0]!.n} days with late values`);
    const dayPoints = async () =>
      new Map(
        (await pool.query<{ key: string; points: string | null }>("SELECT concat_ws('|', organization_id, event_type, dimension, bucket, value) AS key, hour_points AS points FROM rollup_dimension_totals_daily")).rows.map(
          (row) => [row.key, row.points],
        ),
      );
    const before = await dayPoints();
    await pool.query('SELECT fold_dimension_totals()');
    assert.equal(await stale(), 0, 'folded');
    const changed = [...(await dayPoints())].filter(([key, points]) => before.get(key) !== points).length;
    assert.ok(changed > 10, `${changed} days got new points`);

    const query: SourceQuery = {
      organizationId: complete,
      metric: metricOf('bot_response_time_ms'),
      aggregation: 'p95',
      groupBy: ['botId'],
      filters: [],
      from: new Date(T0 + 5 * HOUR + 60_000),
      to: new Date(T0 + 3 * DAY + 7 * HOUR),
      bucketMs: HOUR,
    };
    const expected = sorted(await sketchesOnly.query(query, signal));
    assert.deepEqual(sorted(await fast.query(query, signal)), expected, 'from the days\' points');
    assert.equal(await keyedPoints(query), expected.reduce((sum, one) => sum + one.values.filter((value) => value !== null).length, 0), 'every point read from keys');
    assertSameAnswer(await fast.query(query, signal), await dimensioned.query(query, signal), 'against the dimensioned rollups');

    // The answer's whole days are read from their daily rows: a day whose text holds only its first hour answers only it.
    const day = new Date(T0 + DAY);
    const oneDay = "organization_id = $1 AND event_type = 'bot.response' AND dimension = 'botId' AND value = 'sales' AND bucket = $2";
    const hours = (series: Series[]) => {
      const sales = series.find((entry) => entry.labels.botId === 'sales')!;
      return sales.values.filter((value, at) => value !== null && sales.times[at]! >= day.getTime() && sales.times[at]! < day.getTime() + DAY).length;
    };
    assert.ok(hours(expected) > 1);
    await pool.query(`UPDATE rollup_dimension_totals_daily SET hour_points = array_to_string((string_to_array(hour_points, ' '))[1:5], ' ') WHERE ${oneDay}`, [complete, day]);
    assert.equal(hours(await fast.query(query, signal)), 1, 'the day\'s points come from its daily row');
    // Its count no longer that of the hours it was made from (a write that bypassed the fold): read hour by hour.
    await pool.query(`UPDATE rollup_dimension_totals_daily SET hour_points_count = hour_points_count + 1 WHERE ${oneDay}`, [complete, day]);
    assert.deepEqual(sorted(await fast.query(query, signal)), expected, 'a stale day is read from its hours');
    // No text (an hour without points): read hour by hour too.
    await pool.query(`UPDATE rollup_dimension_totals_daily SET hour_points = NULL, hour_points_count = count WHERE ${oneDay}`, [complete, day]);
    assert.deepEqual(sorted(await fast.query(query, signal)), expected, 'a day without points is read from its hours');
    await pool.query('SELECT rebuild_dimension_totals()');
  });
});
