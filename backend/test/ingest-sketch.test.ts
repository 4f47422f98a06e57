import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DDSketch } from '@datadog/sketches-js';
import { LogarithmicMapping } from '@datadog/sketches-js/dist/ddsketch/mapping/index.js';
import { createOrganization } from '../src/auth/keys.js';
import { migrateUp } from '../src/db/migrate.js';
import { createPool, type Pool } from '../src/db/pool.js';
import { ingestEvents } from '../src/ingest/ingest.js';
import { createLogger } from '../src/logger.js';
import { binsFromValues, mergeBins, orderedBinsOfJsonAt, quantile, quantileOfOneJsonAt, quantileOfOrderedBins, SketchAccumulator, SKETCH_RELATIVE_ACCURACY, sketchTextKey, type SketchBins } from '../src/rollups/sketch.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';

const NOW = Date.parse('2026-03-10T12:00:00Z');
const START = Date.parse('2026-03-07T00:00:00Z');
const N = 100_000;

/** Seeded generator so a failure can be replayed. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Exact quantile with the same rank convention as DDSketch: the value at rank q * (n - 1). */
function exactQuantile(sorted: number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))]!;
}

let database: TestDatabase;
let pool: Pool;
let organization: string;
const values: number[] = [];

before(async () => {
  database = await createTestDatabase('ingest_sketch');
  await migrateUp(database.url, createLogger('silent'));
  pool = createPool(database.url, 4, createLogger('silent'));
  organization = (await createOrganization(pool, 'sketch')).id;

  // Log-normal response times (median ~300 ms, long tail) spread over three days, in 20 batches.
  const random = mulberry32(42);
  const events = [];
  for (let i = 0; i < N; i++) {
    const normal = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    const value = Math.exp(Math.log(300) + 0.8 * normal);
    values.push(value);
    const occurredAt = new Date(START + Math.floor(random() * 3 * 86_400_000)).toISOString();
    events.push({ id: `r${i}`, type: 'bot.response', occurredAt, value, attributes: { botId: 'faq', success: true } });
  }
  for (let start = 0; start < N; start += 5_000) {
    const result = await ingestEvents(pool, organization, events.slice(start, start + 5_000), { now: () => NOW });
    assert.equal(result.accepted, 5_000);
  }
  values.sort((a, b) => a - b);
});

after(async () => {
  await pool.end();
  await database.drop();
});

async function mergedSketch(table: 'rollups_hourly' | 'rollups_daily'): Promise<{ bins: SketchBins; rows: number }> {
  const { rows } = await pool.query<{ sketch: SketchBins }>(`SELECT sketch FROM ${table} WHERE organization_id = $1 AND event_type = 'bot.response'`, [organization]);
  const bins: SketchBins = {};
  for (const row of rows) mergeBins(bins, row.sketch);
  return { bins, rows: rows.length };
}

for (const table of ['rollups_hourly', 'rollups_daily'] as const) {
  test(`p50, p90, p95, p99 from merged ${table} sketches are within 1% of exact on 100k values`, async () => {
    const { bins, rows } = await mergedSketch(table);
    assert.ok(rows >= (table === 'rollups_hourly' ? 72 : 3), `${rows} rows merged`);
    for (const q of [0.5, 0.9, 0.95, 0.99]) {
      const exact = exactQuantile(values, q);
      const estimate = quantile(bins, q)!;
      const error = Math.abs(estimate - exact) / exact;
      assert.ok(error <= 0.01, `q=${q}: sketch ${estimate.toFixed(3)} vs exact ${exact.toFixed(3)} (error ${(error * 100).toFixed(3)}%)`);
    }
  });
}

