import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { after, before, test } from 'node:test';
import { migrateUp } from '../src/db/migrate.js';
import { createPool, type Pool } from '../src/db/pool.js';
import { createLogger } from '../src/logger.js';
import { binKey, SketchAccumulator, valueOfBinKeyAt, type SketchBins } from '../src/rollups/sketch.js';
import { inTimeOrder, toSeries, type Row } from '../src/sources/adapters/events.js';
import type { SourceQuery } from '../src/sources/types.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { seededRandom } from './support/seeded-random.js';

const SEED = Number(process.env.QUANTILE_KEYS_SEED ?? randomInt(2 ** 31));
console.log(`quantile keys tests: seed ${SEED} (replay with QUANTILE_KEYS_SEED=${SEED})`);

/** The four percentiles whose bin keys migration 0165 stores, in its order. */
const QUANTILES = [0.5, 0.9, 0.95, 0.99];

let database: TestDatabase;
let pool: Pool;

before(async () => {
  database = await createTestDatabase('quantile_keys');
  await migrateUp(database.url, createLogger('silent'));
  pool = createPool(database.url, 2, createLogger('silent'));
});

after(async () => {
  await pool?.end();
  await database?.drop();
});

/**
 * A random bin map: one bin, or up to 60 drawn from positive values (below and above 1), negative values (of
 * magnitude below and above 1) and zero, in any mix; counts of 1, of a few, or large (up to 2^45).
 */
function randomSketch(random: () => number): SketchBins {
  const bins: SketchBins = {};
  const size = random() < 0.25 ? 1 : 1 + Math.floor(random() * 60);
  const kinds = ['positive', 'below-one', 'negative', 'negative-below-one', 'zero'].filter(() => random() < 0.6);
  if (kinds.length === 0) kinds.push('positive');
  const count = () => {
    const roll = random();
    return roll < 0.4 ? 1 : roll < 0.9 ? 1 + Math.floor(random() * 50) : 1 + Math.floor(random() * 2 ** 45);
  };
  for (let index = 0; index < size; index += 1) {
    const kind = kinds[Math.floor(random() * kinds.length)]!;
    const magnitude = kind === 'zero' ? 0 : kind.endsWith('below-one') ? random() ** 3 : 1 + Math.exp(random() * 12);
    const key = binKey(kind.startsWith('negative') ? -magnitude : magnitude);
    bins[key] = (bins[key] ?? 0) + count();
  }
  return bins;
}

/** The value at each quantile as the reader computes it from the sketch: SketchAccumulator. */
function nodeQuantiles(jsonbText: string): Array<number | undefined> {
  const accumulator = new SketchAccumulator();
  accumulator.addJson(jsonbText);
  return QUANTILES.map((q) => accumulator.quantile(q));
}

test(`sketch_quantile_keys() names the bin SketchAccumulator.quantile answers, at every stored percentile (seed ${SEED})`, async () => {
  const random = seededRandom(SEED);
  const sketches = Array.from({ length: 3_000 }, () => JSON.stringify(randomSketch(random)));
  const { rows } = await pool.query<{ text: string; keys: string | null }>(
    'SELECT s::jsonb::text AS text, sketch_quantile_keys(s::jsonb) AS keys FROM unnest($1::text[]) WITH ORDINALITY AS u (s, i) ORDER BY i',
    [sketches],
  );
  let mixed = 0;
  rows.forEach(({ text, keys }, index) => {
    const what = `sketch ${index}: ${text.slice(0, 200)}`;
    assert.notEqual(keys, null, `${what}: no keys`);
    const parts = keys!.split(' ');
    assert.equal(parts.length, 4, `${what}: ${keys}`);
    const expected = nodeQuantiles(text);
    parts.forEach((key, at) => assert.equal(valueOfBinKeyAt(key, 0, key.length), expected[at], `${what}: p${QUANTILES[at]! * 100} key ${key}`));
    if (/"n/.test(text) && /"z"/.test(text) && /"\d/.test(text)) mixed += 1;
  });
  assert.ok(mixed > 100, `${mixed} sketches with negative, zero and positive bins`);
});

