/**
 * Migration 0170: batches append hourly per-dimension rows only; the pending
 * day rows are a view of them at their UTC day, and the fold writes the hourly
 * and the daily rows from them in one statement.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runner } from 'node-pg-migrate';
import pg from 'pg';
import { createOrganization } from '../src/auth/keys.js';
import { MIGRATIONS_DIR, migrateUp } from '../src/db/migrate.js';
import { createPool, type Pool } from '../src/db/pool.js';
import { ingestEvents } from '../src/ingest/ingest.js';
import { createLogger } from '../src/logger.js';
import { binKey } from '../src/rollups/sketch.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';

const silent = createLogger('silent');
const run = (url: string, direction: 'up' | 'down', count: number) =>
  runner({ databaseUrl: url, dir: MIGRATIONS_DIR, direction, migrationsTable: 'pgmigrations', count, log: () => undefined });
/** Migrations before 0170. */
const BEFORE_0170 = 18;
const DIMENSION_COLUMNS = 'organization_id, event_type, dimension, bucket, value, count, value_count, sum, min, max, sketch';

async function relationKind(client: pg.Client | Pool, name: string): Promise<string | undefined> {
  const { rows } = await client.query<{ relkind: string }>('SELECT relkind FROM pg_class WHERE relname = $1', [name]);
  return rows[0]?.relkind;
}

describe('migration 0170 on rows the schema before it left', () => {
  let database: TestDatabase;
  let client: pg.Client;
  const org = '00000000-0000-4000-8000-000000000170';

  before(async () => {
    database = await createTestDatabase('dims_daily_migration');
    await run(database.url, 'up', BEFORE_0170);
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
  });
  after(async () => {
    await client?.end();
    await database?.drop();
  });

  test('folds the pending rows of both grains once; then shows the pending hours at their day; down keeps them as day rows', async () => {
    const insert = (table: string) => `INSERT INTO ${table} (${DIMENSION_COLUMNS}) VALUES ($1, 'order.created', 'channel', $2, 'web', $3, $4, $5, $6, $7, $8)`;
    // A folded day and hour, and rows two batches appended to both grains before the migration (the old scheme).
    await client.query(insert('rollup_dimension_totals_daily'), [org, '2026-03-10T00:00:00Z', 2, 2, 30, 10, 20, { [binKey(10)]: 1, [binKey(20)]: 1 }]);
    await client.query(insert('rollup_dimension_totals_hourly'), [org, '2026-03-10T09:00:00Z', 2, 2, 30, 10, 20, { [binKey(10)]: 1, [binKey(20)]: 1 }]);
    for (const grain of ['hourly', 'daily']) {
      const bucket = grain === 'hourly' ? '2026-03-10T09:00:00Z' : '2026-03-10T00:00:00Z';
      await client.query(insert(`rollup_dimension_totals_${grain}_pending`), [org, bucket, 1, 1, 20, 20, 20, { [binKey(20)]: 1 }]);
      await client.query(insert(`rollup_dimension_totals_${grain}_pending`), [org, bucket, 3, 0, 0, null, null, null]);
    }

    await run(database.url, 'up', 1);
    assert.equal(await relationKind(client, 'rollup_dimension_totals_daily_pending'), 'v');
    for (const [grain, bucket] of [['hourly', '2026-03-10T09:00:00Z'], ['daily', '2026-03-10T00:00:00Z']] as const) {
      const rows = await client.query(`SELECT bucket, count::int, value_count::int, sum, min, max, sketch FROM rollup_dimension_totals_${grain}`);
      assert.deepEqual(rows.rows, [{ bucket: new Date(bucket), count: 6, value_count: 3, sum: 50, min: 10, max: 20, sketch: { [binKey(10)]: 1, [binKey(20)]: 2 } }], grain);
    }
    assert.equal((await client.query('SELECT 1 FROM rollup_dimension_totals_daily_pending')).rowCount, 0);
    // A batch of the new scheme: one hour, seen pending at its day.
    await client.query(insert('rollup_dimension_totals_hourly_pending'), [org, '2026-03-11T23:00:00Z', 1, 1, 5, 5, 5, { [binKey(5)]: 1 }]);
    const pendingDays = await client.query(`SELECT bucket, count::int, sketch, sketch_text FROM rollup_dimension_totals_daily_pending`);
    assert.deepEqual(pendingDays.rows, [{ bucket: new Date('2026-03-11T00:00:00Z'), count: 1, sketch: { [binKey(5)]: 1 }, sketch_text: JSON.stringify({ [binKey(5)]: 1 }).replace(':', ': ') }]);

    await run(database.url, 'down', 1);
    assert.equal(await relationKind(client, 'rollup_dimension_totals_daily_pending'), 'r');
    const restored = await client.query(`SELECT bucket, count::int, sketch FROM rollup_dimension_totals_daily_pending`);
    assert.deepEqual(restored.rows, [{ bucket: new Date('2026-03-11T00:00:00Z'), count: 1, sketch: { [binKey(5)]: 1 } }]);
    // The old fold then counts that hour once per grain, as before the migration.
    await client.query('SELECT fold_dimension_totals()');
    const days = await client.query(`SELECT bucket, count::int FROM rollup_dimension_totals_daily ORDER BY bucket`);
    assert.deepEqual(days.rows, [
      { bucket: new Date('2026-03-10T00:00:00Z'), count: 6 },
      { bucket: new Date('2026-03-11T00:00:00Z'), count: 1 },
    ]);
    await run(database.url, 'up', 1);
    assert.equal(await relationKind(client, 'rollup_dimension_totals_daily_pending'), 'v');
  });
});

