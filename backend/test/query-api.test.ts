import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { JSDOM } from 'jsdom';
import { parse as parseCsv } from 'csv-parse/sync';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { DEFAULT_CATALOG_FILE } from '../src/catalog/load.js';
import { redisUrlForTest } from './support/databases.js';
import { startTestServer, type TestServer } from './support/server.js';

// @grafana/data is a browser library: give it a DOM, then load it as Grafana's own code would run.
const dom = new JSDOM('<!doctype html><html><head></head><body></body></html>', { url: 'http://localhost/' });
for (const key of ['window', 'document', 'navigator', 'localStorage', 'HTMLElement', 'getComputedStyle', 'matchMedia'] as const) {
  const value = key === 'window' ? dom.window : (dom.window as unknown as Record<string, unknown>)[key];
  Object.defineProperty(globalThis, key, { value, configurable: true, writable: true });
}
const grafana = createRequire(import.meta.url)('@grafana/data') as typeof import('@grafana/data');

const GOLDEN_DIR = path.resolve(import.meta.dirname, 'golden');
const T0 = Date.UTC(2026, 1, 1); // 2026-02-01T00:00:00Z
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface Event {
  id: string;
  type: string;
  occurredAt: string;
  value?: number;
  attributes?: Record<string, unknown>;
}
const at = (ms: number) => new Date(ms).toISOString();

/**
 * The fixed dataset: small enough to compute every expected number by hand.
 * Orders (value, channel, market):
 *   Jan 31 12:00 5 web US | Feb 1 00:10 10 web US | 00:40 20 web EU | 01:05 30 mobile US
 *   Feb 1 02:59 40 web US | Feb 2 10:00 50 mobile EU | Feb 3 23:59 60 web US
 * Payments on Feb 1: 00h web 2 ok + 1 failed, mobile 1 ok; 01h web 2 failed; 02h none.
 * Bot responses (faq): 1..100 ms, odd values in hour 00, even values in hour 01.
 */
function dataset(): Event[] {
  const order = (id: string, ms: number, value: number, channel: string, market: string): Event => ({
    id,
    type: 'order.created',
    occurredAt: at(ms),
    value,
    attributes: { channel, market },
  });
  const payment = (id: string, ms: number, ok: boolean, channel: string): Event => ({
    id,
    type: ok ? 'payment.succeeded' : 'payment.failed',
    occurredAt: at(ms),
    value: 1,
    attributes: { channel, market: 'US' },
  });
  const bots: Event[] = Array.from({ length: 100 }, (_, index) => {
    const value = index + 1;
    return { id: `bot-${value}`, type: 'bot.response', occurredAt: at(T0 + (value % 2 === 1 ? 0 : HOUR) + value * 1000), value, attributes: { botId: 'faq', success: value % 10 !== 0 } };
  });
  return [
    order('o0', T0 - 12 * HOUR, 5, 'web', 'US'),
    order('o1', T0 + 10 * 60_000, 10, 'web', 'US'),
    order('o2', T0 + 40 * 60_000, 20, 'web', 'EU'),
    order('o3', T0 + HOUR + 5 * 60_000, 30, 'mobile', 'US'),
    order('o4', T0 + 2 * HOUR + 59 * 60_000, 40, 'web', 'US'),
    order('o5', T0 + DAY + 10 * HOUR, 50, 'mobile', 'EU'),
    order('o6', T0 + 3 * DAY - 60_000, 60, 'web', 'US'),
    payment('p1', T0 + 60_000, true, 'web'),
    payment('p2', T0 + 120_000, true, 'web'),
    payment('p3', T0 + 180_000, false, 'web'),
    payment('p4', T0 + 240_000, true, 'mobile'),
    payment('p5', T0 + HOUR + 60_000, false, 'web'),
    payment('p6', T0 + HOUR + 120_000, false, 'web'),
    // Calls in hour 00: two answered (60 s, 120 s) and a missed one, which has no duration.
    { id: 'c1', type: 'call.finished', occurredAt: at(T0 + 5 * 60_000), value: 60, attributes: { direction: 'inbound', status: 'answered' } },
    { id: 'c2', type: 'call.finished', occurredAt: at(T0 + 6 * 60_000), value: 120, attributes: { direction: 'inbound', status: 'answered' } },
    { id: 'c3', type: 'call.finished', occurredAt: at(T0 + 7 * 60_000), attributes: { direction: 'inbound', status: 'missed' } },
    ...bots,
  ];
}