/**
 * Sketches of the forms the fast path of migration 0300 takes (bins of values of 1 and more only) and of the forms
 * next to it that it must leave to the walk of 0165: bin 0, bins of values below 1, zero, negative bins, counts of
 * 0, of 15 and 16 digits, keys of 9 and 10 digits, keys with a leading zero and keys that are not bins at all.
 */
function edgeSketch(random: () => number, oddities = true): string {
  const entries: string[] = [];
  const size = random() < 0.2 ? 1 : 1 + Math.floor(random() * 40);
  const oddity = !oddities || random() < 0.5 ? 'none' : ['bin0', 'below-one', 'zero', 'negative', 'zero-count', 'big-count', 'huge-count', 'long-key', 'leading-zero', 'empty'][Math.floor(random() * 10)]!;
  const count = () => String(random() < 0.5 ? 1 : 1 + Math.floor(random() * (random() < 0.9 ? 50 : 2 ** 40)));
  for (let index = 0; index < size; index += 1) entries.push(`"${1 + Math.floor(random() ** 2 * 3000)}": ${count()}`);
  const odd: Record<string, string> = {
    bin0: '"0": 2', 'below-one': `"-${1 + Math.floor(random() * 200)}": 1`, zero: '"z": 3', negative: `"n${1 + Math.floor(random() * 900)}": 2`,
    'zero-count': `"${5000 + Math.floor(random() * 90)}": 0`, 'big-count': '"5001": 999999999999999', 'huge-count': '"5002": 9999999999999999',
    'long-key': '"1234567890": 1', 'leading-zero': '"0123": 4',
  };
  if (oddity === 'empty') return '{}';
  if (odd[oddity]) entries.splice(Math.floor(random() * (entries.length + 1)), 0, odd[oddity]!);
  return `{${entries.join(', ')}}`;
}

test(`sketch_quantile_keys_walk() answers what the walk of migration 0165 answers, on and off its fast path (seed ${SEED})`, async () => {
  const random = seededRandom(SEED + 2);
  const sketches = [
    ...Array.from({ length: 2_000 }, () => edgeSketch(random)),
    ...Array.from({ length: 1_000 }, () => JSON.stringify(randomSketch(random))),
    '{"5": 0, "7": 0}',
    '{"5": 1}',
    '{"1": 9007199254740991, "2": 999999999999999}',
  ];
  const { rows } = await pool.query<{ text: string; fast: boolean; keys: string | null; general: string | null }>(
    `SELECT s::jsonb::text AS text, s::jsonb::text ~ '^\\{("[1-9][0-9]{0,8}": [0-9]{1,15}, )*"[1-9][0-9]{0,8}": [0-9]{1,15}\\}$' AS fast,
            sketch_quantile_keys_walk(s::jsonb) AS keys, sketch_quantile_keys_walk_general(s::jsonb) AS general
     FROM unnest($1::text[]) WITH ORDINALITY AS u (s, i) ORDER BY i`,
    [sketches],
  );
  rows.forEach(({ text, keys, general }, index) => assert.equal(keys, general, `sketch ${index}: ${text.slice(0, 300)}`));
  const fast = rows.filter((row) => row.fast).length;
  assert.ok(fast > 1_000 && fast < rows.length - 500, `${fast} of ${rows.length} sketches on the fast path`);
  assert.equal(rows.at(-3)!.keys, null, 'a sketch of only zero counts has no keys');
});

