import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { runner } from 'node-pg-migrate';
import pg from 'pg';
import { migrateUp, MIGRATIONS_DIR } from '../src/db/migrate.js';
import { createPool } from '../src/db/pool.js';
import { createLogger } from '../src/logger.js';
import { refreshCumulativeSketches } from '../src/rollups/cumulative-sketches.js';
import { binKey, binsFromValues, mergeBins, quantile, type SketchBins } from '../src/rollups/sketch.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';

/**
 * Migrations that rewrite stored rollups, each run on a database that already
 * holds rows written by the schema before it.
 */
const runUpTo = (url: string, count: number) =>
  runner({ databaseUrl: url, dir: MIGRATIONS_DIR, direction: 'up', migrationsTable: 'pgmigrations', count, log: () => undefined });

/**
 * 0011: value_count comes from the sketches, totals from the dimensioned rows,
 * and nothing already stored changes.
 */
describe('migration 0011: rollup totals on existing data', () => {
  let database: TestDatabase;
  let client: pg.Client;
  const org = '00000000-0000-4000-8000-000000000001';

  before(async () => {
    database = await createTestDatabase('migration_totals');
    // Every migration before 0011.
    await runUpTo(database.url, 4);
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
  });
  after(async () => {
    await client?.end();
    await database?.drop();
  });

  test('backfills value_count and the totals tables from the rollups already stored', async () => {
    const web = [10, 20, 30];
    const pos = [5];
    const insert = `INSERT INTO rollups_hourly (organization_id, event_type, bucket, dims, count, sum, min, max, sketch) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`;
    const hour = '2026-03-10T10:00:00Z';
    // 4 web orders of which 3 carry a value; 1 pos order; 2 events without any value.
    await client.query(insert, [org, 'order.created', hour, { channel: 'web' }, 4, 60, 10, 30, binsFromValues(web)]);
    await client.query(insert, [org, 'order.created', hour, { channel: 'pos' }, 1, 5, 5, 5, binsFromValues(pos)]);
    await client.query(insert, [org, 'message.sent', hour, { channel: 'sms' }, 2, 0, null, null, null]);
    await client.query(`INSERT INTO rollups_daily SELECT organization_id, event_type, date_trunc('day', bucket), dims, count, sum, min, max, sketch FROM rollups_hourly`);

    await runUpTo(database.url, 1);

    const valueCounts = await client.query(`SELECT event_type, dims->>'channel' AS channel, value_count::int FROM rollups_hourly ORDER BY 1, 2`);
    assert.deepEqual(valueCounts.rows, [
      { event_type: 'message.sent', channel: 'sms', value_count: 0 },
      { event_type: 'order.created', channel: 'pos', value_count: 1 },
      { event_type: 'order.created', channel: 'web', value_count: 3 },
    ]);
    for (const table of ['rollup_totals_hourly', 'rollup_totals_daily']) {
      const totals = await client.query(`SELECT event_type, count::int, value_count::int, sum, min, max, sketch FROM ${table} ORDER BY event_type`);
      assert.deepEqual(
        totals.rows,
        [
          { event_type: 'message.sent', count: 2, value_count: 0, sum: 0, min: null, max: null, sketch: null },
          { event_type: 'order.created', count: 5, value_count: 4, sum: 65, min: 5, max: 30, sketch: mergeBins(binsFromValues(web), binsFromValues(pos)) },
        ],
        table,
      );
    }
  });
});

/**
 * 0012: old "-<n>" sketch keys meant a negative value, but also held positive
 * values below 1. They become "n<n>" where the raw events show negative values
 * only, and stay (now meaning values below 1) where they show none.
 */