/** Org B: the same metrics with other numbers, to prove A never sees them. */
const otherOrgEvents: Event[] = [
  { id: 'b1', type: 'order.created', occurredAt: at(T0 + 5 * 60_000), value: 999, attributes: { channel: 'web', market: 'US' } },
  { id: 'b2', type: 'order.created', occurredAt: at(T0 + 6 * 60_000), value: 999, attributes: { channel: 'web', market: 'US' } },
  { id: 'b3', type: 'order.created', occurredAt: at(T0 + 7 * 60_000), value: 999, attributes: { channel: 'partner', market: 'US' } },
];

interface WireFrame {
  schema: { name: string; refId: string; fields: Array<{ name: string; type: string; labels?: Record<string, string>; config?: Record<string, unknown> }>; meta: { custom: { source: string; cached: boolean } } };
  data: { values: unknown[][] };
}
interface WireResult {
  status: number;
  error?: string;
  frames: WireFrame[];
}

/** The shared connection starts without an offline queue: commands before 'ready' would fail. */
async function redisReady(server: TestServer): Promise<void> {
  const redis = server.running.context.redis!;
  if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
}

let server: TestServer;
let keyA: string;
let keyB: string;

async function query(body: Record<string, unknown>, key = keyA): Promise<Record<string, WireResult>> {
  const res = await server.request('/api/v1/query', { method: 'POST', key, json: body });
  assert.equal(res.status, 200, await res.clone().text());
  return ((await res.json()) as { results: Record<string, WireResult> }).results;
}

/** One query over Feb 1 00:00-03:00 (hourly) unless the range is given. */
async function one(q: Record<string, unknown>, range: { from?: number; to?: number; intervalMs?: number } = {}): Promise<WireResult> {
  const results = await query({
    from: at(range.from ?? T0),
    to: at(range.to ?? T0 + 3 * HOUR),
    intervalMs: range.intervalMs ?? HOUR,
    maxDataPoints: 1000,
    queries: [{ refId: 'A', ...q }],
  });
  return results.A!;
}

/** Reads every frame with Grafana's own parser and returns {labels, time, value} per series. */
function readSeries(result: WireResult) {
  assert.equal(result.status, 200, result.error);
  return result.frames.map((wire) => {
    const frame = grafana.dataFrameFromJSON(wire as never);
    const time = frame.fields.find((field) => field.type === grafana.FieldType.time)!;
    const value = frame.fields.find((field) => field.name === 'value')!;
    assert.equal(value.type, grafana.FieldType.number);
    return { name: frame.name, labels: value.labels ?? {}, time: [...time.values], value: [...value.values], config: value.config };
  });
}

function closeTo(actual: number, expected: number, relative = 0.01) {
  assert.ok(Math.abs(actual - expected) <= Math.abs(expected) * relative, `${actual} is not within ${relative * 100}% of ${expected}`);
}

/**
 * The built-in catalog's events source and metrics only, without their rules
 * but payment_success_rate's (for KPI severity): the expected numbers here
 * depend on the events metrics, not on which other sources or alert
 * thresholds the default catalog ships with.
 */
async function eventsCatalogFile(): Promise<string> {
  const catalog = parseYaml(await fs.readFile(DEFAULT_CATALOG_FILE, 'utf8')) as { sources: Array<{ id: string }>; metrics: Array<{ key: string; source: string; rules?: unknown }> };
  const file = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'mh-query-')), 'catalog.yaml');
  const metrics = catalog.metrics
    .filter((metric) => metric.source === 'events')
    .map(({ rules, ...metric }) => (metric.key === 'payment_success_rate' ? { ...metric, rules } : metric));
  await fs.writeFile(file, stringifyYaml({ version: 1, sources: catalog.sources.filter((source) => source.id === 'events'), metrics }));
  return file;
}

let catalogFile: string;

before(async () => {
  catalogFile = await eventsCatalogFile();
  server = await startTestServer('query_api', { REDIS_URL: redisUrlForTest(11), RAW_RETENTION_DAYS: '36500', CATALOG_FILE: catalogFile });
  await redisReady(server);
    await server.running.context.redis!.flushdb();
  keyA = await server.keyFor('org-a');
  keyB = await server.keyFor('org-b');
  for (const [key, events] of [
    [keyA, dataset()],
    [keyB, otherOrgEvents],
  ] as const) {
    const res = await server.request('/api/v1/events', { method: 'POST', key, json: { events } });
    const body = (await res.json()) as { accepted: number; rejected: unknown[] };
    assert.equal(res.status, 200);
    assert.deepEqual(body.rejected, []);
    assert.equal(body.accepted, events.length);
  }
});