describe('the pending day rows and the fold (migration 0170)', () => {
  let database: TestDatabase;
  let pool: Pool;

  before(async () => {
    database = await createTestDatabase('dims_daily');
    await migrateUp(database.url, silent);
    pool = createPool(database.url, 2, silent);
  });
  after(async () => {
    await pool?.end();
    await database?.drop();
  });

  test('a batch appends hour rows only; readers see them at their UTC day in any session time zone; the fold writes hours and days', async () => {
    const organizationId = (await createOrganization(pool, 'dims-daily')).id;
    const now = Date.parse('2026-03-10T12:00:00Z');
    const events = [
      { id: 'a', type: 'order.created', occurredAt: '2026-03-09T23:30:00Z', value: 5, attributes: { channel: 'web' } },
      { id: 'b', type: 'order.created', occurredAt: '2026-03-09T23:45:00Z', value: 7, attributes: { channel: 'web' } },
      { id: 'c', type: 'order.created', occurredAt: '2026-03-10T00:30:00Z', value: 7, attributes: { channel: 'web' } },
    ];
    assert.equal((await ingestEvents(pool, organizationId, events, { now: () => now })).accepted, 3);
    const client = await pool.connect();
    try {
      // A day boundary that is not UTC's: the view's day must not follow it.
      await client.query(`SET TIME ZONE 'America/Los_Angeles'`);
      const hours = await client.query(`SELECT bucket, count::int FROM rollup_dimension_totals_hourly_pending WHERE organization_id = $1 ORDER BY bucket`, [organizationId]);
      assert.deepEqual(hours.rows, [
        { bucket: new Date('2026-03-09T23:00:00Z'), count: 2 },
        { bucket: new Date('2026-03-10T00:00:00Z'), count: 1 },
      ]);
      const days = await client.query(`SELECT bucket, count::int FROM rollup_dimension_totals_daily_pending WHERE organization_id = $1 ORDER BY bucket`, [organizationId]);
      assert.deepEqual(days.rows, [
        { bucket: new Date('2026-03-09T00:00:00Z'), count: 2 },
        { bucket: new Date('2026-03-10T00:00:00Z'), count: 1 },
      ]);
    } finally {
      await client.query('RESET TIME ZONE');
      client.release();
    }
    // Two hours and two days, in one fold; nothing left pending in either grain.
    assert.equal(Number((await pool.query<{ n: string }>('SELECT fold_dimension_totals() AS n')).rows[0]!.n), 2 + 2);
    const pending = await pool.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM rollup_dimension_totals_hourly_pending) + (SELECT count(*) FROM rollup_dimension_totals_daily_pending) AS n`,
    );
    assert.equal(Number(pending.rows[0]!.n), 0);
    const daily = await pool.query(`SELECT bucket, count::int, sum, min, max, sketch FROM rollup_dimension_totals_daily WHERE organization_id = $1 ORDER BY bucket`, [organizationId]);
    assert.deepEqual(daily.rows, [
      { bucket: new Date('2026-03-09T00:00:00Z'), count: 2, sum: 12, min: 5, max: 7, sketch: { [binKey(5)]: 1, [binKey(7)]: 1 } },
      { bucket: new Date('2026-03-10T00:00:00Z'), count: 1, sum: 7, min: 7, max: 7, sketch: { [binKey(7)]: 1 } },
    ]);
  });
});
