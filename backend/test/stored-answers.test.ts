import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_CATALOG_FILE, loadCatalog } from '../src/catalog/load.js';
import { tableFrame } from '../src/query/frames.js';
import { isPlanError, planQuery, type Plan } from '../src/query/planner.js';
import { queryRequestSchema } from '../src/query/schema.js';
import { answerQuestion, decodeAnswer, encodeAnswer, isStorable } from '../src/query/stored-answers.js';

const catalog = loadCatalog(DEFAULT_CATALOG_FILE);
const HOUR = 3_600_000;
const END = Date.UTC(2026, 1, 2);

function plan(query: Record<string, unknown>, to = END, from = to - 24 * HOUR): Plan {
  const request = queryRequestSchema.parse({ from, to, intervalMs: HOUR, queries: [{ refId: 'A', ...query }] });
  const planned = planQuery(request.queries[0]!, { catalog, from: request.from, to: request.to, intervalMs: request.intervalMs, maxDataPoints: request.maxDataPoints, maxRangeDays: 400 });
  assert.ok(!isPlanError(planned), JSON.stringify(planned));
  return planned;
}

describe('stored answers', () => {
  test('stored whole: plain, grouped and ratio answers, and a band over a range that has ended', () => {
    assert.equal(isStorable(plan({ metric: 'orders_created' }), catalog, END), true);
    assert.equal(isStorable(plan({ metric: 'orders_created', groupBy: ['channel'], format: 'table' }), catalog, END), true);
    assert.equal(isStorable(plan({ metric: 'payment_success_rate' }), catalog, END), true);
    assert.equal(isStorable(plan({ metric: 'orders_created', band: 'orders_unusual' }), catalog, END), true);
  });

  test('not stored: a band whose range reaches past now, and a level (read live)', () => {
    assert.equal(isStorable(plan({ metric: 'orders_created', band: 'orders_unusual' }), catalog, END - 1), false);
    assert.equal(isStorable(plan({ metric: 'active_prospects' }), catalog, END), false);
  });

  test('keyed by everything that shapes the answer: two refIds or two ranges are two answers', () => {
    const one = JSON.stringify(answerQuestion(plan({ metric: 'orders_created' }), catalog, 'v1'));
    assert.notEqual(one, JSON.stringify(answerQuestion({ ...plan({ metric: 'orders_created' }), refId: 'B' }, catalog, 'v1')));
    assert.notEqual(one, JSON.stringify(answerQuestion(plan({ metric: 'orders_created' }, END - HOUR), catalog, 'v1')));
    assert.notEqual(one, JSON.stringify(answerQuestion(plan({ metric: 'orders_created' }), catalog, 'v2')));
    assert.equal(one, JSON.stringify(answerQuestion(plan({ metric: 'orders_created' }), catalog, 'v1')));
  });

  test('a relative range asked again within the same hours is the same answer; another hour, or a time at an hour, is another', () => {
    const MINUTE = 60_000;
    const key = (query: Record<string, unknown>, to: number, span = 7 * 24 * HOUR) => JSON.stringify(answerQuestion(plan(query, to, to - span), catalog, 'v1'));
    const now = END + 10 * HOUR + 17 * MINUTE;
    for (const query of [
      { metric: 'orders_created' },
      { metric: 'orders_created', groupBy: ['channel'], format: 'table' },
      { metric: 'bot_response_time_ms', aggregation: 'p95' },
      { metric: 'payment_success_rate', format: 'kpi' },
      { metric: 'order_value', compareToPrevious: true },
      { metric: 'unique_contacts', aggregation: 'distinct', format: 'kpi' },
    ]) {
      const name = JSON.stringify(query);
      // now-7d to now, refreshed 30 minutes later: every time inside the same hours.
      assert.equal(key(query, now), key(query, now + 30 * MINUTE), name);
      assert.notEqual(key(query, now), key(query, now + 43 * MINUTE + 1), `${name}: the hour after`);
      assert.notEqual(key(query, END + 11 * HOUR), key(query, END + 11 * HOUR + 1), `${name}: at the hour, and just after it`);
    }
    // A KPI's previous period starts at from minus the exact span: a span a minute longer puts it in another hour here.
    const kpi = { metric: 'orders_created', format: 'kpi' };
    const at = END + 10 * HOUR + 30 * MINUTE;
    assert.equal(key(kpi, at, 7 * 24 * HOUR), key(kpi, at + MINUTE, 7 * 24 * HOUR));
    assert.notEqual(key(kpi, END + 10 * HOUR + 30 * MINUTE, 7 * 24 * HOUR + 31 * MINUTE), key(kpi, END + 10 * HOUR + 30 * MINUTE, 7 * 24 * HOUR + 29 * MINUTE));
    // A previous period is shifted by the span in whole buckets: a span a millisecond over whole hours shifts it an hour more.
    const previous = { metric: 'order_value', compareToPrevious: true };
    assert.notEqual(key(previous, at, 7 * 24 * HOUR), key(previous, at, 7 * 24 * HOUR + 1));
  });

  test('keyed by the exact range: rolling windows, lists, bands, and sources other than the rollups', () => {
    const MINUTE = 60_000;
    const key = (query: Record<string, unknown>, shift: number) => JSON.stringify(answerQuestion(plan(query, END - HOUR + shift, END - 2 * HOUR + shift), catalog, 'v1'));
    for (const query of [
      { metric: 'orders_created', rolling: true },
      { metric: 'workflows_failed', format: 'list' },
      { metric: 'orders_created', band: 'orders_unusual' },
      { metric: 'new_prospects' },
    ]) {
      assert.notEqual(key(query, 10 * MINUTE), key(query, 11 * MINUTE), JSON.stringify(query));
    }
  });

  test('the text keeps the series count and the frames, marked as served from the cache', () => {
    const metric = catalog.metric('orders_created')!;
    const frames = [tableFrame({ refId: 'A', metric, source: 'events', cached: false }, ['channel'], [{ labels: { channel: 'web' }, times: [0], values: [3] }])];
    const decoded = decodeAnswer(encodeAnswer(JSON.stringify(frames), 7))!;
    assert.equal(decoded.series, 7);
    const served = JSON.parse(decoded.framesJson) as typeof frames;
    assert.equal(served[0]!.schema.meta.custom.cached, true);
    assert.deepEqual({ ...served[0]!, schema: { ...served[0]!.schema, meta: frames[0]!.schema.meta } }, frames[0]);
    // The frames given are not changed by storing them.
    assert.equal(frames[0]!.schema.meta.custom.cached, false);
    // Anything else under the key (an older format) is a miss, not an answer.
    assert.equal(decodeAnswer('[{"labels":{}}]'), undefined);
    assert.equal(decodeAnswer('x\n[]'), undefined);
  });
});
