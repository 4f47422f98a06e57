/**
 * Totals per dimension (migration 0160), the write path: every counted
 * contribution adds one increment per (type, bucket, dimension, value) to the
 * pending tables, in the batch's transaction, and the fold merges them. The
 * reference is `rebuild_dimension_totals()`, recomputed from the dimensioned
 * rollups, which the ingest-store tests check against the events themselves.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createOrganization } from '../src/auth/keys.js';
import { loadCatalog, DEFAULT_CATALOG_FILE } from '../src/catalog/load.js';
import { migrateUp } from '../src/db/migrate.js';
import { createPool, type Pool } from '../src/db/pool.js';
import { emptyRows, generateHour, type DemoEvent } from '../src/demo/generate.js';
import { planIncidents } from '../src/demo/incidents.js';
import { Random } from '../src/demo/random.js';
import { aggregate } from '../src/ingest/aggregate.js';
import { distinctAttributesOf } from '../src/ingest/distinct-attributes.js';
import { ingestEvents } from '../src/ingest/ingest.js';
import { foldPendingTotals } from '../src/jobs/fold-totals.js';
import { createLogger } from '../src/logger.js';
import type { SketchBins } from '../src/rollups/sketch.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { seededRandom } from './support/seeded-random.js';

const SEED = Number(process.env.DIMENSION_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`dimension totals tests: seed ${SEED} (replay with DIMENSION_SEED=${SEED})`);

const silent = createLogger('silent');
const HOUR = 3_600_000;
const NOW = Date.parse('2026-03-10T12:30:00Z');
const options = { now: () => NOW, distinct: distinctAttributesOf(loadCatalog(DEFAULT_CATALOG_FILE)) };

interface DimensionRow {
  count: number;
  value_count: number;
  sum: number;
  min: number | null;
  max: number | null;
  sketch: SketchBins | null;
}

/** The columns both tables store (the folded hourly one also has quantile_points, migrations 0165 and 0180). */
const STORED = 'organization_id, event_type, dimension, bucket, value, count, value_count, sum, min, max, sketch';
const COLUMNS = `event_type || '|' || to_char(bucket AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24') || '|' || dimension || '|' || value AS key`;

/** One organization's folded per-dimension totals, keyed "type|bucket|dimension|value". */
async function folded(pool: Pool, grain: 'hourly' | 'daily', organizationId: string): Promise<Map<string, DimensionRow>> {
  const { rows } = await pool.query<DimensionRow & { key: string }>(
    `SELECT ${COLUMNS}, count::int, value_count::int, sum, min, max, sketch FROM rollup_dimension_totals_${grain} WHERE organization_id = $1`,
    [organizationId],
  );
  return new Map(rows.map(({ key, ...row }) => [key, row]));
}

/** What a reader sees before the fold: folded and pending rows merged per key, as the fold would merge them. */
async function foldedAndPending(pool: Pool, grain: 'hourly' | 'daily', organizationId: string): Promise<Map<string, DimensionRow>> {
  const { rows } = await pool.query<DimensionRow & { key: string }>(
    `SELECT ${COLUMNS}, sum(count)::int AS count, sum(value_count)::int AS value_count, sum(sum) AS sum, min(min) AS min, max(max) AS max,
            sketch_merge_agg(sketch) AS sketch
     FROM (SELECT ${STORED} FROM rollup_dimension_totals_${grain} UNION ALL SELECT ${STORED} FROM rollup_dimension_totals_${grain}_pending) t
     WHERE organization_id = $1
     GROUP BY event_type, bucket, dimension, value`,
    [organizationId],
  );
  return new Map(rows.map(({ key, ...row }) => [key, row]));
}

async function pendingRows(pool: Pool, organizationId: string): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    `SELECT (SELECT count(*) FROM rollup_dimension_totals_hourly_pending WHERE organization_id = $1)
          + (SELECT count(*) FROM rollup_dimension_totals_daily_pending WHERE organization_id = $1) AS n`,
    [organizationId],
  );
  return Number(rows[0]!.n);
}

/** Row by row: the same keys, counts, extremes and sketch bins, sums within float tolerance. */
function assertSameRows(actual: Map<string, DimensionRow>, expected: Map<string, DimensionRow>, label: string): void {
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort(), `${label}: keys`);
  for (const [key, want] of expected) {
    const row = actual.get(key)!;
    const where = `${label} ${key} (seed ${SEED})`;
    assert.equal(row.count, want.count, `count of ${where}`);
    assert.equal(row.value_count, want.value_count, `value_count of ${where}`);
    assert.ok(Math.abs(row.sum - want.sum) <= 1e-9 * Math.max(1, Math.abs(want.sum)), `sum of ${where}: ${row.sum} vs ${want.sum}`);
    assert.equal(row.min, want.min, `min of ${where}`);
    assert.equal(row.max, want.max, `max of ${where}`);
    assert.deepEqual(row.sketch, want.sketch, `sketch of ${where}`);
  }
}

