import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { test } from 'node:test';
import type { CatalogMetric } from '../src/catalog/schema.js';
import { framesToJson, framesToJsonTwice, kpiFrame, listFrame, markCached, tableFrame, timeSeriesFrames, type Frame } from '../src/query/frames.js';
import type { Series } from '../src/sources/types.js';
import { seededRandom } from './support/seeded-random.js';

const SEED = Number(process.env.FRAMES_JSON_SEED ?? randomInt(2 ** 31));
console.log(`frames JSON tests: seed ${SEED} (replay with FRAMES_JSON_SEED=${SEED})`);

const metric = { key: 'bot_response_time_ms', label: 'Bot response "time"', unit: 'ms', source: 'events' } as unknown as CatalogMetric;
const context = { refId: 'A', metric, aggregation: 'p95', source: 'events', cached: false };

test(`framesToJson writes what JSON.stringify writes, for every frame kind and odd numbers (seed ${SEED})`, () => {
  const random = seededRandom(SEED);
  const odd = [0, -0, 1, -1, 0.1, 1e21, 1e-7, 5e-324, Number.MAX_VALUE, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1_764_496_800_000];
  const number = () => (random() < 0.3 ? odd[Math.floor(random() * odd.length)]! : random() < 0.5 ? Math.floor(random() * 1e6) : (random() - 0.5) * 10 ** Math.floor(random() * 30 - 10));
  const value = () => (random() < 0.15 ? null : number());
  for (let round = 0; round < 200; round += 1) {
    const times = Array.from({ length: Math.floor(random() * 50) }, (_, index) => 1_764_496_800_000 + index * 3_600_000);
    const series: Series[] = Array.from({ length: Math.floor(random() * 6) }, (_, index) => ({
      labels: (random() < 0.2 ? {} : { botId: ['faq', 'sales \u00e9\u{1F600}', 'a"b\\c', ''][index % 4]! }) as Record<string, string>,
      // Series of one answer share their times array, as densify leaves them.
      times: random() < 0.7 ? times : [...times],
      values: times.map(value),
    }));
    const frames: Frame[] = [
      ...timeSeriesFrames(context, series),
      ...timeSeriesFrames({ ...context, cached: true }, series, { previous: true }),
      tableFrame(context, ['botId'], series),
      kpiFrame(context, { value: value(), previous: value(), deltaPercent: value(), trend: 'up', severity: 'ok', ...(random() < 0.5 && { note: 'no "snapshot"' }) } as never),
      listFrame(context, ['botId'], [{ time: times[0] ?? 0, type: 'bot.response', columns: ['faq'], value: value() } as never]),
    ];
    // Columns JSON.stringify writes its own way: holes, undefined, strings and objects among numbers.
    const odds = [[1, undefined, 2], [1, , 3], [1, 'x', null], [{ a: 1 }, 2], []];
    frames.push({ schema: frames[0]?.schema ?? tableFrame(context, [], []).schema, data: { values: odds as unknown[][] } });
    // The mark where keys, strings and objects could make it: a key ending in `"cached` (its quote escaped), strings.
    if (random() < 0.5) {
      const schema = frames[0]?.schema ?? tableFrame(context, [], []).schema;
      frames.push({ schema, data: { values: [[{ 'x"cached': false }, 1], ['"cached":false', 'cached":false'], [null]], 'a"cached': false, cached: false } as never });
      frames.push({ 'b"cached': false, cached: false, schema, data: { values: [[1, 2]] } } as never);
    }
    const expected = JSON.stringify(frames);
    assert.equal(framesToJson(frames), expected, `round ${round}`);
    // Both texts at once: the response's, and the stored answer's marked as served from the cache.
    assert.deepEqual(framesToJsonTwice(frames), { text: expected, marked: markCached(expected) }, `round ${round}`);
  }
  assert.equal(framesToJson([]), '[]');
  assert.deepEqual(framesToJsonTwice([]), { text: '[]', marked: '[]' });
});
