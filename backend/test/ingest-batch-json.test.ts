import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import type { BinCounts, DimensionDelta, RollupDelta } from '../src/ingest/aggregate.js';
import { dimensionColumns, eventsJson, isoTime, rollupColumns } from '../src/ingest/batch-json.js';
import type { ValidEvent } from '../src/ingest/schema.js';
import { DELTAS, DIMENSION_DELTAS, dollarQuoted } from '../src/ingest/store.js';
import { seededRandom } from './support/seeded-random.js';

/**
 * The batch's text as batch-json.ts writes it against JSON.stringify of the row objects store.ts built before
 * (issue 20, steps 21 and 26): on seeded random rows, both parse to the same values, and the rollup and per-dimension
 * columns read by PostgreSQL (store.ts) give the rows the JSON arrays gave through jsonb_to_recordset before.
 */
const SEED = Number(process.env.BATCH_JSON_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`batch JSON tests: seed ${SEED} (replay with BATCH_JSON_SEED=${SEED})`);

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

/** Strings that need escaping in JSON or not: quotes, backslashes, control characters, non-ASCII, surrogates. */
const text = (random: Random) =>
  pick(random, ['web', 'order.created', 'a"b', 'back\\slash', 'line\nbreak', 'tab\t', '\u0001', 'é', '\u2028', 'pair \uD83D\uDE00', 'lone \uD800', '', ' padded ', `v-${Math.floor(random() * 1000)}`]);
const number = (random: Random) => pick(random, [0, -0, 1, -1.5, 1e12, -1e12, 1e-7, 123.456, 1e21, Math.PI * 1e5, random() * 1e6 - 5e5]);
const time = (random: Random) => Math.floor(pick(random, [Date.parse('2026-02-01T00:00:00Z') + random() * 400 * 86_400_000, (random() - 0.5) * 2e14, 8.64e15 * (random() - 0.5)]));

function attributes(random: Random, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let index = Math.floor(random() * 5); index > 0; index -= 1) {
    const roll = random();
    out[text(random)] = roll < 0.4 ? text(random) : roll < 0.6 ? number(random) : roll < 0.7 ? random() < 0.5 : roll < 0.8 ? null : roll < 0.9 && depth < 3 ? attributes(random, depth + 1) : [text(random), number(random)];
  }
  return out;
}

function bins(random: Random): BinCounts | null {
  if (random() < 0.3) return null;
  const map: BinCounts = new Map();
  for (let index = Math.floor(random() * 40); index >= 0; index -= 1) map.set(pick(random, ['z', `n${Math.floor(random() * 900)}`, String(Math.floor(random() * 3000) - 600)]), 1 + Math.floor(random() * 1e6));
  return map;
}

function extremes(random: Random): { min: number | null; max: number | null; sum: number } {
  return random() < 0.3 ? { min: null, max: null, sum: 0 } : { min: number(random), max: number(random), sum: number(random) };
}

test('isoTime prints what Date.toISOString prints, in and out of its fast range', () => {
  const random = seededRandom(SEED);
  for (let index = 0; index < 200_000; index += 1) {
    const ms = time(random);
    assert.equal(isoTime(ms), new Date(ms).toISOString(), `${ms} (seed ${SEED})`);
  }
  for (const ms of [0, -1, Date.UTC(1000, 0, 1), Date.UTC(1000, 0, 1) - 1, Date.UTC(10_000, 0, 1) - 1, Date.UTC(10_000, 0, 1), Date.UTC(2000, 1, 29, 23, 59, 59, 999), Date.UTC(2100, 2, 1)]) {
    assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms));
  }
});

test('the raw rows parse to what JSON.stringify of the old row objects parses to', () => {
  const random = seededRandom(SEED + 1);
  for (let round = 0; round < 200; round += 1) {
    const events: ValidEvent[] = Array.from({ length: Math.floor(random() * 50) }, () => ({
      id: text(random),
      type: text(random),
      occurredAtMs: time(random),
      value: random() < 0.4 ? null : number(random),
      attributes: attributes(random),
      dims: {},
      distinct: {},
    }));
    const before = JSON.stringify(events.map((e) => ({ id: e.id, at: new Date(e.occurredAtMs).toISOString(), type: e.type, value: e.value, attributes: e.attributes })));
    assert.deepStrictEqual(JSON.parse(eventsJson(events)), JSON.parse(before), `round ${round} (seed ${SEED})`);
  }
});

let client: pg.Client;
before(async () => {
  client = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
});
after(() => client.end());

/** Every column as text: float8 prints the shortest text that reads back as the same double, jsonb its canonical form. */
const AS_TEXT = (columns: string[]) => columns.map((column) => `${column}::text AS ${column}`).join(', ');
const ROLLUP_FIELDS = ['event_type', 'bucket', 'dims', 'count', 'value_count', 'sum', 'min', 'max', 'sketch'];
const DIMENSION_FIELDS = ['event_type', 'bucket', 'dimension', 'value', 'count', 'value_count', 'sum', 'min', 'max', 'sketch'];

/** What store.ts read before step 26: one JSON array of row objects through jsonb_to_recordset. */
async function readBefore(json: string, columns: string, fields: string[]): Promise<unknown[]> {
  const { rows } = await client.query(`SELECT ${AS_TEXT(fields)} FROM jsonb_to_recordset(${dollarQuoted(json)}::jsonb) AS d (${columns})`);
  return rows;
}