/**
 * A seeded mix: the demo's hours (every built-in type, conversation, agent,
 * bot and contact events with their derived types), plus events with and
 * without dims and values, of a custom type without any dimension, late
 * events days before the stream, and repeated ids within and across batches.
 */
function seededBatches(seed: number, hours: number): DemoEvent[][] {
  const random = seededRandom(seed);
  const rangeStart = NOW - hours * HOUR;
  const hourStart = Math.floor(rangeStart / HOUR) * HOUR;
  const plan = { name: `dims-${seed}`, slug: `d${seed}`, scale: 1, incidents: planIncidents(`dims-${seed}`, rangeStart, NOW, 0) };
  const demo = new Random(seed);
  const events: DemoEvent[] = [];
  for (let index = 0; hourStart + index * HOUR < NOW; index += 1) generateHour({ plan, random: demo, hourStart: hourStart + index * HOUR, rangeStart, now: NOW, index }, events, emptyRows());
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  for (let i = 0; i < 400; i++) {
    const late = random() < 0.15;
    const at = new Date(late ? NOW - (2 + random() * 5) * 24 * HOUR : rangeStart + random() * (NOW - rangeStart)).toISOString();
    const value = random() < 0.3 ? undefined : Math.round((random() * 2000 - 200) * 100) / 100;
    const attributes: Record<string, unknown> = {};
    if (random() < 0.7) attributes.channel = pick(['web', 'pos', 'app']);
    if (random() < 0.5) attributes.market = pick(['de', 'fr', 'uk']);
    if (random() < 0.2) attributes.note = 'not a dimension';
    const type = pick(['order.created', 'invoice.paid', 'widget.used']);
    // widget.used carries no dimension at all: it adds nothing per dimension.
    events.push({ id: `mix-${i}`, type, occurredAt: at, ...(value === undefined ? {} : { value }), attributes: type === 'widget.used' ? { note: 'x' } : attributes });
  }
  for (let i = events.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [events[i], events[j]] = [events[j]!, events[i]!];
  }
  const batches: DemoEvent[][] = [];
  for (let start = 0; start < events.length; ) {
    const size = 1 + Math.floor(random() * 250);
    const batch = events.slice(start, start + size);
    // Repeats: ids sent before (they count nothing) and an id twice in one batch (it counts once).
    for (let r = 0; r < 5 && start > 0; r++) batch.push(events[Math.floor(random() * start)]!);
    if (batch.length > 1) batch.push({ ...batch[0]!, occurredAt: new Date(NOW - HOUR).toISOString() });
    batches.push(batch);
    start += size;
  }
  return batches;
}

