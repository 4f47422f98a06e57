import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { test } from 'node:test';
import { toSeries, type Measure, type Row } from '../src/sources/adapters/events.js';
import type { SourceQuery } from '../src/sources/types.js';
import { seededRandom } from './support/seeded-random.js';

const SEED = Number(process.env.TO_SERIES_SEED ?? randomInt(2 ** 31));
console.log(`toSeries tests: seed ${SEED} (replay with TO_SERIES_SEED=${SEED})`);

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 1);

/** The merge of plain rows by hand: per group and query bucket, in row order (sums of fractions depend on it). */
function expected(rows: Row[], groupBy: string[], bucketMs: number, measure: Measure): Array<{ labels: Record<string, string>; times: number[]; values: Array<number | null> }> {
  const series = new Map<string, { labels: Record<string, string>; points: Map<number, { c: number; v: number; s: number; mn: number | null; mx: number | null }> }>();
  for (const row of rows) {
    const labels = Object.fromEntries(groupBy.map((name, index) => [name, row[`g${index}`] ?? '']));
    const key = JSON.stringify(labels);
    if (!series.has(key)) series.set(key, { labels, points: new Map() });
    const points = series.get(key)!.points;
    const t = Math.floor(row.b / bucketMs) * bucketMs;
    const point = points.get(t) ?? { c: 0, v: 0, s: 0, mn: null, mx: null };
    points.set(t, point);
    point.c += row.c ?? 0;
    point.v += row.v ?? 0;
    point.s += row.s ?? 0;
    if (row.mn !== undefined && row.mn !== null) point.mn = point.mn === null ? row.mn : Math.min(point.mn, row.mn);
    if (row.mx !== undefined && row.mx !== null) point.mx = point.mx === null ? row.mx : Math.max(point.mx, row.mx);
  }
  return [...series.values()].map(({ labels, points }) => {
    const times = [...points.keys()].sort((a, b) => a - b);
    const value = (p: { c: number; v: number; s: number; mn: number | null; mx: number | null }) =>
      ({ count: p.c, sum: p.s, avg: p.v === 0 ? null : p.s / p.v, min: p.mn, max: p.mx })[measure as 'count' | 'sum' | 'avg' | 'min' | 'max'];
    return { labels, times, values: times.map((t) => value(points.get(t)!)) };
  });
}

test(`toSeries merges plain rows of every shape, over many turns, as a merge by hand (seed ${SEED})`, async () => {
  const random = seededRandom(SEED);
  const columns: Record<string, Array<keyof Row>> = { count: ['c'], sum: ['s'], avg: ['v', 's'], min: ['mn'], max: ['mx'] };
  // Measures and shapes alternate, as a dashboard's statements reach the same function one after another.
  for (let round = 0; round < 30; round += 1) {
    const measure = (['count', 'sum', 'avg', 'min', 'max'] as const)[Math.floor(random() * 5)]!;
    const groupBy = random() < 0.5 ? [] : ['botId'];
    const bucketMs = [HOUR, 6 * HOUR, 24 * HOUR][Math.floor(random() * 3)]!;
    // Up to 7,000 rows: past the 2,000 rows after which toSeries hands the event loop back.
    const rows: Row[] = Array.from({ length: 1 + Math.floor(random() * 7_000) }, () => {
      const row: Row = { b: T0 + Math.floor(random() * 24 * 14) * HOUR };
      if (random() < 0.5) (row as unknown as Record<string, unknown>).q = 0;
      if (groupBy.length > 0) row.g0 = random() < 0.1 ? null : `bot${Math.floor(random() * 5)}`;
      for (const column of columns[measure]!) {
        const value = column === 'c' || column === 'v' ? 1 + Math.floor(random() * 9) : Math.round(random() * 1e6) / 997;
        (row as unknown as Record<string, unknown>)[column] = (column === 'mn' || column === 'mx') && random() < 0.1 ? null : value;
      }
      return row;
    });
    let turns = 0;
    let counting = true;
    const count = () => {
      turns += 1;
      if (counting) setImmediate(count);
    };
    setImmediate(count);
    const answer = await toSeries(rows, { groupBy, bucketMs, aggregation: measure } as unknown as SourceQuery, measure);
    counting = false;
    const sorted = (list: Array<{ labels: Record<string, string> }>) => [...list].sort((a, b) => (JSON.stringify(a.labels) < JSON.stringify(b.labels) ? -1 : 1));
    assert.deepEqual(sorted(answer), sorted(expected(rows, groupBy, bucketMs, measure)), `round ${round}: ${rows.length} ${measure} rows by ${groupBy.join() || 'nothing'}, ${bucketMs} ms buckets`);
    if (rows.length > 4_000) assert.ok(turns >= 2, `round ${round}: ${rows.length} rows handed the event loop back (${turns} turns)`);
  }
});

test('toSeries: a packed row heavier than a turn is read whole, and the rows after it still merge', async () => {
  const points = Array.from({ length: 30_000 }, (_, index) => `${T0 + (index % 500) * HOUR} ${index % 7}`).join(' ');
  const rows: Row[] = [
    { b: 0, g0: 'a', pv: points, m: 0 },
    { b: 0, g0: 'b', pv: `${T0} 5 ${T0 + HOUR} 6`, m: 0 },
  ];
  const answer = await toSeries(rows, { groupBy: ['botId'], bucketMs: HOUR, aggregation: 'count' } as unknown as SourceQuery, 'count');
  assert.equal(answer.length, 2);
  const a = answer.find((one) => one.labels.botId === 'a')!;
  assert.equal(a.times.length, 500);
  assert.equal(a.values.reduce<number>((sum, value) => sum + (value ?? 0), 0), Array.from({ length: 30_000 }, (_, index) => index % 7).reduce((sum, value) => sum + value, 0));
  assert.deepEqual(answer.find((one) => one.labels.botId === 'b'), { labels: { botId: 'b' }, times: [T0, T0 + HOUR], values: [5, 6] });
});