test('count, sum, min and max over the rollups equal the exact values', async () => {
  const { rows } = await pool.query<{ count: number; sum: number; min: number; max: number }>(
    `SELECT sum(count)::int AS count, sum(sum) AS sum, min(min) AS min, max(max) AS max
     FROM rollups_daily WHERE organization_id = $1 AND event_type = 'bot.response'`,
    [organization],
  );
  const exactSum = values.reduce((sum, value) => sum + value, 0);
  assert.equal(rows[0]!.count, N);
  assert.ok(Math.abs(rows[0]!.sum - exactSum) / exactSum < 1e-9);
  assert.equal(rows[0]!.min, values[0]);
  assert.equal(rows[0]!.max, values[N - 1]);
});

test('values below 1 and negative values keep their sign and size in the sketch', () => {
  const near = (actual: number | undefined, expected: number) => assert.ok(actual !== undefined && Math.abs(actual - expected) <= Math.abs(expected) * 0.005, `${actual} vs ${expected}`);
  // 0.5 sits in bin -69 and -2 in bin 70 of |value|: the keys must not collide.
  near(quantile(binsFromValues([0.5, 0.5, 0.5]), 0.5), 0.5);
  const mixed = binsFromValues([-2, -2, 0.5, 0.5, 0.5, 0.001, 3]);
  near(quantile(mixed, 0), -2);
  near(quantile(mixed, 0.5), 0.5);
  near(quantile(mixed, 1), 3);
  assert.equal(Object.keys(mixed).length, 4);
});

const mapping = new LogarithmicMapping(SKETCH_RELATIVE_ACCURACY);

test('addJsonAt and subtractJsonAt at an offset: a map added and taken out again leaves the others, in jsonb form or any other', async () => {
  const fc = (await import('fast-check')).default;
  const key = fc.oneof(fc.constant('z'), fc.integer({ min: -3000, max: 3000 }).map(String), fc.integer({ min: -3000, max: 3000 }).map((n) => `n${n}`));
  const bins = fc.dictionary(key, fc.integer({ min: 1, max: 1_000_000 }), { maxKeys: 1_500 });
  const jsonbText = (map: SketchBins) =>
    `{${Object.keys(map)
      .sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0))
      .map((name) => `"${name}": ${map[name]}`)
      .join(', ')}}`;
  const accumulator = new SketchAccumulator();
  const seed = Number(process.env.SKETCH_AT_SEED ?? Math.floor(Math.random() * 2 ** 31));
  console.log(`addJsonAt/subtractJsonAt property: seed ${seed} (replay with SKETCH_AT_SEED=${seed})`);
  fc.assert(
    fc.property(fc.array(bins, { maxLength: 5 }), bins, fc.boolean(), (kept, taken, exact) => {
      const form = exact ? jsonbText : (map: SketchBins) => JSON.stringify(map);
      accumulator.clear();
      const expected: SketchBins = {};
      for (const one of kept) {
        const text = `1700000000000 ${form(one)} `;
        assert.equal(accumulator.addJsonAt(text, 14), text.length - 1);
        mergeBins(expected, one);
      }
      const takenText = `x${form(taken)}`;
      assert.equal(accumulator.addJsonAt(takenText, 1), takenText.length);
      assert.equal(accumulator.subtractJsonAt(takenText, 1), takenText.length);
      assert.deepEqual(accumulator.toBins(), expected);
      for (const q of [0, 0.5, 0.95, 1]) assert.equal(accumulator.quantile(q), quantile(expected, q));
    }),
    { numRuns: 300, seed },
  );
});