describe('migration 0012: negative sketch keys', () => {
  let database: TestDatabase;
  let client: pg.Client;
  const org = '00000000-0000-4000-8000-000000000002';
  const negativeHour = '2026-03-10T10:00:00Z';
  const belowOneHour = '2026-03-10T11:00:00Z';

  before(async () => {
    database = await createTestDatabase('migration_sketch_keys');
    await runUpTo(database.url, 5);
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
  });
  after(async () => {
    await client?.end();
    await database?.drop();
  });

  test('rewrites the keys of negative values from the raw events, keeps those of values below 1, and rebuilds totals', async () => {
    await client.query(`CREATE TABLE events_y2026m03 PARTITION OF events FOR VALUES FROM ('2026-03-01') TO ('2026-04-01')`);
    const raw = `INSERT INTO events (organization_id, occurred_at, event_id, event_type, value) VALUES ($1, $2, $3, 'refund.issued', $4)`;
    await client.query(raw, [org, '2026-03-10T10:05:00Z', 'r1', -2]);
    await client.query(raw, [org, '2026-03-10T10:06:00Z', 'r2', -2]);
    await client.query(raw, [org, '2026-03-10T11:05:00Z', 'r3', 0.5]);
    // As the old ingestion stored them: -2 and 0.5 both under "-<n>" keys (-2 is "-70", 0.5 is "-69").
    const rollup = `INSERT INTO rollups_hourly (organization_id, event_type, bucket, dims, count, value_count, sum, min, max, sketch)
                    VALUES ($1, 'refund.issued', $2, '{}', $3, $3, $4, $5, $5, $6)`;
    await client.query(rollup, [org, negativeHour, 2, -4, -2, { '-70': 2 }]);
    await client.query(rollup, [org, belowOneHour, 1, 0.5, 0.5, { '-69': 1 }]);
    await client.query(
      `INSERT INTO rollups_daily (organization_id, event_type, bucket, dims, count, value_count, sum, min, max, sketch)
       VALUES ($1, 'refund.issued', '2026-03-10T00:00:00Z', '{}', 3, 3, -3.5, -2, 0.5, $2)`,
      [org, { '-70': 2, '-69': 1 }],
    );
    // The old keys, decoded now, would read the negative values as values below 1.
    assert.notEqual(Math.round(quantile({ '-70': 2 }, 0.5)!), -2);

    assert.deepEqual((await migrateUp(database.url, createLogger('silent')))[0], '0012_sketch_negative_keys');

    const hourly = await client.query<{ hour: string; sketch: SketchBins }>(`SELECT to_char(bucket AT TIME ZONE 'UTC', 'HH24') AS hour, sketch FROM rollups_hourly ORDER BY bucket`);
    assert.deepEqual(hourly.rows, [
      { hour: '10', sketch: { n70: 2 } },
      { hour: '11', sketch: { '-69': 1 } },
    ]);
    assert.ok(Math.abs(quantile(hourly.rows[0]!.sketch, 0.5)! + 2) <= 0.005 * 2, 'within 0.5 % of -2');
    assert.ok(Math.abs(quantile(hourly.rows[1]!.sketch, 0.5)! - 0.5) <= 0.005 * 0.5, 'within 0.5 % of 0.5');
    // The day held both kinds: its keys stay as they were (the migration cannot tell them apart).
    const daily = await client.query(`SELECT sketch FROM rollups_daily`);
    assert.deepEqual(daily.rows[0].sketch, { '-70': 2, '-69': 1 });
    const totals = await client.query(`SELECT sketch FROM rollup_totals_hourly ORDER BY bucket`);
    assert.deepEqual(totals.rows.map((row) => row.sketch), [{ n70: 2 }, { '-69': 1 }]);
  });

  test('sketch_bin() in SQL gives the keys ingestion computes', async () => {
    const values = [0, 1, -1, 0.5, -0.5, 1e-6, -1e6, 123.456, 0.999, 1.001, ...Array.from({ length: 500 }, (_, index) => (index % 2 ? -1 : 1) * Math.exp((index - 250) / 20) * 1.2345)];
    const { rows } = await client.query<{ bin: string }>('SELECT sketch_bin(v) AS bin FROM unnest($1::float8[]) WITH ORDINALITY AS t(v, i) ORDER BY i', [values]);
    assert.deepEqual(
      rows.map((row) => row.bin),
      values.map((value) => binKey(value)),
    );
  });
});