/** What store.ts reads now: the literals as the last statement receives them ($1 the organization, unused here). */
async function readNow(select: string, literals: string[], types: string, fields: string[], where = 'TRUE'): Promise<unknown[]> {
  const name = `read_${types.length}_${literals.length}`;
  await client.query(`PREPARE ${name} (${types}) AS SELECT ${AS_TEXT(fields)} FROM (${select}) x WHERE ${where} AND $1::uuid IS NOT NULL ORDER BY n`);
  try {
    const { rows } = await client.query(`EXECUTE ${name}(${['00000000-0000-0000-0000-000000000000', ...literals].map(dollarQuoted).join(', ')})`);
    return rows;
  } finally {
    await client.query(`DEALLOCATE ${name}`);
  }
}

/** Ingestion never stores a lone surrogate (schema.ts rejects it; PostgreSQL's text cannot hold one). */
const storableText = (random: Random): string => {
  const picked = text(random);
  return picked.startsWith('lone') ? 'lone' : picked;
};

const ROLLUP_TYPES = 'uuid, int4[], text[], timestamptz[], int8[], int8[], float8[], float8[], float8[], jsonb, jsonb';
const DIMENSION_TYPES = `uuid, ${Array.from({ length: 10 }, () => 'text').join(', ')}, text[], timestamptz[], text[], text[], int8[], int8[], float8[], float8[], float8[], jsonb`;

test('rollup and per-dimension columns read back as the JSON rows of the old row objects did', async () => {
  const random = seededRandom(SEED + 2);
  const bucketOf = (ms: number) => Math.floor(ms / 3_600_000) * 3_600_000;
  // Times PostgreSQL's timestamptz holds (the old JSON and the columns print them alike anywhere).
  const storable = (r: Random) => Date.parse('2026-02-01T00:00:00Z') + Math.floor((r() - 0.5) * 2e13);
  const old = (r: { type: string; bucketMs: number; count: number; valueCount: number; sum: number; min: number | null; max: number | null; sketch: BinCounts | null }) => ({
    event_type: r.type,
    bucket: new Date(r.bucketMs).toISOString(),
    count: r.count,
    value_count: r.valueCount,
    sum: r.sum,
    min: r.min,
    max: r.max,
    sketch: r.sketch && Object.fromEntries(r.sketch),
  });
  for (let round = 0; round < 60; round += 1) {
    const kinds: RollupDelta[][] = Array.from({ length: 4 }, (_, target) =>
      Array.from({ length: Math.floor(random() * 15) }, () => {
        const dimensions: Record<string, string> = target >= 2 || random() < 0.3 ? {} : { channel: storableText(random), market: storableText(random) };
        return { type: storableText(random), bucketMs: bucketOf(storable(random)), dims: JSON.stringify(dimensions), dimensions, count: 1 + Math.floor(random() * 1000), valueCount: Math.floor(random() * 100), ...extremes(random), sketch: bins(random), distinct: null };
      }),
    );
    const literals = rollupColumns(kinds);
    for (const [target, rows] of kinds.entries()) {
      const json = JSON.stringify(rows.map((r) => ({ ...old(r), dims: r.dimensions })));
      const expected = await readBefore(json, 'event_type text, bucket timestamptz, dims jsonb, count bigint, value_count bigint, sum float8, min float8, max float8, sketch jsonb', ROLLUP_FIELDS);
      const actual = await readNow(DELTAS, literals, ROLLUP_TYPES, ROLLUP_FIELDS, `target = ${target}`);
      assert.deepStrictEqual(actual, expected, `round ${round}, target ${target} (seed ${SEED})`);
    }

    const dimensions: DimensionDelta[] = Array.from({ length: Math.floor(random() * 40) }, () => ({
      type: storableText(random),
      bucketMs: bucketOf(storable(random)),
      dimension: storableText(random),
      value: storableText(random),
      count: 1 + Math.floor(random() * 1000),
      valueCount: Math.floor(random() * 100),
      ...extremes(random),
      sketch: bins(random),
    }));
    const json = JSON.stringify(dimensions.map((r) => ({ ...old(r), dimension: r.dimension, value: r.value })));
    const expected = await readBefore(json, 'event_type text, bucket timestamptz, dimension text, value text, count bigint, value_count bigint, sum float8, min float8, max float8, sketch jsonb', DIMENSION_FIELDS);
    // DIMENSION_DELTAS reads $12-$21: ten unused text parameters stand for the rollup columns before them.
    const actual = await readNow(DIMENSION_DELTAS, [...Array.from({ length: 10 }, () => ''), ...dimensionColumns(dimensions)], DIMENSION_TYPES, DIMENSION_FIELDS);
    assert.deepStrictEqual(actual, expected, `round ${round}, per-dimension rows (seed ${SEED})`);
  }
});

test('a non-finite sum reads as NULL, as its JSON null did', () => {
  const row: RollupDelta = { type: 't', bucketMs: 0, dims: '{}', dimensions: {}, count: 1, valueCount: 1, sum: Number.POSITIVE_INFINITY, min: 1, max: Number.NaN, sketch: null, distinct: null };
  const [, , , , , sum, min, max, , sketches] = rollupColumns([[row]]);
  assert.deepEqual([sum, min, max, sketches], ['{NULL}', '{1}', '{NULL}', '[null]']);
});
