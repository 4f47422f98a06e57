import assert from 'node:assert/strict';
import { createHash, randomInt } from 'node:crypto';
import { describe, test } from 'node:test';
import { canonicalJson, questionHash } from '../src/cache/query-cache.js';
import { seededRandom } from './support/seeded-random.js';
import { loadCatalog } from '../src/catalog/load.js';
import { bucketTimes, chooseBucketMs, DAY_MS, HOUR_MS, WHOLE_RANGE_MS } from '../src/query/buckets.js';
import { isPlanError, planQuery } from '../src/query/planner.js';
import { querySchema } from '../src/query/schema.js';
import { deltaPercent, severityFor, trendOf } from '../src/query/severity.js';
import { slicesFor } from '../src/sources/adapters/events.js';

const SEED = Number(process.env.CANONICAL_JSON_SEED ?? randomInt(2 ** 31));
console.log(`canonical JSON test: seed ${SEED} (replay with CANONICAL_JSON_SEED=${SEED})`);

const T0 = Date.UTC(2026, 1, 1);
const catalog = loadCatalog();

describe('bucket choice', () => {
  test('an interval under a day reads hourly buckets, a day or more daily ones', () => {
    assert.equal(chooseBucketMs(T0, T0 + 30 * DAY_MS, 30 * 60_000, 1000), HOUR_MS);
    assert.equal(chooseBucketMs(T0, T0 + 7 * DAY_MS, 3 * HOUR_MS, 1000), 3 * HOUR_MS);
    assert.equal(chooseBucketMs(T0, T0 + 90 * DAY_MS, DAY_MS, 1000), DAY_MS);
    assert.equal(chooseBucketMs(T0, T0 + 90 * DAY_MS, 36 * HOUR_MS, 1000), 2 * DAY_MS);
  });

  test('buckets widen until the range holds at most maxDataPoints of them, alignment included', () => {
    for (const [from, to, points] of [
      [T0, T0 + 30 * DAY_MS, 100],
      [T0 + 17 * 60_000, T0 + 30 * DAY_MS + 5 * 60_000, 100],
      [T0, T0 + 400 * DAY_MS, 50],
      [T0 + HOUR_MS / 2, T0 + 2 * HOUR_MS, 1],
    ] as const) {
      const bucket = chooseBucketMs(from, to, 60_000, points);
      assert.ok(bucket % HOUR_MS === 0);
      assert.ok(bucketTimes(from, to, bucket).length <= points, `${bucketTimes(from, to, bucket).length} > ${points}`);
    }
  });

  test('bucket times start at from aligned down and cover the range', () => {
    assert.deepEqual(bucketTimes(T0 + 90 * 60_000, T0 + 3 * HOUR_MS, HOUR_MS), [T0 + HOUR_MS, T0 + 2 * HOUR_MS]);
    assert.deepEqual(bucketTimes(T0 + 1, T0 + 5 * DAY_MS, WHOLE_RANGE_MS), [0]);
  });
});

describe('rollup tables read by the events source', () => {
  test('hourly buckets read hourly rollups, whole-day buckets daily ones', () => {
    assert.deepEqual(slicesFor(T0, T0 + DAY_MS, HOUR_MS), [{ table: 'rollups_hourly', from: T0, to: T0 + DAY_MS }]);
    assert.deepEqual(slicesFor(T0 + HOUR_MS, T0 + 3 * DAY_MS, DAY_MS), [{ table: 'rollups_daily', from: T0, to: T0 + 3 * DAY_MS }]);
  });

  test('a whole-range bucket reads whole days daily and the ragged edges hourly', () => {
    assert.deepEqual(slicesFor(T0 + 5 * HOUR_MS, T0 + 3 * DAY_MS + 2 * HOUR_MS, WHOLE_RANGE_MS), [
      { table: 'rollups_daily', from: T0 + DAY_MS, to: T0 + 3 * DAY_MS },
      { table: 'rollups_hourly', from: T0 + 5 * HOUR_MS, to: T0 + DAY_MS },
      { table: 'rollups_hourly', from: T0 + 3 * DAY_MS, to: T0 + 3 * DAY_MS + 2 * HOUR_MS },
    ]);
    assert.deepEqual(slicesFor(T0 + HOUR_MS, T0 + 20 * HOUR_MS, WHOLE_RANGE_MS), [{ table: 'rollups_hourly', from: T0 + HOUR_MS, to: T0 + 20 * HOUR_MS }]);
  });
});

