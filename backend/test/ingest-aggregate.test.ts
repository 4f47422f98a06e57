import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { LogarithmicMapping } from '@datadog/sketches-js/dist/ddsketch/mapping/index.js';
import { aggregate, type BinCounts, type Contribution } from '../src/ingest/aggregate.js';
import { entryOf } from '../src/rollups/distinct.js';
import { binKey, SKETCH_RELATIVE_ACCURACY } from '../src/rollups/sketch.js';
import { aggregateReference } from './support/aggregate-reference.js';
import { seededRandom } from './support/seeded-random.js';

/**
 * aggregate() against the implementation it replaced (support/aggregate-reference.ts, before issue 20's step 21):
 * on seeded random batches both give the same rows in the same order, with the same counts, extremes, sketches and
 * distinct entries, and sums equal to the last bit (the order of float additions is kept).
 */
const SEED = Number(process.env.AGGREGATE_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`aggregate tests: seed ${SEED} (replay with AGGREGATE_SEED=${SEED})`);

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const HOUR = 3_600_000;
const START = Date.parse('2026-02-27T21:00:00Z');

function randomBatch(random: Random): Contribution[] {
  const size = 1 + Math.floor(random() * 400);
  // A batch spans a few hours, sometimes across midnight, sometimes days.
  const span = pick(random, [HOUR, 3 * HOUR, 26 * HOUR, 200 * HOUR]);
  const batch: Contribution[] = [];
  for (let index = 0; index < size; index += 1) {
    const dims: Record<string, string> = {};
    // Keys in ROLLUP_DIMENSIONS order, as dimensionsOf() and orderedDims() build them.
    if (random() < 0.6) dims.channel = pick(random, ['web', 'app', 'pos']);
    if (random() < 0.4) dims.status = pick(random, ['SUCCESS', 'FAILED']);
    if (random() < 0.3) dims.botId = pick(random, ['faq', 'sales']);
    if (random() < 0.3) dims.market = pick(random, ['de', 'fr', 'uk']);
    const valued = random() < 0.7;
    const value = valued ? pick(random, [0, -0, 1e-12, -3.25, 1e12, Math.exp(10 * random() - 2) * (random() < 0.1 ? -1 : 1), Math.round(random() * 1e4) / 100]) : null;
    const contribution: Contribution = { type: pick(random, ['order.created', 'bot.response', 'message.sent', 'contact:contacted']), occurredAtMs: START + Math.floor(random() * span), value, dims };
    const roll = random();
    if (roll < 0.3) contribution.distinct = { contactId: `c-${Math.floor(random() * 200)}` };
    else if (roll < 0.4) contribution.distinct = { userId: `u-${Math.floor(random() * 50)}`, contactId: String(Math.floor(random() * 9)) };
    else if (roll < 0.45) contribution.distinct = {};
    batch.push(contribution);
  }
  return batch;
}

test('aggregate() gives exactly the rows the reference gives, in the same order, for random batches', () => {
  const random = seededRandom(SEED);
  for (let round = 0; round < 300; round += 1) {
    const batch = randomBatch(random);
    const reference = aggregateReference(batch);
    const fast = aggregate(batch);
    for (const granularity of ['hour', 'day'] as const) {
      for (const kind of ['byDims', 'totals', 'distinctByDims', 'distinctTotals', 'byDimension'] as const) {
        // The bins are a Map now, an object before; deepStrictEqual compares numbers with Object.is: sums must be the
        // same doubles, -0 stays -0.
        const rows = (fast[granularity][kind] as Array<{ sketch?: BinCounts | null }>).map((row) => ('sketch' in row ? { ...row, sketch: row.sketch ? Object.fromEntries(row.sketch) : null } : row));
        assert.deepStrictEqual(rows, reference[granularity][kind], `round ${round}, ${granularity} ${kind} (seed ${SEED})`);
      }
    }
  }
});

/** The entry as distinct.ts defines it (index25 << 6 | rho'), from node:crypto's MD5, without any cache. */
function hashedEntry(value: string | number): number {
  const digest = createHash('md5').update(String(value)).digest();
  const high = digest.readUInt32BE(0);
  const low = digest.readUInt32BE(4);
  const rest = high & 0x7f;
  const rho = rest !== 0 ? Math.clz32(rest) - 24 : low !== 0 ? 8 + Math.clz32(low) : 40;
  return (high >>> 7) * 64 + rho;
}

test('entryOf gives the entry of the value, from its cache or not, across the cache\'s generations', () => {
  const random = seededRandom(SEED + 1);
  const values = Array.from({ length: 150_000 }, (_, index) => (index % 3 === 0 ? Math.floor(random() * 1e6) : `v-${Math.floor(random() * 150_000)}`));
  for (const value of values) assert.equal(entryOf(value), hashedEntry(value), `value ${value} (seed ${SEED})`);
  for (const value of values.reverse()) assert.equal(entryOf(value), hashedEntry(value), `value ${value} again (seed ${SEED})`);
  assert.equal(entryOf(42), entryOf('42'));
});

test('binKey names the same bin from its cache as the mapping does, for values of both signs and every scale', () => {
  const mapping = new LogarithmicMapping(SKETCH_RELATIVE_ACCURACY);
  const named = (value: number) => (Math.abs(value) < mapping.minPossible ? 'z' : value > 0 ? String(mapping.key(value)) : `n${mapping.key(-value)}`);
  const random = seededRandom(SEED + 2);
  for (let index = 0; index < 100_000; index += 1) {
    const value = (random() - 0.5) * Math.exp(80 * random() - 40);
    assert.equal(binKey(value), named(value), `value ${value} (seed ${SEED})`);
    assert.equal(binKey(value), named(value), `value ${value} again (seed ${SEED})`);
  }
  for (const value of [0, -0, 1e-300, -1e-300, 1, -1, 0.5, -0.5, 1e12, -1e12]) assert.equal(binKey(value), named(value), `value ${value}`);
});