after(async () => {
  await server?.stop();
  await fs.rm(path.dirname(catalogFile), { recursive: true, force: true });
});

describe('time series from rollups', () => {
  test('hourly counts equal the events of each hour, with an empty hour as 0', async () => {
    const [series] = readSeries(await one({ metric: 'orders_created' }));
    assert.deepEqual(series!.time, [T0, T0 + HOUR, T0 + 2 * HOUR]);
    assert.deepEqual(series!.value, [2, 1, 1]);
    assert.deepEqual(series!.labels, {});
    assert.equal(series!.config.unit, 'short');
    assert.equal(series!.config.displayName, 'Orders created sum');
  });

  test('display names carry the aggregation, so p50 and p95 of one metric are two legend entries', async () => {
    const names = await Promise.all(['avg', 'max'].map(async (aggregation) => readSeries(await one({ metric: 'call_duration_s', aggregation, groupBy: ['status'] }))));
    assert.deepEqual(
      names.flat().map((series) => series.config.displayName),
      ['Call duration avg (answered)', 'Call duration avg (missed)', 'Call duration max (answered)', 'Call duration max (missed)'],
    );
  });

  test('group-by gives one frame per value, labelled, on the same buckets', async () => {
    const series = readSeries(await one({ metric: 'orders_created', groupBy: ['channel'] }));
    assert.deepEqual(
      series.map((one) => [one.labels, one.value]),
      [
        [{ channel: 'mobile' }, [0, 1, 0]],
        [{ channel: 'web' }, [2, 0, 1]],
      ],
    );
    assert.deepEqual(series[0]!.time, series[1]!.time);
  });

  test('filters: eq, neq, in, not_in', async () => {
    const values = async (filters: unknown[]) => readSeries(await one({ metric: 'orders_created', filters }))[0]!.value;
    assert.deepEqual(await values([{ dimension: 'market', op: 'eq', value: 'US' }]), [1, 1, 1]);
    assert.deepEqual(await values([{ dimension: 'channel', op: 'neq', value: 'web' }]), [0, 1, 0]);
    assert.deepEqual(await values([{ dimension: 'channel', op: 'in', value: ['web', 'mobile'] }]), [2, 1, 1]);
    assert.deepEqual(await values([{ dimension: 'market', op: 'not_in', value: ['EU'] }]), [1, 1, 1]);
    assert.deepEqual(
      await values([
        { dimension: 'channel', op: 'eq', value: 'web' },
        { dimension: 'market', op: 'eq', value: 'US' },
      ]),
      [1, 0, 1],
    );
  });

  test('daily buckets from the daily rollups, with group-by and value aggregations', async () => {
    const range = { from: T0, to: T0 + 3 * DAY, intervalMs: DAY };
    const [count] = readSeries(await one({ metric: 'orders_created' }, range));
    assert.deepEqual(count!.time, [T0, T0 + DAY, T0 + 2 * DAY]);
    assert.deepEqual(count!.value, [4, 1, 1]);
    const byChannel = readSeries(await one({ metric: 'orders_created', groupBy: ['channel'] }, range));
    assert.deepEqual(
      byChannel.map((one) => [one.labels.channel, one.value]),
      [
        ['mobile', [1, 1, 0]],
        ['web', [3, 0, 1]],
      ],
    );
    const value = async (aggregation: string) => readSeries(await one({ metric: 'order_value', aggregation }, range))[0]!.value;
    assert.deepEqual(await value('sum'), [100, 50, 60]);
    assert.deepEqual(await value('avg'), [25, 50, 60]);
    assert.deepEqual(await value('min'), [10, 50, 60]);
    assert.deepEqual(await value('max'), [40, 50, 60]);
    assert.deepEqual(await value('count'), [4, 1, 1]);
  });

  test('an average divides by the events that carry a value, not by all events', async () => {
    const [series] = readSeries(await one({ metric: 'call_duration_s', aggregation: 'avg' }));
    assert.deepEqual(series!.value, [90, null, null]);
    const byStatus = readSeries(await one({ metric: 'call_duration_s', aggregation: 'avg', groupBy: ['status'] }));
    assert.deepEqual(
      byStatus.map((one) => [one.labels.status, one.value[0]]),
      [
        ['answered', 90],
        ['missed', null],
      ],
    );
    assert.deepEqual(readSeries(await one({ metric: 'call_duration_s', aggregation: 'count' }))[0]!.value, [3, 0, 0]);
  });

  test('an empty bucket has no average: null, not 0', async () => {
    const [series] = readSeries(await one({ metric: 'order_value', aggregation: 'avg' }, { from: T0, to: T0 + 4 * HOUR }));
    assert.deepEqual(series!.value, [15, 30, 40, null]);
  });

  test('buckets widen to keep the points within maxDataPoints', async () => {
    const results = await query({ from: at(T0), to: at(T0 + 3 * DAY), intervalMs: HOUR, maxDataPoints: 10, queries: [{ refId: 'A', metric: 'orders_created' }] });
    const [series] = readSeries(results.A!);
    assert.ok(series!.time.length <= 10, `${series!.time.length} points`);
    assert.equal((series!.time[1] as number) - (series!.time[0] as number), 8 * HOUR);
    assert.equal((series!.value as number[]).reduce((sum, value) => sum + value, 0), 6);
  });

  test('compareToPrevious adds the previous period shifted onto the current buckets', async () => {
    const result = await one({ metric: 'orders_created', compareToPrevious: true }, { from: T0, to: T0 + DAY, intervalMs: DAY });
    const series = readSeries(result);
    assert.equal(series.length, 2);
    assert.deepEqual(series[0]!.value, [4]);
    assert.equal(series[1]!.name, 'orders_created (previous period)');
    assert.deepEqual(series[1]!.labels, { period: 'previous' });
    assert.deepEqual(series[1]!.time, [T0]);
    assert.deepEqual(series[1]!.value, [1]);
  });
});