test('whole sketch texts read again come from the texts already scanned, and only a text equal to the one scanned does', async () => {
  const fc = (await import('fast-check')).default;
  const key = fc.oneof(fc.constant('z'), fc.integer({ min: -3000, max: 3000 }).map(String), fc.integer({ min: -3000, max: 3000 }).map((n) => `n${n}`));
  const bins = fc.dictionary(key, fc.integer({ min: 1, max: 1_000_000 }), { minKeys: 1, maxKeys: 200 });
  const jsonbText = (map: SketchBins) =>
    `{${Object.keys(map)
      .sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0))
      .map((name) => `"${name}": ${map[name]}`)
      .join(', ')}}`;
  const seed = Number(process.env.SCANNED_TEXTS_SEED ?? Math.floor(Math.random() * 2 ** 31));
  console.log(`scanned sketch texts property: seed ${seed} (replay with SCANNED_TEXTS_SEED=${seed})`);
  const accumulator = new SketchAccumulator();
  // Each round merges the same texts three times (the first scans them, the others find them) and takes one out.
  fc.assert(
    fc.property(fc.array(bins, { minLength: 1, maxLength: 6 }), fc.nat(), (sketches, pick) => {
      const texts = sketches.map(jsonbText);
      const expected: SketchBins = {};
      for (const one of sketches) mergeBins(expected, one);
      const taken = sketches[pick % sketches.length]!;
      const kept: SketchBins = {};
      for (const one of sketches) if (one !== taken) mergeBins(kept, one);
      for (let round = 0; round < 3; round += 1) {
        accumulator.clear();
        for (const text of texts) assert.equal(accumulator.addJsonAt(text, 0), text.length);
        assert.deepEqual(accumulator.toBins(), expected);
        for (const q of [0, 0.5, 0.95, 1]) assert.equal(accumulator.quantile(q), quantile(expected, q));
        assert.equal(accumulator.subtractJsonAt(jsonbText(taken), 0), jsonbText(taken).length);
        assert.deepEqual(accumulator.toBins(), kept);
      }
    }),
    { numRuns: 200, seed },
  );

  // Two texts filed under one key (same length, same sampled characters, one count digit apart): each keeps its bins.
  const first: SketchBins = {};
  for (let bin = 100; bin < 160; bin += 1) first[String(bin)] = 11;
  const text = jsonbText(first);
  const sampled = new Set<number>();
  for (let index = 1; index < text.length; index += (text.length >> 4) + 1) sampled.add(index);
  const digit = [...text].findIndex((ch, index) => ch === '1' && text[index - 1] === ' ' && !sampled.has(index) && !sampled.has(index + 1));
  assert.ok(digit > 0, 'a count digit outside the sampled characters');
  const other = `${text.slice(0, digit)}2${text.slice(digit + 1)}`;
  assert.notEqual(other, text);
  assert.equal(sketchTextKey(other), sketchTextKey(text));
  for (const [read, again] of [
    [text, other],
    [other, text],
    [text, text],
  ] as const) {
    accumulator.clear();
    accumulator.addJsonAt(read, 0);
    accumulator.clear();
    accumulator.addJsonAt(again, 0);
    assert.deepEqual(accumulator.toBins(), JSON.parse(again));
  }
});

