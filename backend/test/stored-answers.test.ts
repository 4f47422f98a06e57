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

function plan(query: Record<string, unknown>, to = END): Plan {
  const request = queryRequestSchema.parse({ from: to - 24 * HOUR, to, intervalMs: HOUR, queries: [{ refId: 'A', ...query }] });
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
    const one = JSON.stringify(answerQuestion(plan({ metric: 'orders_created' }), 'v1'));
    assert.notEqual(one, JSON.stringify(answerQuestion({ ...plan({ metric: 'orders_created' }), refId: 'B' }, 'v1')));
    assert.notEqual(one, JSON.stringify(answerQuestion(plan({ metric: 'orders_created' }, END - HOUR), 'v1')));
    assert.notEqual(one, JSON.stringify(answerQuestion(plan({ metric: 'orders_created' }), 'v2')));
    assert.equal(one, JSON.stringify(answerQuestion(plan({ metric: 'orders_created' }), 'v1')));
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