describe('ratios and percentiles', () => {
  test('a ratio is sum(numerator) / sum(denominator) per bucket; an empty denominator gives null (no data), not 0', async () => {
    const [series] = readSeries(await one({ metric: 'payment_success_rate' }));
    assert.deepEqual(series!.value, [0.75, 0, null], 'all payments failed: 0; no payments: null');
    assert.equal(series!.config.unit, 'percentunit');
  });

  test('over the whole range the ratio of sums, never the average of ratios', async () => {
    const table = await one({ metric: 'payment_success_rate', format: 'table' });
    const frame = grafana.dataFrameFromJSON(table.frames[0] as never);
    assert.deepEqual([...frame.fields[0]!.values], [0.5]);
    const byChannel = grafana.dataFrameFromJSON((await one({ metric: 'payment_success_rate', format: 'table', groupBy: ['channel'] })).frames[0] as never);
    assert.deepEqual([...byChannel.fields[0]!.values], ['mobile', 'web']);
    assert.deepEqual([...byChannel.fields[1]!.values], [1, 0.4]);
  });

  test('a ratio with no data at all is null, never NaN or a misleading 0', async () => {
    const [series] = readSeries(await one({ metric: 'workflow_failure_rate' }));
    assert.deepEqual(series!.value, [null, null, null]);
  });

  test('percentiles merge sketches across buckets (the p95 of all values, not of the hourly p95s)', async () => {
    const value = async (aggregation: string, format = 'table') => {
      const frame = grafana.dataFrameFromJSON((await one({ metric: 'bot_response_time_ms', aggregation, format })).frames[0] as never);
      return frame.fields.find((field) => field.name === 'value')!.values[0] as number;
    };
    // Values 1..100: the value at rank q*(n-1), within the sketch's 0.5% accuracy.
    closeTo(await value('p50'), 50);
    closeTo(await value('p90'), 90);
    closeTo(await value('p95'), 95);
    closeTo(await value('p99'), 99);
    assert.equal(await value('min'), 1);
    assert.equal(await value('max'), 100);
    assert.equal(await value('avg'), 50.5);
    const [hourly] = readSeries(await one({ metric: 'bot_response_time_ms', aggregation: 'p95' }));
    closeTo(hourly!.value[0] as number, 93); // odd values 1..99: rank 46.55 -> 93
    closeTo(hourly!.value[1] as number, 94); // even values 2..100 -> 94
    assert.equal(hourly!.value[2], null);
  });

  test('grouped and filtered percentiles merge the sketches of each series and bucket, and nothing matched is null', async () => {
    // Hour 0: odd values 1..99, all successes; hour 1: even values, of which 10, 20, ..., 100 are errors.
    const byStatus = readSeries(await one({ metric: 'bot_response_time_ms', aggregation: 'p50', groupBy: ['status'] }));
    assert.deepEqual(byStatus.map((series) => series.labels), [{ status: 'error' }, { status: 'success' }]);
    const [error, success] = byStatus;
    assert.equal(error!.value[0], null);
    closeTo(error!.value[1] as number, 50); // 10..100: rank 4.5 -> 50
    closeTo(success!.value[0] as number, 49); // 1..99 odd: rank 24.5 -> 49
    closeTo(success!.value[1] as number, 48); // 40 even non-errors: rank 19.5 -> 48
    const [faq] = readSeries(await one({ metric: 'bot_response_time_ms', aggregation: 'p95', filters: [{ dimension: 'botId', op: 'eq', value: 'faq' }] }));
    closeTo(faq!.value[0] as number, 93);
    closeTo(faq!.value[1] as number, 94);
    const nobody = readSeries(await one({ metric: 'bot_response_time_ms', aggregation: 'p95', filters: [{ dimension: 'botId', op: 'eq', value: 'nobody' }] }));
    assert.ok(nobody.every((series) => series.value.every((value) => value === null)), JSON.stringify(nobody));
  });

  test('bot error rate uses the derived status dimension', async () => {
    const frame = grafana.dataFrameFromJSON((await one({ metric: 'bot_error_rate', format: 'table' })).frames[0] as never);
    assert.deepEqual([...frame.fields[0]!.values], [0.1]);
  });
});

