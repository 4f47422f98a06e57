import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { runner } from 'node-pg-migrate';
import pg from 'pg';
import { createOrganization } from '../src/auth/keys.js';
import { migrateUp, MIGRATIONS_DIR } from '../src/db/migrate.js';
import { createPool, withTransaction, type Pool } from '../src/db/pool.js';
import { ingestEvents } from '../src/ingest/ingest.js';
import { insertEventsStatement, JSONB_SAFE_CHARS } from '../src/ingest/store.js';
import { createLogger } from '../src/logger.js';
import { binsFromValues, type SketchBins } from '../src/rollups/sketch.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { seededRandom } from './support/seeded-random.js';

/**
 * The cheaper write path of issue 20, step 19 (bench/README.md): the rollup
 * upserts merge sketches in the statement instead of calling sketch_merge(),
 * batches are read as jsonb, and the dimensioned rollups leave room on their
 * pages for updated rows. None of it may change what is stored.
 */
const silent = createLogger('silent');
const NOW = Date.parse('2026-03-10T12:00:00Z');
const options = { now: () => NOW };
const MIGRATION = '0240_rollups_fillfactor.sql';

describe('the ingestion write path (issue 20, step 19)', () => {
  let database: TestDatabase;
  let pool: Pool;

  before(async () => {
    database = await createTestDatabase('ingest_write_path');
    await migrateUp(database.url, silent);
    pool = createPool(database.url, 4, silent);
  });
  after(async () => {
    await pool.end();
    await database.drop();
  });

  test('upserts into rows with and without sketches give the sketches of all values, hourly and daily', async () => {
    const seed = Number(process.env.TEST_SEED ?? Date.now() % 1_000_000);
    console.log(`seed ${seed} (TEST_SEED=${seed} replays it)`);
    const random = seededRandom(seed);
    const org = (await createOrganization(pool, 'write-path-sketches')).id;
    // Few rows, many batches: every row is inserted once and then merged into, from and into NULL sketches
    // (batches whose events of a row carry no value), with negative, zero and fractional values.
    const values = new Map<string, number[]>();
    let id = 0;
    for (let batch = 0; batch < 12; batch++) {
      const events = [];
      for (let i = 0; i < 40; i++) {
        const hour = Math.floor(random() * 3);
        const channel = ['web', 'pos'][Math.floor(random() * 2)]!;
        const withValue = random() < 0.5 && batch % 3 !== 0;
        const value = Math.round((random() * 2000 - 300) * 100) / 100 * (random() < 0.1 ? 0 : 1);
        const occurredAt = new Date(Date.parse('2026-03-09T10:00:00Z') + hour * 3_600_000 + i * 1000).toISOString();
        events.push({ id: `e-${id++}`, type: 'order.created', occurredAt, ...(withValue ? { value } : {}), attributes: { channel } });
        const key = `${occurredAt.slice(0, 13)}|${channel}`;
        if (!values.has(key)) values.set(key, []);
        if (withValue) values.get(key)!.push(value);
      }
      const result = await ingestEvents(pool, org, events, options);
      assert.equal(result.accepted, events.length);
    }
    const { rows: hourly } = await pool.query<{ hour: string; channel: string; sketch: SketchBins | null }>(
      `SELECT to_char(bucket AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24') AS hour, dims->>'channel' AS channel, sketch FROM rollups_hourly WHERE organization_id = $1`,
      [org],
    );
    assert.equal(hourly.length, values.size);
    for (const row of hourly) {
      const want = values.get(`${row.hour}|${row.channel}`)!;
      assert.deepEqual(row.sketch, want.length === 0 ? null : binsFromValues(want), `hourly sketch of ${row.hour} ${row.channel} (seed ${seed})`);
    }
    const { rows: daily } = await pool.query<{ channel: string; sketch: SketchBins | null }>(
      `SELECT dims->>'channel' AS channel, sketch FROM rollups_daily WHERE organization_id = $1`,
      [org],
    );
    for (const row of daily) {
      const want = [...values].filter(([key]) => key.endsWith(`|${row.channel}`)).flatMap(([, list]) => list);
      assert.deepEqual(row.sketch, want.length === 0 ? null : binsFromValues(want), `daily sketch of ${row.channel} (seed ${seed})`);
    }
  });

  test('raw events read as jsonb are stored exactly as the json form stored them', async () => {
    const attributes = [
      { note: 'quote " backslash \\ newline \n tab \t', nested: { list: [1, 2.5, -0.1, 1e-7, 123456789012.5, null, true], empty: {} } },
      { unicode: 'äöü ß € 😀 中文', key: 'value', control: '\u0001\u001f' },
      { same: 1, big: 9007199254740991, tiny: 5e-324, negative: -42 },
    ];
    const events = attributes.map((attributes, i) => ({ id: `raw-${i}`, type: 'custom.thing', occurredAt: '2026-03-09T10:00:00.123Z', value: i === 0 ? 0.1 : null, attributes }));
    const viaIngest = (await createOrganization(pool, 'write-path-jsonb')).id;
    const viaJson = (await createOrganization(pool, 'write-path-json')).id;
    assert.equal((await ingestEvents(pool, viaIngest, events, options)).accepted, events.length);
    // The statement a batch over JSONB_SAFE_CHARS uses, on the same rows.
    const rows = events.map((e) => ({ id: e.id, at: e.occurredAt, type: e.type, value: e.value, attributes: e.attributes }));
    const large = insertEventsStatement('x'.repeat(JSONB_SAFE_CHARS + 1));
    assert.match(large.text, /json_to_recordset\(\$2::json\)/);
    assert.match(insertEventsStatement(JSON.stringify(rows)).text, /jsonb_to_recordset\(\$2::jsonb\)/);
    await withTransaction(pool, (client) => client.query({ ...large, values: [viaJson, JSON.stringify(rows)] }));
    const read = async (org: string) =>
      (await pool.query(`SELECT event_id, occurred_at, event_type, value, attributes::text AS attributes FROM events WHERE organization_id = $1 ORDER BY event_id`, [org])).rows;
    const stored = await read(viaIngest);
    assert.deepEqual(stored, await read(viaJson));
    assert.deepEqual(
      stored.map((row) => JSON.parse(row.attributes)),
      attributes,
    );
    assert.deepEqual(stored.map((row) => row.value), [0.1, null, null]);
  });

  test('migration 0240 leaves a quarter of each dimensioned rollup page free for updated rows and compresses daily sketches with lz4; down restores the defaults', async () => {
    const settings = async () => {
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      const { rows } = await client.query<{ relname: string; reloptions: string[] | null; compression: string }>(
        `SELECT c.relname, c.reloptions, a.attcompression AS compression FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'sketch'
         WHERE c.relname IN ('rollups_hourly', 'rollups_daily') ORDER BY c.relname`,
      );
      const { rows: lz4 } = await client.query<{ available: boolean }>(`SELECT 'lz4' = ANY (enumvals) AS available FROM pg_settings WHERE name = 'default_toast_compression'`);
      await client.end();
      return { lz4: lz4[0]!.available, tables: rows.map((row) => `${row.relname} ${row.reloptions?.join(',') ?? '-'} ${row.compression || 'default'}`) };
    };
    const up = await settings();
    assert.deepEqual(up.tables, [`rollups_daily fillfactor=75 ${up.lz4 ? 'l' : 'default'}`, 'rollups_hourly fillfactor=75 default']);
    // A daily row with a busy day's sketch is stored compressed, and reads back whole.
    const org = (await createOrganization(pool, 'write-path-lz4')).id;
    const values = Array.from({ length: 3_000 }, (_, i) => 1 + i * 7.3);
    const events = values.map((value, i) => ({ id: `lz4-${i}`, type: 'order.created', occurredAt: new Date(Date.parse('2026-03-09T00:00:00Z') + i * 20_000).toISOString(), value, attributes: { channel: 'web' } }));
    for (let from = 0; from < events.length; from += 1_000) assert.equal((await ingestEvents(pool, org, events.slice(from, from + 1_000), options)).accepted, 1_000);
    const { rows } = await pool.query<{ method: string | null; sketch: SketchBins }>(`SELECT pg_column_compression(sketch) AS method, sketch FROM rollups_daily WHERE organization_id = $1`, [org]);
    assert.deepEqual(rows.map((row) => row.method), [up.lz4 ? 'lz4' : 'pglz']);
    assert.deepEqual(rows[0]!.sketch, binsFromValues(values));
    await pool.end();
    // Down to before 0240, whatever migrations other branches add after it.
    const count = readdirSync(MIGRATIONS_DIR).filter((name) => name.endsWith('.sql') && name >= MIGRATION).length;
    await runner({ databaseUrl: database.url, dir: MIGRATIONS_DIR, direction: 'down', migrationsTable: 'pgmigrations', count, log: () => undefined });
    assert.deepEqual((await settings()).tables, ['rollups_daily - default', 'rollups_hourly - default']);
    await migrateUp(database.url, silent);
    pool = createPool(database.url, 4, silent);
    assert.deepEqual((await settings()).tables, up.tables);
  });
});
