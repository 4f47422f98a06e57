-- Up Migration

-- Distinct totals over aligned blocks of days, so that a long range merges a
-- few sketches instead of one per day (migration 0020 for the format).
--
-- A 30-day unique_contacts answer used to read 29 daily totals sketches (plus
-- the ragged hours at its edges), each of up to 6,000 sparse entries: about
-- 150,000 entries per answer at 10M events, sent and merged one by one. A
-- block of level k holds the union of the daily totals of 2^k days, starting
-- on a multiple of 2^k days since 1970-01-01 (UTC): the dyadic blocks of a
-- segment tree. Any run of whole days is the disjoint union of at most two
-- blocks per level (the reader, backend/src/sources/adapters/events-distinct.ts,
-- takes the largest aligned block that fits from the left, as a segment tree
-- does), so a 30-day answer reads 5-8 sketches instead of 29, most of them
-- dense (32 KiB, merged by a register maximum, no sort).
--
-- A block's sketch is the sketch of the union of its days, so under the same
-- sparse/dense rule (dense past 6,000 entries) a merge of blocks is exactly the
-- merge of their days: the answers do not change, only what they read.
--
-- Level 0 is the daily totals table itself; levels 1-8 (2 to 256 days) live
-- here. The SQL fold that moves pending daily totals into
-- rollup_totals_distinct_daily also appends the same rows, in the same
-- statement, to rollup_totals_distinct_blocks_pending; the block fold
-- (backend/src/rollups/distinct-blocks.ts, right after it in the same job)
-- merges those into the blocks in Node and writes the merged sketches back, in
-- one transaction. Raising 32 KiB of dense registers in SQL cost 10-20 µs per
-- value and turned the fold into most of what distinct metrics cost ingestion;
-- Node does the same merge in well under a microsecond per value. Readers read
-- the blocks of a range and the pending block rows of its days: a union is
-- idempotent, so a day counted twice (in its pending row and in a block) is
-- counted once, and a reader's snapshot never misses a value.
--
-- Stored blocks are in the normal form of 0020 (sorted sparse entries, or dense).
CREATE TABLE rollup_totals_distinct_blocks (
  organization_id uuid NOT NULL,
  event_type text NOT NULL,
  attribute text NOT NULL,
  -- The block covers 2^level days from bucket.
  level smallint NOT NULL CHECK (level BETWEEN 1 AND 8),
  bucket timestamptz NOT NULL,
  sketch hll NOT NULL,
  PRIMARY KEY (organization_id, event_type, attribute, level, bucket)
);
-- Stored uncompressed: most blocks of a large organization are dense, and
-- decompressing 32 KiB per block (pglz gets them to 7-10 kB) was a third of
-- PostgreSQL's CPU per 30-day answer; sparse entries are random and do not
-- compress anyway.
ALTER TABLE rollup_totals_distinct_blocks ALTER COLUMN sketch SET STORAGE EXTERNAL;
-- Day rows (bucket = the day) folded into the daily totals and not yet into the blocks.
CREATE TABLE rollup_totals_distinct_blocks_pending (LIKE rollup_totals_distinct_daily_pending);
CREATE INDEX rollup_totals_distinct_blocks_pending_key ON rollup_totals_distinct_blocks_pending (organization_id, event_type, attribute, bucket);

-- The first day of the level's block holding `day` (a day bucket, UTC midnight).
CREATE FUNCTION hll_block_start(day timestamptz, level int) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT to_timestamp(floor(extract(epoch FROM day) / (86400::bigint << level)) * (86400::bigint << level))
$$;

-- As in 0020, with the daily rows also appended to the blocks' pending rows.
CREATE OR REPLACE FUNCTION fold_distinct_totals() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  folded bigint := 0;
  changed bigint;
BEGIN
  IF NOT pg_try_advisory_xact_lock(hashtext('metrics-hub: fold_distinct_totals')) THEN
    RETURN -1;
  END IF;
  WITH moved AS (
    DELETE FROM rollup_totals_distinct_hourly_pending RETURNING organization_id, event_type, attribute, bucket, sketch
  )
  INSERT INTO rollup_totals_distinct_hourly AS r (organization_id, event_type, attribute, bucket, sketch)
  SELECT organization_id, event_type, attribute, bucket, hll_union_agg(sketch)
  FROM moved GROUP BY organization_id, event_type, attribute, bucket ORDER BY organization_id, event_type, attribute, bucket
  ON CONFLICT (organization_id, event_type, attribute, bucket) DO UPDATE SET sketch = hll_union(r.sketch, EXCLUDED.sketch);
  GET DIAGNOSTICS changed = ROW_COUNT;
  folded := folded + changed;

  WITH moved AS (
    DELETE FROM rollup_totals_distinct_daily_pending RETURNING organization_id, event_type, attribute, bucket, sketch
  ), days AS (
    SELECT organization_id, event_type, attribute, bucket, hll_union_agg(sketch) AS sketch
    FROM moved GROUP BY organization_id, event_type, attribute, bucket
  ), for_blocks AS (
    INSERT INTO rollup_totals_distinct_blocks_pending SELECT * FROM days
  )
  INSERT INTO rollup_totals_distinct_daily AS r (organization_id, event_type, attribute, bucket, sketch)
  SELECT * FROM days ORDER BY organization_id, event_type, attribute, bucket
  ON CONFLICT (organization_id, event_type, attribute, bucket) DO UPDATE SET sketch = hll_union(r.sketch, EXCLUDED.sketch);
  GET DIAGNOSTICS changed = ROW_COUNT;
  folded := folded + changed;
  RETURN folded;
