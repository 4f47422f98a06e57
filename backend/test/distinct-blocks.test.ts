import assert from 'node:assert/strict';
import { randomInt, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { loadCatalog } from '../src/catalog/load.js';
import { createPool, type Pool } from '../src/db/pool.js';
import { migrateUp } from '../src/db/migrate.js';
import { createLogger } from '../src/logger.js';
import { WHOLE_RANGE_MS } from '../src/query/buckets.js';
import { DistinctAccumulator, entryOf } from '../src/rollups/distinct.js';
import { EventsAdapter } from '../src/sources/adapters/events.js';
import { foldPendingTotals } from '../src/jobs/fold-totals.js';
import { BLOCK_LEVELS, foldDistinctBlocks } from '../src/rollups/distinct-blocks.js';
import { dayPieces } from '../src/sources/adapters/events-distinct.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { seededRandom } from './support/seeded-random.js';
import { sourceQuery } from './support/source-query.js';

const SEED = Number(process.env.DISTINCT_SEED ?? randomInt(2 ** 31));
console.log(`distinct blocks tests: seed ${SEED} (replay with DISTINCT_SEED=${SEED})`);

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** 2026-01-01: day 20,454 since 1970, even but not a multiple of 4. */
const T0 = Date.UTC(2026, 0, 1);

describe('day pieces: the aligned blocks a range of days reads (migration 0150)', () => {
  test('29 days read 6 pieces instead of 29 daily rows, at most two per level, in order and without gaps', () => {
    const from = T0 + 3 * DAY; // 2026-01-04, day 20,457
    const pieces = dayPieces(from, from + 29 * DAY, WHOLE_RANGE_MS);
    assert.deepEqual(
      pieces.map((piece) => [piece.level, new Date(piece.start).toISOString().slice(0, 10)]),
      [
        [0, '2026-01-04'],
        [1, '2026-01-05'],
        [2, '2026-01-07'],
        [4, '2026-01-11'],
        [2, '2026-01-27'],
        [1, '2026-01-31'],
      ],
    );
  });

  test(`property: any range of whole days is covered exactly, by aligned blocks inside one query bucket each (seed ${SEED})`, () => {
    const random = seededRandom(SEED);
    for (let round = 0; round < 2_000; round += 1) {
      const from = T0 + Math.floor(random() * 400) * DAY;
      const to = from + Math.floor(random() * 700) * DAY;
      const bucketMs = [WHOLE_RANGE_MS, DAY, 7 * DAY, 30 * DAY][round % 4]!;
      const pieces = dayPieces(from, to, bucketMs);
      let next = from;
      const perLevel = new Map<string, number>();
      for (const { level, start } of pieces) {
        const length = DAY * 2 ** level;
        assert.equal(start, next, `pieces of [${from}, ${to}) are contiguous`);
        assert.ok(level >= 0 && level <= BLOCK_LEVELS);
        assert.equal(start % length, 0, 'a block starts on a multiple of its length');
        assert.equal(Math.floor(start / bucketMs), Math.floor((start + length - 1) / bucketMs), 'a block never straddles a query bucket');
        const key = `${Math.floor(start / bucketMs)}:${level}`;
        perLevel.set(key, (perLevel.get(key) ?? 0) + 1);
        next = start + length;
      }
      assert.equal(next, to, 'the pieces end where the range ends');
      // Two per level and query bucket, except the top level, which repeats along a long range.
      for (const [key, count] of perLevel) if (!key.endsWith(`:${BLOCK_LEVELS}`)) assert.ok(count <= 2, `at most two pieces of one level per bucket (${key}: ${count})`);
    }
  });
});

describe('distinct blocks in PostgreSQL: folded, rebuilt and read', () => {
  let database: TestDatabase;
  let pool: Pool;
  const catalog = loadCatalog();
  const org = randomUUID();
  /** Every value sent, with the hour it was sent in (epoch ms). */
  const sent: Array<{ hour: number; value: string; type: string }> = [];

  before(async () => {
    database = await createTestDatabase('distinct_blocks');
    await migrateUp(database.url, createLogger('silent'));
    pool = createPool(database.url, 4, createLogger('silent'));
  });
  after(async () => {
    await pool?.end();
    await database?.drop();
  });

  /**
   * Appends one round of values as ingestion appends its totals: one pending
   * hourly and one pending daily sketch per (type, bucket), entries from
   * hll_entry, the SQL twin of entryOf.
   */
  async function append(values: typeof sent): Promise<void> {
    sent.push(...values);
    const hours = values.map((one) => new Date(one.hour));
    for (const [table, unit] of [
      ['rollup_totals_distinct_hourly_pending', 'hour'],
      ['rollup_totals_distinct_daily_pending', 'day'],
    ] as const) {
      await pool.query(
        `INSERT INTO ${table} (organization_id, event_type, attribute, bucket, sketch)
         SELECT $1::uuid, type, 'contactId', date_trunc('${unit}', at, 'UTC'), hll_normalize(ROW(array_agg(hll_entry(value)), NULL)::hll)
         FROM unnest($2::timestamptz[], $3::text[], $4::text[]) AS u (at, value, type) GROUP BY 1, 2, 3, 4`,
        [org, hours, values.map((one) => one.value), values.map((one) => one.type)],
      );
    }
  }

  const sketchOf = (values: Iterable<{ value: string }>) => {
    const sketch = new DistinctAccumulator();
    for (const one of values) sketch.addEntry(entryOf(one.value));
    return sketch;
  };

  async function storedBlocks(): Promise<Map<string, ReturnType<DistinctAccumulator['toStored']>>> {
    const { rows } = await pool.query<{ event_type: string; level: number; bucket: Date; sparse: number[] | null; dense: Buffer | null }>(
      'SELECT event_type, level, bucket, (sketch).sparse AS sparse, (sketch).dense AS dense FROM rollup_totals_distinct_blocks WHERE organization_id = $1',
      [org],
    );
    return new Map(
      rows.map((row) => {
        const read = new DistinctAccumulator();
        read.addSketch({ sparse: row.sparse, dense: row.dense ? new Uint8Array(row.dense) : null });
        return [`${row.event_type} ${row.level} ${row.bucket.getTime()}`, read.toStored()];
      }),
    );
  }

  /** What every block must hold: the sketch of the values sent on its days. */
  function expectedBlocks(): Map<string, ReturnType<DistinctAccumulator['toStored']>> {
    const grouped = new Map<string, typeof sent>();
    for (const one of sent) {
      for (let level = 1; level <= BLOCK_LEVELS; level += 1) {
        const length = DAY * 2 ** level;
        const key = `${one.type} ${level} ${Math.floor(one.hour / length) * length}`;
        let group = grouped.get(key);
        if (!group) grouped.set(key, (group = []));
        group.push(one);
      }
    }
    return new Map([...grouped].map(([key, values]) => [key, sketchOf(values).toStored()]));
  }

  test(`the fold keeps every block the sketch of its days, late days and dense blocks included; rebuild_distinct_blocks() gives the same (seed ${SEED})`, async () => {
    const random = seededRandom(SEED);
    // Three rounds over 300 days; the third sends to old days only, as late events do. Contacts from 40,000 ids:
    // blocks of 32 days and more turn dense, the shorter ones stay sparse.
    for (const round of [0, 1, 2]) {
      const values = Array.from({ length: 9_000 }, () => ({
        hour: T0 + Math.floor(random() * (round === 2 ? 60 : 300) * 24) * HOUR,
        value: `contact-${Math.floor(random() * 40_000)}`,
        type: random() < 0.5 ? 'message.sent' : 'message.received',
      }));
      await append(values);
      assert.ok((await foldPendingTotals(pool)) > 0);
      assert.ok((await foldDistinctBlocks(pool)) > 0);
    }
    const expected = expectedBlocks();
    const stored = await storedBlocks();
    assert.ok([...stored.values()].some((sketch) => sketch.dense) && [...stored.values()].some((sketch) => sketch.sparse), 'both forms are exercised');
    assert.deepEqual(new Set(stored.keys()), new Set(expected.keys()), 'a block for every run of days with values, and no other');
    for (const [key, sketch] of expected) assert.deepEqual(stored.get(key), sketch, `block ${key}`);

    await pool.query('SELECT rebuild_distinct_blocks()');
    assert.equal((await storedBlocks()).size, 0, 'a rebuild leaves the blocks to the next fold');
    await foldDistinctBlocks(pool);
    assert.deepEqual(await storedBlocks(), stored, 'rebuilt from the daily totals, the same blocks');
  });

  test(`answers read blocks, daily rows, pending rows and ragged hours, and equal the sketch of the values in range (seed ${SEED})`, async () => {
    const random = seededRandom(SEED + 1);
    const late = (prefix: string) => Array.from({ length: 2_000 }, () => ({ hour: T0 + Math.floor(random() * 300 * 24) * HOUR, value: `${prefix}-${Math.floor(random() * 5_000)}`, type: 'message.sent' }));
    // Folded into the daily totals but not into the blocks yet, then not folded at all: read from both pending tables.
    await append(late('late'));
    await pool.query('SELECT fold_distinct_totals()');
    await append(late('later'));
    const pending = async (table: string) => Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n);
    assert.ok((await pending('rollup_totals_distinct_blocks_pending')) > 0 && (await pending('rollup_totals_distinct_daily_pending')) > 0);
    const adapter = new EventsAdapter('events', pool);
    const metric = 'unique_contacts';
    for (let round = 0; round < 12; round += 1) {
      const from = T0 + Math.floor(random() * 200 * 24) * HOUR;
      const to = from + (1 + Math.floor(random() * 100 * 24)) * HOUR;
      const bucketMs = round % 3 === 2 ? 7 * DAY : WHOLE_RANGE_MS;
      const query = sourceQuery(catalog, metric, { organizationId: org, start: from, bucketMs }, { aggregation: 'distinct', to: new Date(to) });
      const [series] = await adapter.query(query, new AbortController().signal);
      // Asked with the period before it in one request, as a KPI asks (one statement, events-batch.ts): the same answer.
      const batch = {};
      const [together] = await Promise.all([
        adapter.query({ ...query, batch }, new AbortController().signal),
        adapter.query({ ...query, batch, from: new Date(2 * from - to), to: new Date(from) }, new AbortController().signal),
      ]);
      assert.deepEqual(together, [series], `round ${round}: asked together with the period before`);
      // Rollup rows touching the range count whole: whole hours here, and whole days for 7-day buckets.
      const first = bucketMs === WHOLE_RANGE_MS ? from : Math.floor(from / DAY) * DAY;
      const last = bucketMs === WHOLE_RANGE_MS ? to : Math.ceil(to / DAY) * DAY;
      const buckets = new Map<number, typeof sent>();
      for (const one of sent) {
        if (one.hour < first || one.hour >= last) continue;
        const t = Math.floor(one.hour / bucketMs) * bucketMs;
        let bucket = buckets.get(t);
        if (!bucket) buckets.set(t, (bucket = []));
        bucket.push(one);
      }
      const expected = [...buckets].sort(([a], [b]) => a - b);
      assert.deepEqual(series!.times, expected.map(([t]) => t), `round ${round}: buckets`);
      assert.deepEqual(series!.values, expected.map(([, values]) => sketchOf(values).count()), `round ${round}: [${new Date(from).toISOString()}, ${new Date(to).toISOString()}) by ${bucketMs} ms`);
    }
  });
});