describe('totals per dimension: ingestion appends, the fold merges', () => {
  let database: TestDatabase;
  let pool: Pool;

  before(async () => {
    database = await createTestDatabase('dimension_totals');
    await migrateUp(database.url, silent);
    pool = createPool(database.url, 6, silent);
  });
  after(async () => {
    await pool?.end();
    await database?.drop();
  });

  test('aggregate(): one row per (type, hour, dimension, value) in key order, none per day; events without dims add none', () => {
    const at = Date.parse('2026-03-10T10:15:00Z');
    const deltas = aggregate([
      { type: 'order.created', occurredAtMs: at, value: 10, dims: { channel: 'web', market: 'de' } },
      { type: 'order.created', occurredAtMs: at + 60_000, value: null, dims: { channel: 'web', market: 'fr' } },
      { type: 'order.created', occurredAtMs: at + 120_000, value: 10, dims: { channel: 'web', market: 'uk' } },
      { type: 'order.created', occurredAtMs: at + 2 * HOUR, value: 4, dims: { channel: 'pos' } },
      { type: 'widget.used', occurredAtMs: at, value: 1, dims: {} },
    ]);
    const keys = (granularity: 'hour' | 'day') => deltas[granularity].byDimension.map((d) => `${d.type} ${d.dimension}=${d.value} ${new Date(d.bucketMs).toISOString()} ${d.count}/${d.valueCount}`);
    assert.deepEqual(keys('hour'), [
      'order.created channel=web 2026-03-10T10:00:00.000Z 3/2',
      'order.created channel=pos 2026-03-10T12:00:00.000Z 1/1',
      'order.created market=de 2026-03-10T10:00:00.000Z 1/1',
      'order.created market=fr 2026-03-10T10:00:00.000Z 1/0',
      'order.created market=uk 2026-03-10T10:00:00.000Z 1/1',
    ]);
    // Batches append hourly rows only: the fold sums them into the day rows (migration 0170).
    assert.deepEqual(keys('day'), []);
    const web = deltas.hour.byDimension[0]!;
    assert.deepEqual([web.sum, web.min, web.max, [...(web.sketch?.values() ?? [])]], [20, 10, 10, [2]]);
    assert.equal(deltas.hour.byDimension.find((d) => d.value === 'fr')!.sketch, null);
    // Summing the rows' bins per dimension leaves the rows' own sketches as they were.
    for (const row of deltas.hour.byDims.filter((r) => r.valueCount > 0)) assert.deepEqual([...row.sketch!.values()], [row.valueCount], row.dims);
  });

  test(`random batches, concurrent writers and folds: the folded totals equal rebuild_dimension_totals() (seed ${SEED})`, async () => {
    const organizationId = (await createOrganization(pool, `dims-${SEED}`)).id;
    const batches = seededBatches(SEED, 30);
    // Three writers, as concurrent requests, while a fold loop runs as the job does.
    let writing = true;
    const folding = (async () => {
      while (writing) await foldPendingTotals(pool);
    })();
    let accepted = 0;
    try {
      await Promise.all(
        [0, 1, 2].map(async (writer) => {
          for (let b = writer; b < batches.length; b += 3) {
            const result = await ingestEvents(pool, organizationId, batches[b]!, options);
            assert.deepEqual(result.rejected, [], `batch ${b} (seed ${SEED})`);
            accepted += result.accepted;
          }
        }),
      );
    } finally {
      writing = false;
      await folding;
    }
    assert.ok(accepted > 400, `${accepted} events accepted`);
    await foldPendingTotals(pool);
    assert.equal(await pendingRows(pool, organizationId), 0);
    const ingested = { hourly: await folded(pool, 'hourly', organizationId), daily: await folded(pool, 'daily', organizationId) };
    // The mix has derived rollup types (':' in the name), values and none, and no rows for the dimensionless type.
    const types = new Set([...ingested.hourly.keys()].map((key) => key.split('|')[0]!));
    assert.ok([...types].some((type) => type.includes(':')), `derived types among ${[...types].join(', ')}`);
    assert.ok(!types.has('widget.used'));
    assert.ok([...ingested.hourly.values()].some((row) => row.sketch === null) && [...ingested.hourly.values()].some((row) => row.sketch !== null));

    await pool.query('SELECT rebuild_dimension_totals()');
    assertSameRows(ingested.hourly, await folded(pool, 'hourly', organizationId), 'hourly');
    assertSameRows(ingested.daily, await folded(pool, 'daily', organizationId), 'daily');
  });

  test(`after a partial fold, folded plus pending rows read what the full fold gives (seed ${SEED})`, async () => {
    const organizationId = (await createOrganization(pool, `dims-partial-${SEED}`)).id;
    const batches = seededBatches(SEED + 1, 12);
    const half = Math.ceil(batches.length / 2);
    for (const batch of batches.slice(0, half)) await ingestEvents(pool, organizationId, batch, options);
    assert.ok((await foldPendingTotals(pool)) > 0);
    for (const batch of batches.slice(half)) await ingestEvents(pool, organizationId, batch, options);
    assert.ok((await pendingRows(pool, organizationId)) > 0, 'rows wait in the pending tables');
    const before = { hourly: await foldedAndPending(pool, 'hourly', organizationId), daily: await foldedAndPending(pool, 'daily', organizationId) };
    assert.ok((await foldPendingTotals(pool)) > 0);
    assert.equal(await pendingRows(pool, organizationId), 0);
    assertSameRows(await folded(pool, 'hourly', organizationId), before.hourly, 'hourly after the fold');
    assertSameRows(await folded(pool, 'daily', organizationId), before.daily, 'daily after the fold');
  });

  test('a failed batch leaves no per-dimension row behind', async () => {
    const organizationId = (await createOrganization(pool, 'dims-abort')).id;
    await pool.query(`CREATE FUNCTION test_dims_explode() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.event_type = 'test.explode' THEN RAISE EXCEPTION 'forced failure'; END IF; RETURN NEW; END $$`);
    // The distinct sketches are written after the per-dimension totals: fail there.
    await pool.query('CREATE TRIGGER test_dims_explode BEFORE INSERT ON rollup_totals_distinct_daily_pending FOR EACH ROW EXECUTE FUNCTION test_dims_explode()');
    try {
      const events = [
        { id: 'a', type: 'order.created', occurredAt: '2026-03-10T10:00:00Z', value: 3, attributes: { channel: 'web' } },
        { id: 'b', type: 'test.explode', occurredAt: '2026-03-10T10:00:00Z', attributes: { channel: 'web', contactId: 'c-1' } },
      ];
      const distinct = new Map([['test.explode', ['contactId']]]);
      await assert.rejects(ingestEvents(pool, organizationId, events, { ...options, distinct }), /forced failure/);
      assert.equal(await pendingRows(pool, organizationId), 0);
    } finally {
      await pool.query('DROP TRIGGER test_dims_explode ON rollup_totals_distinct_daily_pending');
      await pool.query('DROP FUNCTION test_dims_explode()');
    }
  });
});
