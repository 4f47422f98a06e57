import type { Pool, PoolClient } from '../db/pool.js';
import { SketchAccumulator } from './sketch.js';

/**
 * Keys (organization, event type) rewritten per transaction. Each key's rows
 * are rewritten whole in one transaction; a backfill of the 10M benchmark
 * (1,100 keys, 100k daily rows) takes many chunks, each a few MB of sketches.
 */
const CHUNK_KEYS = 64;

/**
 * Keys recorded before today, locked; keys the fold is recording right now are
 * skipped (SKIP LOCKED) and taken by the next run rather than waited for.
 */
const TAKE_DIRTY = `SELECT organization_id::text AS o, event_type AS t, day AS d FROM rollup_totals_cumulative_dirty
WHERE day < $2 ORDER BY organization_id, event_type LIMIT $1 FOR UPDATE SKIP LOCKED`;

/** Per key: the last cumulative row before its day (the base), then its daily rows from that day to yesterday. */
const READ_ROWS = `SELECT k.i, NULL::timestamptz AS bucket, c.count, c.sketch_text AS sketch
FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) WITH ORDINALITY AS k (o, t, d, i)
CROSS JOIN LATERAL (SELECT count, sketch_text FROM rollup_totals_cumulative
                    WHERE organization_id = k.o AND event_type = k.t AND bucket < k.d ORDER BY bucket DESC LIMIT 1) c
UNION ALL
SELECT k.i, d.bucket, d.count, d.sketch_text
FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) WITH ORDINALITY AS k (o, t, d, i)
JOIN rollup_totals_daily d ON d.organization_id = k.o AND d.event_type = k.t AND d.bucket >= k.d AND d.bucket < $4
ORDER BY 1, 2 NULLS FIRST`;

/** The keys' rows from their day to yesterday, replaced. */
const DELETE_ROWS = `DELETE FROM rollup_totals_cumulative c USING unnest($1::uuid[], $2::text[], $3::timestamptz[]) AS k (o, t, d)
WHERE c.organization_id = k.o AND c.event_type = k.t AND c.bucket >= k.d AND c.bucket < $4`;

const WRITE_ROWS = `INSERT INTO rollup_totals_cumulative (organization_id, event_type, bucket, count, sketch)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::bigint[], $5::jsonb[])`;

/**
 * Each key stays recorded at its first day from today on, if it has one: when
 * that day is over, its row gets its cumulative row (day rollover). The fold
 * records today's changes too, but only lowers a recorded day, so a key it
 * recorded at today while an older day was pending would otherwise be lost.
 */
const RECORD_NEXT = `WITH next AS (
  SELECT k.o, k.t, (SELECT min(bucket) FROM rollup_totals_daily WHERE organization_id = k.o AND event_type = k.t AND bucket >= $3) AS day
  FROM unnest($1::uuid[], $2::text[]) AS k (o, t)
), done AS (
  DELETE FROM rollup_totals_cumulative_dirty d USING next n WHERE d.organization_id = n.o AND d.event_type = n.t AND n.day IS NULL
)
UPDATE rollup_totals_cumulative_dirty d SET day = n.day FROM next n WHERE d.organization_id = n.o AND d.event_type = n.t AND n.day IS NOT NULL`;

export interface RefreshOptions {
  /** The current day (UTC midnight): by default the database's, as the fold and the readers see it. Tests move it. */
  today?: Date;
}

interface Key {
  o: string;
  t: string;
  d: Date;
}

/** bigint columns arrive as numbers (db/pool.ts): counts stay far below 2^53. */
interface DayRow {
  i: number;
  bucket: Date | null;
  count: number;
  sketch: string | null;
}

/**
 * Rewrites the cumulative daily sketches (migration 0200) of every key the
 * fold recorded as changed before today: from the recorded day on, each
 * day's row is the previous row plus that day's daily totals, count and bins,
 * merged here in Node. A key's rows are rewritten in one transaction, which
 * is what makes the readers' check exact (rollup_totals_prefix_rows()).
 * Returns the cumulative rows written, or -1 when another process holds the
 * rewrite.
 */
export async function refreshCumulativeSketches(pool: Pool, options: RefreshOptions = {}): Promise<number> {
  let written = 0;
  for (;;) {
    const chunk = await refreshChunk(pool, options);
    if (chunk.written < 0) return written > 0 ? written : -1;
    written += chunk.written;
    if (chunk.taken < CHUNK_KEYS) return written;
  }
}

async function refreshChunk(pool: Pool, options: RefreshOptions): Promise<{ taken: number; written: number }> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows: locked } = await client.query<{ locked: boolean; today: Date }>(
      "SELECT pg_try_advisory_xact_lock(hashtext('metrics-hub: rollup_totals_cumulative')) AS locked, date_trunc('day', now(), 'UTC') AS today",
    );
    if (!locked[0]!.locked) {
      await client.query('ROLLBACK');
      return { taken: 0, written: -1 };
    }
    const today = options.today ?? locked[0]!.today;
    const { rows: keys } = await client.query<Key>(TAKE_DIRTY, [CHUNK_KEYS, today]);
    const written = keys.length > 0 ? await rewrite(client, keys, today) : 0;
    await client.query('COMMIT');
    return { taken: keys.length, written };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

async function rewrite(client: PoolClient, keys: Key[], today: Date): Promise<number> {
  const columns = [keys.map((key) => key.o), keys.map((key) => key.t), keys.map((key) => key.d)];
  const { rows } = await client.query<DayRow>(READ_ROWS, [...columns, today]);
  const out = { o: [] as string[], t: [] as string[], bucket: [] as Date[], count: [] as number[], sketch: [] as Array<string | null> };
  const bins = new SketchAccumulator();
  let current = 0;
  let count = 0;
  let hasBins = false;
  for (const row of rows) {
    if (row.i !== current) {
      // Rows come per key, its base (if any) first.
      current = row.i;
      count = 0;
      hasBins = false;
      bins.clear();
    }
    count += row.count;
    if (row.sketch !== null) {
      bins.addJson(row.sketch);
      hasBins = true;
    }
    if (row.bucket === null) continue;
    const key = keys[row.i - 1]!;
    out.o.push(key.o);
    out.t.push(key.t);
    out.bucket.push(row.bucket);
    out.count.push(count);
    out.sketch.push(hasBins ? JSON.stringify(bins.toBins()) : null);
  }
  await client.query(DELETE_ROWS, [...columns, today]);
  if (out.o.length > 0) await client.query(WRITE_ROWS, [out.o, out.t, out.bucket, out.count, out.sketch]);
  await client.query(RECORD_NEXT, [...columns.slice(0, 2), today]);
  return out.o.length;
}