describe('tables and KPIs', () => {
  test('a table is one wide frame: group-by columns and the value over the range', async () => {
    const result = await one({ metric: 'orders_created', format: 'table', groupBy: ['channel', 'market'] }, { from: T0, to: T0 + 3 * DAY });
    const frame = grafana.dataFrameFromJSON(result.frames[0] as never);
    assert.deepEqual(
      frame.fields.map((field) => [field.name, field.type]),
      [
        ['channel', 'string'],
        ['market', 'string'],
        ['value', 'number'],
      ],
    );
    assert.deepEqual(frame.fields.map((field) => [...field.values]), [
      ['mobile', 'mobile', 'web', 'web'],
      ['EU', 'US', 'EU', 'US'],
      [1, 1, 1, 3],
    ]);
  });

  test('a range that is not whole days counts by the hour at its edges', async () => {
    // [Feb 1 01:00, Feb 3 12:00): o3, o4, o5 but not o1, o2 (before) or o6 (after).
    const result = await one({ metric: 'orders_created', format: 'table' }, { from: T0 + HOUR, to: T0 + 2 * DAY + 12 * HOUR });
    assert.deepEqual(result.frames[0]!.data.values, [[3]]);
  });

  test('a KPI row has value, previous, deltaPercent, trend and severity', async () => {
    const result = await one({ metric: 'orders_created', format: 'kpi', groupBy: ['channel'] }, { from: T0, to: T0 + 3 * DAY });
    const frame = grafana.dataFrameFromJSON(result.frames[0] as never);
    assert.equal(frame.length, 1);
    const row = Object.fromEntries(frame.fields.map((field) => [field.name, field.values[0]]));
    assert.deepEqual(row, { value: 6, previous: 1, deltaPercent: 500, trend: 'up', severity: 'healthy' });
    assert.equal(frame.fields[2]!.config.unit, 'percent');
  });
});