/**
 * 0200: every key of the daily totals already stored is recorded from its
 * first day, and the fold job's first run builds its cumulative rows, which
 * a percentile over whole days then reads instead of the days.
 */
describe('migration 0200: cumulative daily sketches of the totals already stored', () => {
  let database: TestDatabase;
  let client: pg.Client;
  const org = '00000000-0000-4000-8000-000000000200';
  const day = (n: number) => new Date(Date.UTC(2026, 2, 1 + n));

  before(async () => {
    database = await createTestDatabase('migration_cumulative');
    await runUpTo(database.url, readdirSync(MIGRATIONS_DIR).filter((file) => file.endsWith('.sql') && file < '0200').length);
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
  });
  after(async () => {
    await client?.end();
    await database?.drop();
  });

  test('records every key from its first day, and the job builds the prefixes the reads use', async () => {
    const insert = 'INSERT INTO rollup_totals_daily (organization_id, event_type, bucket, count, value_count, sum, min, max, sketch) VALUES ($1, $2, $3, $4, $5, 0, NULL, NULL, $6)';
    const days = [binsFromValues([10, 20]), null, binsFromValues([20, -5, 0]), binsFromValues([1_000])];
    for (const [n, bins] of days.entries()) await client.query(insert, [org, 'bot.response', day(n + 1), n + 2, bins ? Object.values(bins).reduce((a, b) => a + b, 0) : 0, bins]);
    await client.query(insert, [org, 'message.sent', day(3), 4, 0, null]);

    assert.deepEqual((await migrateUp(database.url, createLogger('silent')))[0], '0200_rollup_totals_cumulative');
    const { rows: recorded } = await client.query('SELECT event_type, day FROM rollup_totals_cumulative_dirty ORDER BY event_type');
    assert.deepEqual(recorded, [
      { event_type: 'bot.response', day: day(1) },
      { event_type: 'message.sent', day: day(3) },
    ]);

    const pool = createPool(database.url, 1, createLogger('silent'));
    try {
      assert.equal(await refreshCumulativeSketches(pool, { today: day(10) }), 5);
    } finally {
      await pool.end();
    }
    const { rows: prefixes } = await client.query<{ event_type: string; bucket: Date; count: number; sketch: SketchBins | null }>(
      'SELECT event_type, bucket, count::int AS count, sketch FROM rollup_totals_cumulative ORDER BY event_type, bucket',
    );
    assert.deepEqual(prefixes, [
      { event_type: 'bot.response', bucket: day(1), count: 2, sketch: days[0] },
      { event_type: 'bot.response', bucket: day(2), count: 5, sketch: days[0] },
      { event_type: 'bot.response', bucket: day(3), count: 9, sketch: mergeBins(mergeBins({}, days[0]), days[2]) },
      { event_type: 'bot.response', bucket: day(4), count: 14, sketch: mergeBins(mergeBins(mergeBins({}, days[0]), days[2]), days[3]) },
      { event_type: 'message.sent', bucket: day(3), count: 4, sketch: null },
    ]);
    assert.deepEqual(await client.query('SELECT count(*)::int AS n FROM rollup_totals_cumulative_dirty').then((result) => result.rows[0].n), 0, 'nothing left recorded');
    // Days 2-4 of bot.response: the prefix through day 4, less the one through day 1.
    const { rows: read } = await client.query('SELECT sketch, minus FROM rollup_totals_prefix_rows($1, $2, $3, $4, NULL, NULL, NULL, NULL)', [org, ['bot.response'], day(2), day(5)]);
    assert.equal(read.length, 1);
    assert.deepEqual(JSON.parse(read[0].minus), days[0]);
  });
});