test(`the fold stores in quantile_points what the walk of migration 0165 gives for the merged sketches (seed ${SEED})`, async () => {
  const random = seededRandom(SEED + 3);
  const organizationId = '00000000-0000-4000-8000-00000000f01d';
  const hour = Date.parse('2026-11-30T00:00:00Z');
  // Pending rows as ingestion appends them: several per key, so the fold merges sketches; the keys of even hours only
  // sketches of values of 1 and more (the fast path's form, once merged), the others any form.
  const pending = Array.from({ length: 600 }, (_, index) => {
    const sketch = index % 2 === 0 ? edgeSketch(random, false) : random() < 0.6 ? edgeSketch(random) : JSON.stringify(randomSketch(random));
    return { bucket: new Date(hour + (index % 48) * 3_600_000).toISOString(), value: `v${Math.floor(random() * 4)}`, sketch };
  });
  await pool.query(
    `INSERT INTO rollup_dimension_totals_hourly_pending (organization_id, event_type, dimension, bucket, value, count, value_count, sum, min, max, sketch)
     SELECT $1, 'bot.response', 'botId', p.bucket::timestamptz, p.value, 1, 1, 1, 1, 1, p.sketch::jsonb
     FROM jsonb_to_recordset($2::jsonb) AS p (bucket text, value text, sketch text)`,
    [organizationId, JSON.stringify(pending)],
  );
  assert.ok(Number((await pool.query('SELECT fold_dimension_totals() AS n')).rows[0].n) > 0);
  const { rows } = await pool.query<{ n: number; fast: number; differ: number }>(
    `SELECT count(*)::int AS n, count(*) FILTER (WHERE sketch::text ~ '^\\{("[1-9][0-9]{0,8}": [0-9]{1,15}, )+"[1-9][0-9]{0,8}": [0-9]{1,15}\\}$')::int AS fast,
            count(*) FILTER (WHERE quantile_points IS DISTINCT FROM (date_part('epoch', bucket AT TIME ZONE 'UTC') / 3600)::bigint::text || ' ' ||
              CASE WHEN strpos(sketch::text, ',') > 0 THEN sketch_quantile_keys_walk_general(sketch)
                   WHEN split_part(sketch::text, '"', 2) = '' OR split_part(sketch::text, ': ', 2) = '0}' THEN NULL
                   ELSE repeat(split_part(sketch::text, '"', 2) || ' ', 3) || split_part(sketch::text, '"', 2) END)::int AS differ
     FROM rollup_dimension_totals_hourly WHERE organization_id = $1`,
    [organizationId],
  );
  assert.deepEqual(rows[0]!.differ, 0, `${rows[0]!.n} folded rows`);
  assert.ok(rows[0]!.n > 150 && rows[0]!.fast > 60, `rows folded, and merged sketches on the fast path: ${JSON.stringify(rows[0])}`);
});

test('sketch_quantile_keys() has no keys for an empty sketch or one without events, and NULL for NULL', async () => {
  const { rows } = await pool.query<{ empty: string | null; zeros: string | null; none: string | null; one: string }>(
    `SELECT sketch_quantile_keys('{}') AS empty, sketch_quantile_keys('{"5": 0}') AS zeros, sketch_quantile_keys(NULL) AS none,
            sketch_quantile_keys('{"-69": 3}') AS one`,
  );
  assert.deepEqual(rows[0], { empty: null, zeros: null, none: null, one: '-69 -69 -69 -69' });
});

test('valueOfBinKeyAt reads a key in place and rejects what is not one', () => {
  const text = 'x z n12 -69 123 n-5 1a';
  const at = (key: string) => valueOfBinKeyAt(text, text.indexOf(key), text.indexOf(key) + key.length);
  assert.equal(at('z'), 0);
  assert.ok(at('n12') < -1 && at('-69') > 0 && at('-69') < 1 && at('123') > 1 && at('n-5') > -1 && at('n-5') < 0);
  for (const [key, value] of [['123', 200], ['-69', 0.5], ['n12', -1.1]] as const) {
    assert.equal(binKey(at(key)), key, `${key} names the bin of its own value`);
    const own = binKey(value);
    assert.ok(Math.abs(valueOfBinKeyAt(own, 0, own.length) - value) <= 0.01 * Math.abs(value), `${own}: within 1 % of ${value}`);
  }
  assert.throws(() => at('1a'), /not a sketch bin key/);
  assert.throws(() => valueOfBinKeyAt(text, 0, 1), /not a sketch bin key/);
});

test('sketch_quantile_points() puts the row\'s hour since 1970 before its keys; NULL without keys or off a whole hour', async () => {
  const { rows } = await pool.query(
    `SELECT sketch_quantile_points('2026-11-30T10:00:00Z', '{"550": 3}') AS hour,
            sketch_quantile_points('1969-12-31T23:00:00Z', '{"z": 1, "5": 1}') AS before1970,
            sketch_quantile_points('2026-11-30T10:30:00Z', '{"550": 3}') AS half,
            sketch_quantile_points('2026-11-30T10:00:00Z', '{}') AS empty`,
  );
  assert.deepEqual(rows[0], { hour: `${Date.parse('2026-11-30T10:00:00Z') / 3_600_000} 550 550 550 550`, before1970: '-1 z z z z', half: null, empty: null });
});