describe('per-query errors and malformed requests', () => {
  test('each bad query gets its own error while the others answer', async () => {
    const results = await query({
      from: at(T0),
      to: at(T0 + 3 * HOUR),
      intervalMs: HOUR,
      maxDataPoints: 100,
      queries: [
        { refId: 'ok', metric: 'orders_created' },
        { refId: 'typo', metric: 'ordrs_created' },
        { refId: 'dim', metric: 'orders_created', groupBy: ['botId'] },
        { refId: 'filter', metric: 'orders_created', filters: [{ dimension: 'colour', op: 'eq', value: 'red' }] },
        { refId: 'agg', metric: 'orders_created', aggregation: 'p95' },
        { refId: 'source', source: 'hubspot', metric: 'orders_created' },
      ],
    });
    assert.equal(results.ok!.status, 200);
    assert.deepEqual(results.typo, { status: 400, error: "metric 'ordrs_created' is not in the catalog; did you mean 'orders_created'?", frames: [] });
    assert.match(results.dim!.error!, /dimension 'botId' is not declared on metric 'orders_created' \(declared: channel, market, product\)/);
    assert.match(results.filter!.error!, /dimension 'colour' is not declared/);
    assert.match(results.agg!.error!, /aggregation 'p95' is not allowed for metric 'orders_created' \(allowed: sum, count\)/);
    assert.match(results.source!.error!, /belongs to source 'events', not 'hubspot'/);
    for (const refId of ['typo', 'dim', 'filter', 'agg', 'source']) assert.equal(results[refId]!.status, 400);
  });

  test('from after to, and a range over the cap, are per-query errors naming the cap', async () => {
    const reversed = await query({ from: at(T0 + DAY), to: at(T0), queries: [{ refId: 'A', metric: 'orders_created' }] });
    assert.equal(reversed.A!.status, 400);
    assert.match(reversed.A!.error!, /from \(2026-02-02T00:00:00.000Z\) is after to/);
    const long = await query({ from: at(T0 - 500 * DAY), to: at(T0), queries: [{ refId: 'A', metric: 'orders_created' }] });
    assert.equal(long.A!.status, 400);
    assert.match(long.A!.error!, /the limit is 400 days \(QUERY_MAX_RANGE_DAYS\)/);
  });

  test('a malformed request is refused whole with 400 naming the field', async () => {
    const cases: Array<[unknown, string]> = [
      [{ to: at(T0), queries: [{ refId: 'A', metric: 'orders_created' }] }, 'from'],
      [{ from: 'yesterday', to: at(T0), queries: [{ refId: 'A', metric: 'orders_created' }] }, 'from'],
      [{ from: at(T0), to: at(T0 + DAY), queries: [] }, 'queries'],
      [{ from: at(T0), to: at(T0 + DAY), queries: [{ refId: 'A', metric: 42 }] }, 'queries[0].metric'],
      [{ from: at(T0), to: at(T0 + DAY), queries: [{ refId: 'A', metric: 'orders_created', filters: [{ dimension: 'channel', op: 'like', value: 'w%' }] }] }, 'queries[0].filters[0].op'],
      [{ from: at(T0), to: at(T0 + DAY), queries: [{ refId: 'A', metric: 'orders_created', filters: [{ dimension: 'channel', op: 'in', value: 'web' }] }] }, 'queries[0].filters[0].value'],
      [{ from: at(T0), to: at(T0 + DAY), maxDataPoints: -1, queries: [{ refId: 'A', metric: 'orders_created' }] }, 'maxDataPoints'],
      [
        {
          from: at(T0),
          to: at(T0 + DAY),
          queries: [
            { refId: 'A', metric: 'orders_created' },
            { refId: 'A', metric: 'orders_created' },
          ],
        },
        'queries[1].refId',
      ],
    ];
    for (const [body, field] of cases) {
      const res = await server.request('/api/v1/query', { method: 'POST', key: keyA, json: body });
      assert.equal(res.status, 400, JSON.stringify(body));
      const answer = (await res.json()) as { error: string; field: string };
      assert.equal(answer.field, field);
      assert.ok(answer.error.startsWith(`${field}: `), answer.error);
    }
  });

  test('without an API key the query API answers 401', async () => {
    const res = await server.request('/api/v1/query', { method: 'POST', json: { from: at(T0), to: at(T0 + DAY), queries: [{ refId: 'A', metric: 'orders_created' }] } });
    assert.equal(res.status, 401);
  });
});

describe('security', () => {
  const injections = ["x'; DROP TABLE rollups_hourly; --", "web' OR '1'='1", 'channel") OR 1=1 --', "'||(SELECT count(*) FROM api_keys)||'"];

  test('SQL injection strings in every field are refused or treated as data', async () => {
    for (const evil of injections) {
      const results = await query({
        from: at(T0),
        to: at(T0 + 3 * HOUR),
        intervalMs: HOUR,
        queries: [
          { refId: 'metric', metric: evil },
          { refId: 'source', source: evil, metric: 'orders_created' },
          { refId: 'aggregation', metric: 'orders_created', aggregation: evil },
          { refId: 'groupBy', metric: 'orders_created', groupBy: [evil] },
          { refId: 'filterDimension', metric: 'orders_created', filters: [{ dimension: evil, op: 'eq', value: 'web' }] },
          { refId: 'filterValue', metric: 'orders_created', filters: [{ dimension: 'channel', op: 'eq', value: evil }] },
          { refId: 'filterValues', metric: 'orders_created', filters: [{ dimension: 'channel', op: 'not_in', value: [evil] }] },
          { refId: evil, metric: 'orders_created' },
        ],
      });
      for (const refId of ['metric', 'source', 'aggregation', 'groupBy', 'filterDimension']) assert.equal(results[refId]!.status, 400, refId);
      assert.deepEqual(results.filterValue!.frames[0]!.data.values[1], [0, 0, 0], 'a filter value is data: nothing matches it');
      assert.deepEqual(results.filterValues!.frames[0]!.data.values[1], [2, 1, 1], 'not_in an unknown value keeps everything');
      assert.deepEqual(results[evil]!.frames[0]!.data.values[1], [2, 1, 1]);
      const bad = await server.request('/api/v1/query', { method: 'POST', key: keyA, json: { from: evil, to: at(T0), queries: [{ refId: 'A', metric: 'orders_created' }] } });
      assert.equal(bad.status, 400);
    }
    const csv = await server.request(`/api/v1/export.csv?from=${at(T0)}&to=${at(T0 + 3 * HOUR)}&metric=orders_created&groupBy=${encodeURIComponent(injections[0]!)}`, { key: keyA });
    assert.equal(csv.status, 400);
    // The rollups are intact after all of it.
    assert.deepEqual(readSeries(await one({ metric: 'orders_created' }))[0]!.value, [2, 1, 1]);
  });

  test("organization A's key never reads B's numbers, whatever the request says", async () => {
    const body = {
      from: at(T0),
      to: at(T0 + HOUR),
      intervalMs: HOUR,
      organizationId: 'b',
      queries: [{ refId: 'A', metric: 'orders_created', groupBy: ['channel'], organizationId: 'b', organization: 'org-b' }],
    };
    const fromB = await query(body, keyB);
    assert.deepEqual(
      fromB.A!.frames.map((frame) => [frame.schema.fields[1]!.labels, frame.data.values[1]]),
      [
        [{ channel: 'partner' }, [1]],
        [{ channel: 'web' }, [2]],
      ],
    );
    // A asks the same question after B's answer is cached: A gets A's numbers.
    const fromA = await query(body, keyA);
    assert.deepEqual(
      fromA.A!.frames.map((frame) => [frame.schema.fields[1]!.labels, frame.data.values[1]]),
      [[{ channel: 'web' }, [2]]],
    );
    const variables = await server.request('/api/v1/variables', { method: 'POST', key: keyA, json: { query: 'dimension_values', metric: 'orders_created', dimension: 'channel', from: at(T0 - DAY), to: at(T0 + 3 * DAY) } });
    assert.deepEqual(await variables.json(), [
      { text: 'mobile', value: 'mobile' },
      { text: 'web', value: 'web' },
    ]);
  });
});