test('SketchAccumulator reads jsonb text exactly as JSON.parse plus merging would, and falls back on any other form', async () => {
  const fc = (await import('fast-check')).default;
  const key = fc.oneof(fc.constant('z'), fc.integer({ min: -3000, max: 3000 }).map(String), fc.integer({ min: -3000, max: 3000 }).map((n) => `n${n}`));
  const bins = fc.dictionary(key, fc.integer({ min: 1, max: 1_000_000 }), { maxKeys: 60 });
  // jsonb_out's form: keys ordered by length then bytes, ": " and ", " separators.
  const jsonbText = (map: SketchBins) =>
    `{${Object.keys(map)
      .sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0))
      .map((name) => `"${name}": ${map[name]}`)
      .join(', ')}}`;
  fc.assert(
    fc.property(fc.array(bins, { maxLength: 8 }), (sketches) => {
      const accumulator = new SketchAccumulator();
      const expected: SketchBins = {};
      for (const one of sketches) {
        accumulator.addJson(jsonbText(one));
        mergeBins(expected, one);
      }
      assert.deepEqual(accumulator.toBins(), expected);
      for (const q of [0, 0.5, 0.95, 1]) assert.equal(accumulator.quantile(q), quantile(expected, q));
    }),
    { numRuns: 300 },
  );
  // One accumulator cleared between merges answers what a DDSketch of the same bins answers.
  const reused = new SketchAccumulator();
  fc.assert(
    fc.property(fc.array(bins, { minLength: 1, maxLength: 4 }), fc.double({ min: 0, max: 1, noNaN: true }), (sketches, q) => {
      reused.clear();
      const reference = new DDSketch({ relativeAccuracy: SKETCH_RELATIVE_ACCURACY });
      for (const one of sketches) {
        reused.addJson(jsonbText(one));
        for (const [name, count] of Object.entries(one)) {
          if (name === 'z') reference.accept(0, count);
          else if (name.startsWith('n')) reference.accept(-mapping.value(Number(name.slice(1))), count);
          else reference.accept(mapping.value(Number(name)), count);
        }
      }
      const expected = reference.count === 0 ? undefined : reference.getValueAtQuantile(q);
      assert.equal(reused.quantile(q), expected, `q=${q}`);
    }),
    { numRuns: 300 },
  );
  // One map read without merging (quantileOfOneJsonAt) answers what the accumulator answers, whenever it answers;
  // it must answer maps of positive keys, the common case. Read at an offset, as packed rows are.
  const positive = fc.dictionary(fc.integer({ min: 0, max: 3000 }).map(String), fc.integer({ min: 1, max: 1_000_000 }), { minKeys: 1, maxKeys: 60 });
  const single = new SketchAccumulator();
  fc.assert(
    fc.property(fc.oneof(bins, positive), fc.double({ min: 0, max: 1, noNaN: true }), (one, q) => {
      const text = `1700000000000 ${jsonbText(one)}`;
      single.clear();
      single.addJsonAt(text, 14);
      const read = quantileOfOneJsonAt(text, 14, q);
      const onlyPositive = Object.keys(one).length > 0 && Object.keys(one).every((name) => /^\d+$/.test(name));
      if (onlyPositive) assert.notEqual(read, undefined, 'a map of positive keys is read directly');
      if (read !== undefined) assert.equal(read, single.quantile(q), `q=${q}`);
      // Scanned once for several quantiles (a panel's p50, p95 and p99 of one row): the same answers, for the same maps.
      const ordered = orderedBinsOfJsonAt(text, 14);
      assert.equal(ordered !== undefined, read !== undefined, 'the ordered bins exist exactly where the single read answers');
      if (ordered) for (const other of [q, 0, 0.5, 0.95, 0.99, 1]) assert.equal(quantileOfOrderedBins(ordered, other), quantileOfOneJsonAt(text, 14, other), `q=${other}`);
    }),
    { numRuns: 1_000 },
  );
  // Maps of more bins than the scanner's first scratch arrays hold (1,024) grow them; read after a small one and before another.
  const large: SketchBins = { z: 3 };
  for (let key = -1_500; key < 1_500; key += 1) large[String(key)] = 1 + ((key * 7919) % 1000 + 1000) % 1000;
  for (let key = 0; key < 600; key += 1) large[`n${key}`] = 2;
  const grown = new SketchAccumulator();
  for (const one of [{ '5': 1 }, large, { '7': 2, z: 1 }]) grown.addJson(jsonbText(one));
  assert.deepEqual(grown.toBins(), mergeBins(mergeBins(mergeBins({}, { '5': 1 }), large), { '7': 2, z: 1 }));
  for (const q of [0, 0.3, 0.95, 1]) assert.equal(grown.quantile(q), quantile(grown.toBins(), q));
  // Compact JSON, fractional counts: not jsonb's form, read by JSON.parse instead.
  const fallback = new SketchAccumulator();
  fallback.addJson('{"5":1.5,"n7":2}');
  fallback.addJson('{}');
  assert.deepEqual(fallback.toBins(), { n7: 2, '5': 1.5 });
  assert.throws(() => new SketchAccumulator().addJson('{"x": 1}'), /not a sketch bin/);
});
