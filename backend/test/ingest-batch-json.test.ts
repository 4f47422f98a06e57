import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BinCounts, DimensionDelta, RollupDelta } from '../src/ingest/aggregate.js';
import { dimensionDeltasJson, eventsJson, isoTime, rollupDeltasJson } from '../src/ingest/batch-json.js';
import type { ValidEvent } from '../src/ingest/schema.js';
import { seededRandom } from './support/seeded-random.js';

/**
 * The batch's JSON as batch-json.ts writes it against JSON.stringify of the row objects store.ts built before
 * (issue 20, step 21): on seeded random rows, both parse to the same values.
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

test('rollup deltas and per-dimension rows parse to what JSON.stringify of the old row objects parses to', () => {
  const random = seededRandom(SEED + 2);
  const bucketOf = (ms: number) => Math.floor(ms / 3_600_000) * 3_600_000;
  for (let round = 0; round < 200; round += 1) {
    const rollups: RollupDelta[] = Array.from({ length: Math.floor(random() * 40) }, () => {
      const dimensions: Record<string, string> = random() < 0.3 ? {} : { channel: text(random), market: text(random) };
      return { type: text(random), bucketMs: bucketOf(time(random)), dims: JSON.stringify(dimensions), dimensions, count: 1 + Math.floor(random() * 1000), valueCount: Math.floor(random() * 100), ...extremes(random), sketch: bins(random), distinct: null };
    });
    const before = JSON.stringify(
      rollups.map((r) => ({ event_type: r.type, bucket: new Date(r.bucketMs).toISOString(), dims: r.dimensions, count: r.count, value_count: r.valueCount, sum: r.sum, min: r.min, max: r.max, sketch: r.sketch && Object.fromEntries(r.sketch) })),
    );
    assert.deepStrictEqual(JSON.parse(rollupDeltasJson(rollups)), JSON.parse(before), `round ${round} (seed ${SEED})`);

    const dimensions: DimensionDelta[] = Array.from({ length: Math.floor(random() * 40) }, () => ({
      type: text(random),
      bucketMs: bucketOf(time(random)),
      dimension: text(random),
      value: text(random),
      count: 1 + Math.floor(random() * 1000),
      valueCount: Math.floor(random() * 100),
      ...extremes(random),
      sketch: bins(random),
    }));
    const dimensionsBefore = JSON.stringify(
      dimensions.map((r) => ({ event_type: r.type, bucket: new Date(r.bucketMs).toISOString(), dimension: r.dimension, value: r.value, count: r.count, value_count: r.valueCount, sum: r.sum, min: r.min, max: r.max, sketch: r.sketch && Object.fromEntries(r.sketch) })),
    );
    assert.deepStrictEqual(JSON.parse(dimensionDeltasJson(dimensions)), JSON.parse(dimensionsBefore), `round ${round} (seed ${SEED})`);
  }
});