test(`toSeries reads quantile points: the part of each percentile, in any order; a sketch of the same point answers it (seed ${SEED})`, async () => {
  const random = seededRandom(SEED);
  const HOUR = 3_600_000;
  const keys = ['z', 'n12', 'n-5', '-69', '0', '123', '550', '601'];
  const draw = () => keys[Math.floor(random() * keys.length)]!;
  // Hours of two series, shuffled: the SQL sends them in index order, but nothing guarantees it.
  const hours = Array.from({ length: 40 }, (_, index) => 494_000 + index * 3 - 20).sort(() => random() - 0.5);
  const points = hours.map((hour): [number, ...string[]] => [hour, draw(), draw(), draw(), draw()]);
  const row = (text: string, packed: string | null = null): Row => ({ b: 0, g0: 'a', packed, points: text, m: 0 });
  const keyAt = (point: [number, ...string[]], part: number) => valueOfBinKeyAt(String(point[part]), 0, String(point[part]).length);
  const text = points.map((point) => point.join(' ')).join(' ');
  const query = (aggregation: string, bucketMs = HOUR) => ({ groupBy: ['botId'], aggregation, bucketMs }) as unknown as SourceQuery;
  for (const [part, aggregation] of ['p50', 'p90', 'p95', 'p99'].entries()) {
    for (const bucketMs of [HOUR, HOUR / 4]) {
      const [one, ...rest] = await toSeries([row(text)], query(aggregation, bucketMs), 'sketch');
      assert.equal(rest.length, 0);
      const expected = [...points].sort((a, b) => a[0] - b[0]);
      assert.deepEqual(one!.times, expected.map(([hour]) => hour * HOUR));
      assert.deepEqual(one!.values, expected.map((point) => keyAt(point, part + 1)), `${aggregation}, bucket ${bucketMs}`);
    }
  }
  // A folded row with pending twins comes with its points and, again, with its sketch and theirs: those answer it.
  const twin = points[0]!;
  const [merged] = await toSeries([row(text, `${twin[0] * HOUR} {"900": 2} ${twin[0] * HOUR} {"901": 1}`)], query('p50'), 'sketch');
  const accumulator = new SketchAccumulator();
  accumulator.addJson('{"900": 2, "901": 1}');
  assert.equal(merged!.values[merged!.times.indexOf(twin[0] * HOUR)], accumulator.quantile(0.5));
  assert.equal(merged!.values.length, points.length);

  await assert.rejects(toSeries([row(`${text} ${text}`)], query('p95'), 'sketch'), /another row/);
  for (const bad of ['494000 1 2 3', '494000 1 2 3 4 x', 'x 1 2 3 4', '494000 1 2 3 4 494001 1 2']) {
    await assert.rejects(toSeries([row(bad)], query('p99'), 'sketch'), /unreadable quantile points|not a sketch bin key/, bad);
  }
});

test(`inTimeOrder puts shuffled points in time order, by slot on a dense grid and by sorting otherwise; two in one bucket are an error (seed ${SEED})`, () => {
  const random = seededRandom(SEED + 1);
  const HOUR = 3_600_000;
  for (let round = 0; round < 200; round += 1) {
    // Dense (every hour, or one in two), sparse (one in twenty: more slots than 4 per point), or off the grid.
    const step = [1, 2, 20][round % 3]!;
    const offset = round % 7 === 6 ? 1_000 : 0;
    const count = 1 + Math.floor(random() * 60);
    const times = Array.from({ length: count }, (_, index) => (480_000 + index * step) * HOUR + (index % 2) * offset).sort(() => random() - 0.5);
    const values = times.map((time) => time / HOUR + 0.5);
    const ordered = inTimeOrder(times, values, HOUR);
    const expected = [...times].sort((a, b) => a - b);
    assert.deepEqual(ordered.times, expected, `round ${round}`);
    assert.deepEqual(ordered.values, expected.map((time) => time / HOUR + 0.5), `round ${round}`);
    if (count > 1) {
      assert.throws(() => inTimeOrder([...times, times[0]!], [...values, 0], HOUR), /another row/, `round ${round}: a second point in a bucket`);
    }
  }
  assert.deepEqual(inTimeOrder([], [], HOUR), { times: [], values: [] });
});