describe('planner', () => {
  const plan = (query: Record<string, unknown>, range: { from?: number; to?: number } = {}) =>
    planQuery(querySchema.parse({ refId: 'A', ...query }), {
      catalog,
      from: new Date(range.from ?? T0),
      to: new Date(range.to ?? T0 + DAY_MS),
      intervalMs: HOUR_MS,
      maxDataPoints: 1000,
      maxRangeDays: 400,
    });

  test('defaults: the metric source and default aggregation, whole-range buckets for tables', () => {
    const planned = plan({ metric: 'bot_response_time_ms', format: 'table' });
    assert.ok(!isPlanError(planned));
    assert.equal(planned.source, 'events');
    assert.equal(planned.aggregation, 'p95');
    assert.equal(planned.bucketMs, WHOLE_RANGE_MS);
  });

  test('a range exactly at the cap is allowed, one hour over it is not', () => {
    assert.ok(!isPlanError(plan({ metric: 'orders_created' }, { from: T0 - 400 * DAY_MS, to: T0 })));
    const over = plan({ metric: 'orders_created' }, { from: T0 - 400 * DAY_MS - HOUR_MS, to: T0 });
    assert.ok(isPlanError(over));
    assert.match(over.error, /spans 401 days; the limit is 400 days/);
  });

  test('a ratio accepts only rate', () => {
    const planned = plan({ metric: 'payment_success_rate', aggregation: 'sum' });
    assert.ok(isPlanError(planned));
    assert.match(planned.error, /allowed: rate/);
  });
});

describe('KPI semantics', () => {
  test('deltaPercent and trend never produce NaN', () => {
    assert.equal(deltaPercent(150, 100), 50);
    assert.equal(deltaPercent(0, 0), 0);
    assert.equal(deltaPercent(5, 0), null);
    assert.equal(deltaPercent(null, 3), null);
    assert.equal(trendOf(150, 100), 'up');
    assert.equal(trendOf(50, 100), 'down');
    assert.equal(trendOf(100.5, 100), 'flat');
    assert.equal(trendOf(5, 0), 'up');
  });

  test('severity comes from the metric threshold rules, healthy without them', () => {
    const metric = { ...catalog.metric('workflow_failure_rate')!, rules: [{ type: 'threshold', direction: 'above', warning: 0.05, critical: 0.2 }] };
    assert.equal(severityFor(metric, 0.01), 'healthy');
    assert.equal(severityFor(metric, 0.1), 'warning');
    assert.equal(severityFor(metric, 0.3), 'critical');
    assert.equal(severityFor(catalog.metric('orders_created')!, 1e9), 'healthy');
  });

  test("a ratio KPI under a rule's minVolume gets no verdict from that rule", () => {
    const metric = { ...catalog.metric('workflow_failure_rate')!, rules: [{ type: 'threshold', direction: 'above', warning: 0.05, critical: 0.2, minVolume: 10 }] };
    assert.equal(severityFor(metric, 0.5, 2), 'healthy');
    assert.equal(severityFor(metric, 0.5, 10), 'critical');
    assert.equal(severityFor(metric, 0.5), 'critical');
  });
});

describe('cache keys', () => {
  test('equal questions hash equally whatever the key order; different ones differ', () => {
    assert.equal(canonicalJson({ b: 1, a: [new Date(0), { d: 2, c: 1 }] }), '{"a":["1970-01-01T00:00:00.000Z",{"c":1,"d":2}],"b":1}');
    assert.equal(questionHash({ a: 1, b: 2 }), questionHash({ b: 2, a: 1 }));
    assert.notEqual(questionHash({ a: 1 }), questionHash({ a: 2 }));
    // The key's form is fixed: answers stored by an earlier process are found by a later one.
    assert.equal(questionHash({ a: 1, b: [new Date(0)] }), createHash('sha256').update('{"a":1,"b":["1970-01-01T00:00:00.000Z"]}').digest('hex').slice(0, 32));
  });

  test(`canonicalJson writes what sorted entries write, for any nesting (seed ${SEED})`, () => {
    // The form before issue 20's step 17, kept as the reference: keys sorted by code unit, undefined members left out.
    const reference = (value: unknown): string => {
      if (value instanceof Date) return JSON.stringify(value.toISOString());
      if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`;
      if (value && typeof value === 'object') {
        const entries = Object.entries(value as Record<string, unknown>)
          .filter(([, item]) => item !== undefined)
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${reference(item)}`).join(',')}}`;
      }
      return JSON.stringify(value ?? null);
    };
    const random = seededRandom(SEED);
    const keys = ['a', 'B', 'b', '\u00e9', '"q"', '10', '2', 'from', 'to', ''];
    const leaf = (): unknown => [null, undefined, 0, -0, 1.5, Number.NaN, true, 'x"\\y\u2028', new Date(Math.floor(random() * 2e12))][Math.floor(random() * 9)];
    const value = (depth: number): unknown => {
      const pick = random();
      if (depth > 3 || pick < 0.4) return leaf();
      if (pick < 0.7) {
        const list: unknown[] = Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1));
        if (random() < 0.1) list[list.length + 1] = 1;
        return list;
      }
      return Object.fromEntries(Array.from({ length: Math.floor(random() * 6) }, () => [keys[Math.floor(random() * keys.length)]!, value(depth + 1)]));
    };
    for (let round = 0; round < 2_000; round += 1) {
      const one = value(0);
      assert.equal(canonicalJson(one), reference(one), `round ${round}`);
    }
  });
});
