import pg from 'pg';
import { migrateUp } from '../../backend/src/db/migrate.js';
import { createLogger } from '../../backend/src/logger.js';
import { DistinctAccumulator } from '../../backend/src/rollups/distinct.js';
import { createTestDatabase } from '../../backend/test/support/databases.js';

/**
 * Cost per call of merging a batch's small sketch into a stored sparse one,
 * as ingestion's upserts do: hll_union (migration 0100: appends the new
 * entries) against the merge of migration 0020 (re-sorts the whole sketch),
 * same database, same moment. A table of 2,000 rows per size, so each call
 * reads its stored sketch as an upsert does (an immutable function of
 * constants would be evaluated once).
 *
 *   DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/postgres node --import tsx bench/ingest/distinct-union.ts
 */
const ROWS = 2_000;
const SIZES = [10, 100, 1_000, 5_000];

const sparseOf = (from: number, to: number) => {
  const sketch = new DistinctAccumulator();
  for (let index = from; index < to; index += 1) sketch.addValue(`contact-${index}`);
  return `{${sketch.toStored().sparse!.join(',')}}`;
};

process.env.DATABASE_URL ??= 'postgres://postgres:postgres@127.0.0.1:5432/postgres';
const database = await createTestDatabase('bench_distinct_union');
try {
  await migrateUp(database.url, createLogger('silent'));
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    // Migration 0020's hll_union, under another name.
    await client.query(`CREATE FUNCTION hll_union_0020(a hll, b hll) RETURNS hll LANGUAGE sql IMMUTABLE AS $$ SELECT hll_normalize(hll_accumulate(a, b)) $$`);
    console.log('| stored entries | batch | hll_union of 0020, µs per call | hll_union (0100), µs per call |');
    console.log('|---:|---|---:|---:|');
    for (const size of SIZES) {
      // A batch of 3 values: the last one of the stored sketch and 2 new ones.
      await client.query('DROP TABLE IF EXISTS pairs');
      await client.query(`CREATE TABLE pairs AS SELECT ROW($1::int4[], NULL)::hll AS stored, ROW($2::int4[], NULL)::hll AS batch FROM generate_series(1, ${ROWS})`, [sparseOf(0, size), sparseOf(size - 1, size + 2)]);
      const perCall = async (fn: string) => {
        const started = performance.now();
        const { rows } = await client.query<{ entries: number }>(`SELECT sum(cardinality((${fn}(stored, batch)).sparse))::int AS entries FROM pairs`);
        // The stored entries plus the new ones (one fewer when two values share a sparse index).
        if (Math.abs(rows[0]!.entries / ROWS - (size + 2)) > 1) throw new Error(`${fn}: ${rows[0]!.entries / ROWS} entries per row, expected about ${size + 2}`);
        return ((performance.now() - started) / ROWS) * 1000;
      };
      console.log(`| ${size} | 3 values, 2 new | ${(await perCall('hll_union_0020')).toFixed(1)} | ${(await perCall('hll_union')).toFixed(1)} |`);
    }
  } finally {
    await client.end();
  }
} finally {
  await database.drop();
}