describe('catalog, variables, summary, export, whoami', () => {
  test('the catalog lists sources with their status and metrics for the query editor', async () => {
    const res = await server.request('/api/v1/catalog', { key: keyA });
    const catalog = (await res.json()) as { sources: Array<Record<string, unknown>>; metrics: Array<Record<string, unknown>> };
    assert.deepEqual(Object.keys(catalog.sources[0]!).sort(), ['description', 'id', 'label', 'lastError', 'lastSuccessAt', 'latencyMs', 'status', 'type']);
    assert.equal(catalog.sources.find((source) => source.id === 'events')!.status, 'up');
    const orders = catalog.metrics.find((metric) => metric.key === 'orders_created')!;
    assert.deepEqual(orders.dimensions, ['channel', 'market', 'product']);
    assert.deepEqual(orders.aggregations, ['sum', 'count']);
    assert.equal(orders.defaultAggregation, 'sum');
    assert.equal(catalog.metrics.find((metric) => metric.key === 'bot_response_time_ms')!.defaultAggregation, 'p95');
  });

  test('variables: metrics, sources, dimensions and dimension values', async () => {
    const ask = async (body: unknown) => {
      const res = await server.request('/api/v1/variables', { method: 'POST', key: keyA, json: body });
      return { status: res.status, body: (await res.json()) as unknown };
    };
    assert.deepEqual((await ask({ query: 'sources' })).body, [{ text: 'Metrics Hub events', value: 'events' }]);
    const metrics = (await ask({ query: 'metrics' })).body as Array<{ value: string }>;
    assert.ok(metrics.some((metric) => metric.value === 'orders_created'));
    assert.deepEqual((await ask({ query: 'dimensions', metric: 'payment_success_rate' })).body, [
      { text: 'channel', value: 'channel' },
      { text: 'market', value: 'market' },
    ]);
    assert.deepEqual((await ask({ query: 'dimension_values', metric: 'orders_created', dimension: 'market', from: at(T0 - DAY), to: at(T0 + 3 * DAY) })).body, [
      { text: 'EU', value: 'EU' },
      { text: 'US', value: 'US' },
    ]);
    const unknown = await ask({ query: 'dimension_values', metric: 'orders_created', dimension: 'botId' });
    assert.equal(unknown.status, 400);
    assert.match((unknown.body as { error: string }).error, /dimension 'botId' is not declared/);
    assert.equal((await ask({ query: 'everything' })).status, 400);
  });

  test('summary: KPI cards, alerts and system health', async () => {
    const res = await server.request(`/api/v1/summary?from=${at(T0)}&to=${at(T0 + 3 * DAY)}&metrics=orders_created,payment_success_rate`, { key: keyA });
    assert.equal(res.status, 200);
    const summary = (await res.json()) as { cards: Array<Record<string, unknown>>; alerts: unknown[]; systemHealth: { status: string; sources: unknown[] } };
    assert.deepEqual(summary.cards[0], {
      key: 'orders_created',
      label: 'Orders created',
      unit: 'short',
      description: 'Orders placed (order.created events).',
      source: 'events',
      value: 6,
      previous: 1,
      deltaPercent: 500,
      trend: 'up',
      severity: 'healthy',
    });
    assert.equal(summary.cards[1]!.value, 0.5);
    assert.equal(summary.cards[1]!.previous, null, 'no payments in the previous period: no rate');
    // 0.5 is below the rule's critical 0.85, but 6 payments are under its minVolume of 20: no verdict.
    assert.equal(summary.cards[1]!.severity, 'healthy');
    assert.deepEqual(summary.alerts, []);
    assert.equal(summary.systemHealth.status, 'healthy');
    const typo = await server.request('/api/v1/summary?metrics=ordrs_created', { key: keyA });
    assert.equal(typo.status, 400);
    assert.match(((await typo.json()) as { error: string }).error, /did you mean 'orders_created'/);
  });

  test('export.csv streams the series with correct CSV escaping', async () => {
    await server.request('/api/v1/events', {
      method: 'POST',
      key: keyA,
      json: { events: [{ id: 'csv-1', type: 'order.created', occurredAt: at(T0 + 30 * 60_000), value: 1, attributes: { channel: 'web, "beta"\nline', market: 'US' } }] },
    });
    const res = await server.request(`/api/v1/export.csv?from=${at(T0)}&to=${at(T0 + 2 * HOUR)}&metric=orders_created&groupBy=channel`, { key: keyA });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /^text\/csv/);
    assert.match(res.headers.get('content-disposition')!, /orders_created\.csv/);
    const rows = parseCsv(await res.text(), { columns: true }) as Array<Record<string, string>>;
    assert.deepEqual(rows, [
      { time: '2026-02-01T00:00:00.000Z', channel: 'mobile', orders_created: '0' },
      { time: '2026-02-01T01:00:00.000Z', channel: 'mobile', orders_created: '1' },
      { time: '2026-02-01T00:00:00.000Z', channel: 'web', orders_created: '2' },
      { time: '2026-02-01T01:00:00.000Z', channel: 'web', orders_created: '0' },
      { time: '2026-02-01T00:00:00.000Z', channel: 'web, "beta"\nline', orders_created: '1' },
      { time: '2026-02-01T01:00:00.000Z', channel: 'web, "beta"\nline', orders_created: '0' },
    ]);
    const bad = await server.request(`/api/v1/export.csv?from=${at(T0)}&to=${at(T0 + HOUR)}&metric=orders_created&filters=notjson`, { key: keyA });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { field: string }).field, 'filters');
  });

  test('whoami counts the sources and the healthy ones', async () => {
    const res = await server.request('/api/v1/whoami', { key: keyA });
    const body = (await res.json()) as { organization: { name: string }; sources: { total: number; healthy: number } };
    assert.equal(body.organization.name, 'org-a');
    assert.deepEqual(body.sources, { total: 1, healthy: 1 });
  });
});

