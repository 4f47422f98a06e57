import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runner } from 'node-pg-migrate';
import pg from 'pg';
import { migrateUp, MIGRATIONS_DIR } from '../src/db/migrate.js';
import { createLogger } from '../src/logger.js';
import { binsFromValues, mergeBins } from '../src/rollups/sketch.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';

/**
 * Migration 0011 on a database that already holds rollups written by the
 * previous schema: value_count comes from the sketches, totals from the
 * dimensioned rows, and nothing already stored changes.
 */
describe('migration 0011: rollup totals on existing data', () => {
  let database: TestDatabase;
  let client: pg.Client;
  const org = '00000000-0000-4000-8000-000000000001';

  before(async () => {
    database = await createTestDatabase('migration_totals');
    // Every migration before 0011.
    await runner({ databaseUrl: database.url, dir: MIGRATIONS_DIR, direction: 'up', migrationsTable: 'pgmigrations', count: 4, log: () => undefined });
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

    assert.deepEqual(await migrateUp(database.url, createLogger('silent')), ['0011_rollup_totals']);

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
