import type { Pool, PoolClient } from '../db/pool.js';
import { BUCKET_MS } from './buckets.js';
import { DistinctAccumulator } from './distinct.js';

const DAY = BUCKET_MS.day;

/**
 * Levels of rollup_totals_distinct_blocks (migration 0150): a block of level k
 * holds the union of the daily distinct totals of 2^k days, from a multiple of
 * 2^k days since 1970-01-01 UTC. SQL's fold and rebuild use the same 1-8.
 */
export const BLOCK_LEVELS = 8;

/** Epoch ms of the first day of the level's block holding `day` (SQL's hll_block_start). */
export const blockStart = (day: number, level: number) => Math.floor(day / (DAY * 2 ** level)) * DAY * 2 ** level;

/** Day rows taken per transaction: a rebuild makes every daily row pending at once. */
const CHUNK_ROWS = 2_000;

/**
 * Takes the day rows the SQL fold left for the blocks, by organization, a
 * chunk per transaction. A multi-shard maintenance statement, like the SQL
 * folds it follows.
 */
const TAKE_PENDING = `DELETE FROM rollup_totals_distinct_blocks_pending
WHERE (organization_id, event_type, attribute, bucket) IN (
  SELECT organization_id, event_type, attribute, bucket FROM rollup_totals_distinct_blocks_pending ORDER BY 1, 2, 3, 4 LIMIT $1)
RETURNING organization_id::text AS o, event_type AS t, attribute AS a, extract(epoch FROM bucket)::float8 * 1000 AS b,
          array_send((sketch).sparse) AS sp, (sketch).dense AS dn`;

const READ_BLOCKS = `SELECT event_type AS t, attribute AS a, level AS l, extract(epoch FROM bucket)::float8 * 1000 AS b,
       array_send((sketch).sparse) AS sp, (sketch).dense AS dn
FROM rollup_totals_distinct_blocks
WHERE organization_id = $1::uuid AND (event_type, attribute, level, bucket) IN (SELECT * FROM unnest($2::text[], $3::text[], $4::int2[], $5::timestamptz[]))
FOR UPDATE`;

const WRITE_BLOCKS = `INSERT INTO rollup_totals_distinct_blocks AS r (organization_id, event_type, attribute, level, bucket, sketch)
SELECT $1::uuid, t, a, l, b, ROW(s::int4[], d)::hll
FROM unnest($2::text[], $3::text[], $4::int2[], $5::timestamptz[], $6::text[], $7::bytea[]) AS u (t, a, l, b, s, d)
ON CONFLICT (organization_id, event_type, attribute, level, bucket) DO UPDATE SET sketch = EXCLUDED.sketch`;

interface SketchRow {
  sp: Buffer | null;
  dn: Buffer | null;
}

interface Block {
  type: string;
  attribute: string;
  level: number;
  start: number;
  sketch: DistinctAccumulator;
}

function addRow(sketch: DistinctAccumulator, row: SketchRow): void {
  if (row.sp) sketch.addSparseBinary(row.sp);
  if (row.dn) sketch.addDense(row.dn);
}

/**
 * Folds the day rows the SQL fold appended (fold_distinct_totals(), migration
 * 0150) into every level's block: reads the blocks they touch, merges in Node
 * and writes the merged sketches back, in one transaction per chunk under an
 * advisory lock, so a reader sees each day in its pending row or in its
 * blocks, never in neither. Returns the blocks written, or -1 when another
 * process is folding them.
 */
export async function foldDistinctBlocks(pool: Pool): Promise<number> {
  let written = 0;
  for (;;) {
    const chunk = await foldChunk(pool);
    if (chunk.written < 0) return written > 0 ? written : -1;
    written += chunk.written;
    if (chunk.taken < CHUNK_ROWS) return written;
  }
}

async function foldChunk(pool: Pool): Promise<{ taken: number; written: number }> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows: locked } = await client.query<{ locked: boolean }>("SELECT pg_try_advisory_xact_lock(hashtext('metrics-hub: fold_distinct_blocks')) AS locked");
    if (!locked[0]!.locked) {
      await client.query('ROLLBACK');
      return { taken: 0, written: -1 };
    }
    const { rows } = await client.query<SketchRow & { o: string; t: string; a: string; b: number }>(TAKE_PENDING, [CHUNK_ROWS]);
    // Organization -> block key -> the block's new values.
    const byOrganization = new Map<string, Map<string, Block>>();
    for (const row of rows) {
      let blocks = byOrganization.get(row.o);
      if (!blocks) byOrganization.set(row.o, (blocks = new Map()));
      for (let level = 1; level <= BLOCK_LEVELS; level += 1) {
        const start = blockStart(row.b, level);
        const key = `${row.t}\u0000${row.a}\u0000${level}\u0000${start}`;
        let block = blocks.get(key);
        if (!block) blocks.set(key, (block = { type: row.t, attribute: row.a, level, start, sketch: new DistinctAccumulator() }));
        addRow(block.sketch, row);
      }
    }
    let written = 0;
    for (const [organization, blocks] of [...byOrganization].sort(([a], [b]) => a.localeCompare(b))) {
      written += await mergeInto(client, organization, [...blocks.values()]);
    }
    await client.query('COMMIT');
    return { taken: rows.length, written };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** Merges one organization's new values into its stored blocks and writes them back. */
async function mergeInto(client: PoolClient, organization: string, blocks: Block[]): Promise<number> {
  const keys = (list: Block[]) => [list.map((block) => block.type), list.map((block) => block.attribute), list.map((block) => block.level), list.map((block) => new Date(block.start))];
  const { rows } = await client.query<SketchRow & { t: string; a: string; l: number; b: number }>(READ_BLOCKS, [organization, ...keys(blocks)]);
  const byKey = new Map(blocks.map((block) => [`${block.type}\u0000${block.attribute}\u0000${block.level}\u0000${block.start}`, block]));
  for (const row of rows) addRow(byKey.get(`${row.t}\u0000${row.a}\u0000${row.l}\u0000${row.b}`)!.sketch, row);
  const stored = blocks.map((block) => block.sketch.toStored());
  await client.query(WRITE_BLOCKS, [
    organization,
    ...keys(blocks),
    stored.map((sketch) => (sketch.sparse ? `{${sketch.sparse.join(',')}}` : null)),
    stored.map((sketch) => (sketch.dense ? Buffer.from(sketch.dense.buffer, sketch.dense.byteOffset, sketch.dense.byteLength) : null)),
  ]);
  return blocks.length;
}