describe('golden answer', () => {
  // Pinned wire format of POST /api/v1/query for the fixed dataset; the Go component reuses these files.
  test('the answer for the golden request matches test/golden/query-response.json', async () => {
    const request = JSON.parse(await fs.readFile(path.join(GOLDEN_DIR, 'query-request.json'), 'utf8')) as Record<string, unknown>;
    // A fresh org with only the fixed dataset, so earlier tests' writes and cache state do not matter.
    const key = await server.keyFor('golden');
    const ingest = await server.request('/api/v1/events', { method: 'POST', key, json: { events: dataset() } });
    assert.equal(ingest.status, 200);
    const res = await server.request('/api/v1/query', { method: 'POST', key, json: request });
    assert.equal(res.status, 200);
    const answer = (await res.json()) as { results: Record<string, WireResult> };
    const goldenFile = path.join(GOLDEN_DIR, 'query-response.json');
    if (process.env.UPDATE_GOLDEN === '1') await fs.writeFile(goldenFile, `${JSON.stringify(answer, null, 2)}\n`);
    assert.deepEqual(answer, JSON.parse(await fs.readFile(goldenFile, 'utf8')));
    for (const result of Object.values(answer.results)) for (const frame of result.frames) assert.ok(grafana.dataFrameFromJSON(frame as never).fields.length > 0);
  });
});
