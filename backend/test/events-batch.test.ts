import assert from 'node:assert/strict';
import { randomInt, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { loadCatalog } from '../src/catalog/load.js';
import { createPool, type Pool } from '../src/db/pool.js';
import { migrateUp } from '../src/db/migrate.js';
import { createLogger } from '../src/logger.js';
import { WHOLE_RANGE_MS } from '../src/query/buckets.js';
import { binsFromValues } from '../src/rollups/sketch.js';
import { batchSql, isTotalsQuestion, TotalsBatcher, valuesAtRunTime } from '../src/sources/adapters/events-batch.js';
import { buildSql, EventsAdapter, measureOf, toSeries, type EventsMetricQuery } from '../src/sources/adapters/events.js';
import type { Series, SourceQuery } from '../src/sources/types.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { seededRandom } from './support/seeded-random.js';
import { sourceQuery } from './support/source-query.js';
import { countRollupReads } from './support/wire.js';

const SEED = Number(process.env.BATCH_SEED ?? randomInt(2 ** 31));
console.log(`events batch tests: seed ${SEED} (replay with BATCH_SEED=${SEED})`);

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 2, 1);
const DAYS = 40;

describe("a request's totals questions in one statement (events-batch.ts)", () => {
  let database: TestDatabase;
  let pool: Pool;
  const catalog = loadCatalog();
  const org = randomUUID();
  const signal = new AbortController().signal;
  let batched: EventsAdapter;
  let alone: EventsAdapter;

  before(async () => {
    database = await createTestDatabase('events_batch');
    await migrateUp(database.url, createLogger('silent'));
    pool = createPool(database.url, 4, createLogger('silent'));
    batched = new EventsAdapter('events', pool);
    alone = new EventsAdapter('events', pool, undefined, { batch: false });
    // Folded and pending rows of both granularities, with fractional sums and sketches, some hours and days missing.
    const random = seededRandom(SEED);
    for (const type of ['order.created', 'workflow.finished']) {
      for (const [table, step, span] of [
        ['rollup_totals_hourly', HOUR, DAYS * DAY],
        ['rollup_totals_hourly_pending', HOUR, DAYS * DAY],
        ['rollup_totals_daily', DAY, DAYS * DAY],
        ['rollup_totals_daily_pending', DAY, DAYS * DAY],
      ] as const) {
        const pending = table.endsWith('_pending');
        const rows: unknown[][] = [];
        for (let bucket = T0; bucket < T0 + span; bucket += step) {
          if (random() > (pending ? 0.15 : 0.85)) continue;
          const values = Array.from({ length: 1 + Math.floor(random() * 6) }, () => Math.round(random() * 5_000) / 7);
          rows.push([new Date(bucket), values.length, values.reduce((sum, value) => sum + value, 0), Math.min(...values), Math.max(...values), JSON.stringify(binsFromValues(values))]);
        }
        await pool.query(
          `INSERT INTO ${table} (organization_id, event_type, bucket, count, value_count, sum, min, max, sketch)
           SELECT $1::uuid, $2, r.bucket, r.n, r.n, r.s, r.mn, r.mx, r.sk::jsonb
           FROM unnest($3::timestamptz[], $4::int8[], $5::float8[], $6::float8[], $7::float8[], $8::text[]) AS r (bucket, n, s, mn, mx, sk)`,
          [org, type, ...[0, 1, 2, 3, 4, 5].map((column) => rows.map((row) => row[column]))],
        );
      }
    }
  });
  after(async () => {
    await pool?.end();
    await database?.drop();
  });

  const ask = (adapter: EventsAdapter, query: SourceQuery): Promise<Series[]> => adapter.query(query, signal);

  test(`property: questions asked together answer exactly as each asked alone (seed ${SEED})`, async () => {
    const random = seededRandom(SEED + 1);
    const kinds: Array<[string, SourceQuery['aggregation']]> = [
      ['orders_created', 'sum'],
      ['order_value', 'sum'],
      ['order_value', 'avg'],
      ['order_value', 'min'],
      ['order_value', 'max'],
      ['order_value', 'p95'],
      ['workflow_duration_ms', 'p50'],
      ['workflow_duration_ms', 'avg'],
    ];
    let answered = 0;
    let asked = 0;
    for (let round = 0; round < 40; round += 1) {
      const batch = {};
      const questions = Array.from({ length: 1 + Math.floor(random() * 5) }, () => {
        const [metric, aggregation] = kinds[Math.floor(random() * kinds.length)]!;
        const bucketMs = [HOUR, DAY, WHOLE_RANGE_MS][Math.floor(random() * 3)]!;
        // Unaligned ends: whole-range answers read whole days and ragged hours.
        const from = T0 + Math.floor(random() * (DAYS - 12) * 24 * 60) * 60_000;
        const to = from + Math.floor((1 + random() * 10 * 24 * 60) * 60_000);
        return sourceQuery(catalog, metric, { organizationId: org, start: from, bucketMs }, { aggregation, to: new Date(to), batch });
      });
      // Some questions read the same rows as another (the same question, or another percentile of it): one branch.
      for (const question of [...questions]) {
        if (random() < 0.3) questions.push({ ...question, from: new Date(question.from.getTime()), aggregation: question.aggregation === 'p95' ? 'p99' : question.aggregation === 'p50' ? 'p90' : question.aggregation });
      }
      const together = await Promise.all(questions.map((query) => ask(batched, query)));
      for (const [index, query] of questions.entries()) {
        const expected = await ask(alone, { ...query, batch: undefined });
        asked += 1;
        if (expected.length > 0) answered += 1;
        assert.deepEqual(together[index], expected, `round ${round}, question ${index}: ${query.metric.key} ${query.aggregation} [${query.from.toISOString()}, ${query.to.toISOString()}) by ${query.bucketMs} ms`);
      }
    }
    assert.ok(answered > asked / 2, `most questions read rows (${answered} of ${asked})`);
  });

  test(`property: counts and sums packed in one text answer exactly what a row per rollup bucket answered (seed ${SEED})`, async () => {
    const random = seededRandom(SEED + 2);
    let points = 0;
    for (let round = 0; round < 60; round += 1) {
      const measure = random() < 0.5 ? 'count' : 'sum';
      // One event type or two: two types' rows of one bucket add in the order PostgreSQL reads them, in both forms.
      const metricQuery: EventsMetricQuery = { eventTypes: random() < 0.5 ? ['order.created'] : ['order.created', 'workflow.finished'], measure: 'value' };
      const bucketMs = [HOUR, DAY, WHOLE_RANGE_MS][Math.floor(random() * 3)]!;
      const from = T0 + Math.floor(random() * (DAYS - 12) * 24 * 60) * 60_000;
      const to = from + Math.floor((1 + random() * 10 * 24 * 60) * 60_000);
      const query = sourceQuery(catalog, 'order_value', { organizationId: org, start: from, bucketMs }, { aggregation: measure, to: new Date(to) });
      const packed = buildSql(query, metricQuery, measure);
      const head = /^SELECT string_agg\(.*?\) AS pv FROM \(/.exec(packed.text);
      assert.ok(head, `a packed statement: ${packed.text.slice(0, 80)}`);
      // The same rows, one per rollup bucket, as the statement read them before (issue 20, step 24).
      const perRow = `SELECT extract(epoch FROM bucket)::float8 * 1000 AS b, ${measure === 'count' ? 'count::float8 AS c' : 'sum AS s'} FROM (${packed.text.slice(head[0].length)}`;
      const [{ rows: packedRows }, { rows: plainRows }] = await Promise.all([pool.query({ text: packed.text, values: packed.values }), pool.query({ text: perRow, values: packed.values })]);
      assert.equal(packedRows.length, 1, 'one packed row');
      const [fromPacked, fromRows] = await Promise.all([toSeries(packedRows, query, measure), toSeries(plainRows, query, measure)]);
      assert.deepStrictEqual(fromPacked, fromRows, `round ${round}: ${measure} of ${metricQuery.eventTypes.join(', ')} [${query.from.toISOString()}, ${query.to.toISOString()}) by ${bucketMs} ms`);
      points += fromRows[0]?.values.length ?? 0;
    }
    assert.ok(points > 100, `rounds read rows (${points} points)`);
  });

  test('one statement per request and turn; other requests and questions without a token are read apart', async () => {
    const start = T0 + 3 * DAY;
    const question = (metric: string, batch: object | undefined, overrides: Partial<SourceQuery> = {}) =>
      sourceQuery(catalog, metric, { organizationId: org, start, bucketMs: HOUR }, { to: new Date(start + 7 * DAY), batch, ...overrides });
    const reads = countRollupReads();
    try {
      const first = {};
      const second = {};
      await Promise.all([question('orders_created', first), question('order_value', first), question('workflow_duration_ms', first, { aggregation: 'p95' }), question('orders_created', first, { bucketMs: WHOLE_RANGE_MS })].map((query) => ask(batched, query)));
      assert.equal(reads.count(), 1, 'four totals questions of one request: one statement');
      await Promise.all([question('orders_created', first), question('order_value', second)].map((query) => ask(batched, query)));
      assert.equal(reads.count(), 3, 'two requests: a statement each');
      await Promise.all([question('orders_created', undefined), question('order_value', undefined)].map((query) => ask(batched, query)));
      assert.equal(reads.count(), 5, 'without a token: a statement each');
      // Asked in turns one after another: each turn's questions only.
      await ask(batched, question('orders_created', first));
      await ask(batched, question('order_value', first));
      assert.equal(reads.count(), 7, 'one statement per turn');
    } finally {
      reads.restore();
    }
  });

  test('a token that counts its questions sends the statement when the last is in, before the turn ends; each question still gets its own rows', async () => {
    const start = T0 + 4 * DAY + 7 * 60_000;
    const question = (metric: string, aggregation: SourceQuery['aggregation'], batch: object) =>
      sourceQuery(catalog, metric, { organizationId: org, start, bucketMs: HOUR }, { aggregation, to: new Date(start + 5 * DAY), batch });
    // The batcher's read of one statement's questions, marked with whether a turn of the event loop had passed since
    // they were asked (at the read, not at the socket: a new pooled connection would take turns of its own).
    const reader = TotalsBatcher.prototype as unknown as { read(members: unknown[]): Promise<void> };
    const original = reader.read;
    let turned = false;
    const sent: boolean[] = [];
    reader.read = function (this: unknown, members: unknown[]) {
      sent.push(turned);
      return original.call(this, members);
    };
    const askTogether = async (token: object, kinds: Array<[string, SourceQuery['aggregation']]>) => {
      sent.length = 0;
      turned = false;
      const questions = kinds.map(([metric, aggregation]) => question(metric, aggregation, token));
      // Scheduled before the batcher's own turn, so it runs first (immediates run in order).
      setImmediate(() => (turned = true));
      const answers = Promise.all(questions.map((query) => ask(batched, query)));
      const together = await answers;
      for (const [index, query] of questions.entries()) assert.deepEqual(together[index], await ask(alone, { ...query, batch: undefined }), `${query.metric.key} ${query.aggregation}`);
      return [...sent];
    };
    const two: Array<[string, SourceQuery['aggregation']]> = [
      ['workflow_duration_ms', 'p95'],
      ['orders_created', 'sum'],
    ];
    try {
      assert.deepEqual(await askTogether({ questions: 2 }, two), [false], 'both in: one statement, sent within the turn');
      assert.deepEqual(await askTogether({}, two), [true], 'no count: one statement, after the turn');
      assert.deepEqual(await askTogether({ questions: 1 }, two), [false, false], 'counted short: each at once, in a statement of its own');
      assert.deepEqual(await askTogether({ questions: 3 }, two), [true], 'counted long: after the turn, as without a count');
    } finally {
      reader.read = original;
    }
  });

  test("questions of one request that read the same rows (a panel's p50, p95 and p99) share one branch of the statement", async () => {
    const start = T0 + 6 * DAY + 17 * 60_000;
    const batch = {};
    const question = (metric: string, aggregation: SourceQuery['aggregation'], days = 7) =>
      sourceQuery(catalog, metric, { organizationId: org, start, bucketMs: HOUR }, { aggregation, to: new Date(start + days * DAY), batch });
    const questions = [
      question('workflow_duration_ms', 'p50'),
      question('order_value', 'p95'),
      question('workflow_duration_ms', 'p95'),
      question('workflow_duration_ms', 'p95', 8),
      question('workflow_duration_ms', 'p99'),
      question('orders_created', 'sum'),
      question('orders_created', 'sum'),
    ];
    const sent: Array<{ text: string; values: unknown[] }> = [];
    const original = pg.Client.prototype.query;
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const config = args[0] as { name?: string; text: string; values: unknown[] };
      if (config.name?.startsWith('events_batch_')) sent.push(config);
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof original;
    let together: Series[][];
    try {
      together = await Promise.all(questions.map((query) => ask(batched, query)));
    } finally {
      pg.Client.prototype.query = original;
    }
    assert.equal(sent.length, 1, 'one statement');
    // Branches: workflow_duration_ms over 7 days (p50, p95, p99), over 8 days, order_value, orders_created (twice asked).
    assert.equal(sent[0]!.text.match(/rollup_totals_rows\(/g)?.length, 3, 'three sketch branches: two ranges of one metric, and another metric');
    assert.equal(sent[0]!.text.match(/ UNION ALL SELECT \d+ AS q,/g)?.length, 3, 'four branches');
    for (const [index, query] of questions.entries()) {
      assert.deepEqual(together[index], await ask(alone, { ...query, batch: undefined }), `question ${index}: ${query.metric.key} ${query.aggregation}`);
    }
    assert.notDeepEqual(together[0], together[2], 'the p50 and the p95 differ: each read its own quantile of the shared rows');
  });

  test('a question that gave up does not cancel the others of its statement', async () => {
    const start = T0 + 5 * DAY;
    const batch = {};
    const gaveUp = new AbortController();
    gaveUp.abort();
    const questions = [0, 1].map((day) => sourceQuery(catalog, 'orders_created', { organizationId: org, start: start + day * DAY, bucketMs: HOUR }, { to: new Date(start + (day + 1) * DAY), batch }));
    const [first, second] = await Promise.all([batched.query(questions[0]!, gaveUp.signal), batched.query(questions[1]!, signal)]);
    assert.deepEqual(second, await ask(alone, { ...questions[1]!, batch: undefined }));
    assert.deepEqual(first, await ask(alone, { ...questions[0]!, batch: undefined }));
  });

  test(`a question alone gets the statement of a batch whose members share one branch, and its own values (seed ${SEED})`, () => {
    const random = seededRandom(SEED + 2);
    const kinds: Array<[string, SourceQuery['aggregation']]> = [
      ['orders_created', 'sum'],
      ['order_value', 'avg'],
      ['order_value', 'p95'],
      ['workflow_duration_ms', 'p50'],
    ];
    const texts = new Set<string>();
    for (let round = 0; round < 200; round += 1) {
      const [metric, aggregation] = kinds[Math.floor(random() * kinds.length)]!;
      const bucketMs = [HOUR, DAY, WHOLE_RANGE_MS][Math.floor(random() * 3)]!;
      const from = T0 + Math.floor(random() * (DAYS - 12) * 24 * 60) * 60_000;
      const to = from + Math.floor((1 + random() * 10 * 24 * 60) * 60_000);
      const query = sourceQuery(catalog, metric, { organizationId: org, start: from, bucketMs }, { aggregation, to: new Date(to), batch: {} });
      const metricQuery = query.metric.query as EventsMetricQuery;
      const member = { query, metricQuery, measure: measureOf(query, metricQuery) };
      const own = buildSql(query, metricQuery, member.measure);
      const single = batchSql([member]);
      // Two members with the same statement and values: the batch's one-branch statement.
      const shared = batchSql([member, { ...member, query: { ...query } }]);
      assert.deepEqual(shared.places, [0, 0]);
      assert.deepEqual({ text: single.text, name: single.name, values: single.values }, { text: shared.text, name: shared.name, values: shared.values }, `round ${round}`);
      assert.deepEqual(single.values, own.values);
      assert.equal(single.text, valuesAtRunTime(own.text));
      assert.deepEqual([single.places, single.measures], [[0], [member.measure]]);
      texts.add(own.text);
    }
    // A percentile over a whole range reads the cumulative sketches or the rows: each one text for every range.
    const sketchTexts = [...texts].filter((text) => /rollup_totals_(prefix_)?rows\(/.test(text));
    assert.ok(sketchTexts.length >= 1 && sketchTexts.length <= 2, sketchTexts.join('\n'));
  });

  test('members asked in any order get one statement: the same text and name, each its own branch', () => {
    const start = T0 + 2 * DAY;
    const member = (metric: string, aggregation: SourceQuery['aggregation'], bucketMs: number) => {
      const query = sourceQuery(catalog, metric, { organizationId: org, start, bucketMs }, { aggregation, to: new Date(start + 9 * DAY + 5 * HOUR), batch: {} });
      const metricQuery = query.metric.query as EventsMetricQuery;
      return { query, metricQuery, measure: measureOf(query, metricQuery) };
    };
    const members = [member('orders_created', 'sum', WHOLE_RANGE_MS), member('order_value', 'p95', WHOLE_RANGE_MS), member('order_value', 'avg', HOUR), member('orders_created', 'sum', DAY)];
    const forward = batchSql(members);
    const backward = batchSql([...members].reverse());
    assert.equal(backward.text, forward.text);
    assert.equal(backward.name, forward.name);
    assert.deepEqual(backward.values, forward.values);
    assert.deepEqual([...backward.places].reverse(), forward.places);
    assert.equal(new Set(forward.places).size, 4, 'four statements, four branches');
  });

  test(`a totals statement remembered by its shape is the one built from scratch, with this range's values (seed ${SEED})`, async () => {
    const random = seededRandom(SEED + 3);
    const kinds: Array<[string, SourceQuery['aggregation']]> = [
      ['orders_created', 'sum'],
      ['order_value', 'sum'],
      ['order_value', 'avg'],
      ['order_value', 'min'],
      ['order_value', 'max'],
      ['order_value', 'p95'],
      ['workflow_duration_ms', 'p99'],
    ];
    for (let round = 0; round < 60; round += 1) {
      // A module instance of its own: nothing remembered, every statement built from scratch.
      const fresh = (await import(`../src/sources/adapters/events.js?fresh=${round}`)) as typeof import('../src/sources/adapters/events.js');
      for (let one = 0; one < 5; one += 1) {
        const [metric, aggregation] = kinds[Math.floor(random() * kinds.length)]!;
        const bucketMs = [HOUR, DAY, WHOLE_RANGE_MS][Math.floor(random() * 3)]!;
        const from = T0 + Math.floor(random() * (DAYS - 12) * 24 * 60) * 60_000;
        const to = from + Math.floor((1 + random() * 10 * 24 * 60) * 60_000);
        const query = sourceQuery(catalog, metric, { organizationId: randomUUID(), start: from, bucketMs }, { aggregation, to: new Date(to) });
        const metricQuery = query.metric.query as EventsMetricQuery;
        const measure = measureOf(query, metricQuery);
        assert.deepEqual(buildSql(query, metricQuery, measure), fresh.buildSql(query, metricQuery, measure), `round ${round}: ${metric} ${aggregation} [${new Date(from).toISOString()}, ${new Date(to).toISOString()}) by ${bucketMs} ms`);
      }
    }
  });

  test("only totals questions are batched: a group-by, a filter or a metric's where names a dimension", () => {
    const base = sourceQuery(catalog, 'orders_created', { organizationId: org, start: T0, bucketMs: HOUR });
    const counts = { eventTypes: ['order.created'], measure: 'count' as const };
    assert.equal(isTotalsQuestion(base, counts), true);
    assert.equal(isTotalsQuestion({ ...base, groupBy: ['channel'] }, counts), false);
    assert.equal(isTotalsQuestion({ ...base, filters: [{ dimension: 'channel', op: 'eq', value: 'web' }] }, counts), false);
    assert.equal(isTotalsQuestion(base, { ...counts, where: { status: ['FAILED'] } }), false);
    assert.equal(isTotalsQuestion(base, { ...counts, measure: 'level' }), false);
  });

  test('values at run time: every parameter is read through a one-row subquery, with its type', () => {
    assert.equal(
      valuesAtRunTime('organization_id = $1::uuid AND event_type = ANY($2::text[]) AND bucket >= $13::timestamptz AND (level, bucket) IN (SELECT * FROM unnest($4::int2[], $5::timestamptz[]))'),
      'organization_id = (SELECT $1::uuid)::uuid AND event_type = ANY((SELECT $2::text[])::text[]) AND bucket >= (SELECT $13::timestamptz)::timestamptz AND (level, bucket) IN (SELECT * FROM unnest((SELECT $4::int2[])::int2[], (SELECT $5::timestamptz[])::timestamptz[]))',
    );
    assert.equal(valuesAtRunTime('a = $1::uuid AND b < $2::timestamptz', 8), 'a = (SELECT $9::uuid)::uuid AND b < (SELECT $10::timestamptz)::timestamptz', 'renumbered after the members before it');
  });
});