END
$$;

-- Recomputes the blocks from the daily totals (a repair step, and once for the
-- data this migration finds): every daily row becomes pending for the blocks,
-- and the next block fold (within 5 s on a running server) builds them in Node.
-- Until then readers read those day rows, so answers stay exact, only slower.
CREATE FUNCTION rebuild_distinct_blocks() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  LOCK TABLE rollup_totals_distinct_daily, rollup_totals_distinct_blocks, rollup_totals_distinct_blocks_pending IN EXCLUSIVE MODE;
  TRUNCATE rollup_totals_distinct_blocks, rollup_totals_distinct_blocks_pending;
  INSERT INTO rollup_totals_distinct_blocks_pending (organization_id, event_type, attribute, bucket, sketch)
  SELECT organization_id, event_type, attribute, bucket, sketch FROM rollup_totals_distinct_daily;
END
$$;

CREATE OR REPLACE FUNCTION rebuild_distinct_totals() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  LOCK TABLE rollups_distinct_hourly, rollups_distinct_daily, rollup_totals_distinct_hourly, rollup_totals_distinct_daily,
             rollup_totals_distinct_hourly_pending, rollup_totals_distinct_daily_pending IN EXCLUSIVE MODE;
  TRUNCATE rollup_totals_distinct_hourly, rollup_totals_distinct_daily, rollup_totals_distinct_hourly_pending, rollup_totals_distinct_daily_pending;
  INSERT INTO rollup_totals_distinct_hourly (organization_id, event_type, attribute, bucket, sketch)
  SELECT organization_id, event_type, attribute, bucket, hll_union_agg(sketch) FROM rollups_distinct_hourly GROUP BY 1, 2, 3, 4;
  INSERT INTO rollup_totals_distinct_daily (organization_id, event_type, attribute, bucket, sketch)
  SELECT organization_id, event_type, attribute, bucket, hll_union_agg(sketch) FROM rollups_distinct_daily GROUP BY 1, 2, 3, 4;
  PERFORM rebuild_distinct_blocks();
END
$$;

SELECT rebuild_distinct_blocks();

-- Down Migration
CREATE OR REPLACE FUNCTION rebuild_distinct_totals() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  LOCK TABLE rollups_distinct_hourly, rollups_distinct_daily, rollup_totals_distinct_hourly, rollup_totals_distinct_daily,
             rollup_totals_distinct_hourly_pending, rollup_totals_distinct_daily_pending IN EXCLUSIVE MODE;
  TRUNCATE rollup_totals_distinct_hourly, rollup_totals_distinct_daily, rollup_totals_distinct_hourly_pending, rollup_totals_distinct_daily_pending;
  INSERT INTO rollup_totals_distinct_hourly (organization_id, event_type, attribute, bucket, sketch)
  SELECT organization_id, event_type, attribute, bucket, hll_union_agg(sketch) FROM rollups_distinct_hourly GROUP BY 1, 2, 3, 4;
  INSERT INTO rollup_totals_distinct_daily (organization_id, event_type, attribute, bucket, sketch)
  SELECT organization_id, event_type, attribute, bucket, hll_union_agg(sketch) FROM rollups_distinct_daily GROUP BY 1, 2, 3, 4;
END
$$;
CREATE OR REPLACE FUNCTION fold_distinct_totals() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  folded bigint := 0;
  changed bigint;
  grain text;
BEGIN
  IF NOT pg_try_advisory_xact_lock(hashtext('metrics-hub: fold_distinct_totals')) THEN
    RETURN -1;
  END IF;
  FOREACH grain IN ARRAY ARRAY['hourly', 'daily'] LOOP
    EXECUTE format($fold$
      WITH moved AS (
        DELETE FROM %1$I RETURNING organization_id, event_type, attribute, bucket, sketch
      )
      INSERT INTO %2$I AS r (organization_id, event_type, attribute, bucket, sketch)
      SELECT organization_id, event_type, attribute, bucket, hll_union_agg(sketch)
      FROM moved GROUP BY organization_id, event_type, attribute, bucket ORDER BY organization_id, event_type, attribute, bucket
      ON CONFLICT (organization_id, event_type, attribute, bucket) DO UPDATE SET sketch = hll_union(r.sketch, EXCLUDED.sketch)
    $fold$, 'rollup_totals_distinct_' || grain || '_pending', 'rollup_totals_distinct_' || grain);
    GET DIAGNOSTICS changed = ROW_COUNT;
    folded := folded + changed;
  END LOOP;
  RETURN folded;
END
$$;
DROP FUNCTION rebuild_distinct_blocks();
DROP FUNCTION hll_block_start(timestamptz, int);
DROP TABLE rollup_totals_distinct_blocks_pending;
DROP TABLE rollup_totals_distinct_blocks;
