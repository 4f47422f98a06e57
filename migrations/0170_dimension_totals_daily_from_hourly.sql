-- Up Migration

-- Cheaper ingestion of the per-dimension totals (migration 0160; bench/README.md,
-- issue 20, step 8). Two changes, same rows and answers:
--
-- 1. Batches append only hourly per-dimension rows. The daily rows summed the
--    same events per day (about 40 % of the appended rows); the fold now
--    derives them from the hourly pending rows it takes, in the same
--    statement, and readers see the pending day rows through a view of the
--    hourly pending ones with their bucket moved to the day's start (UTC, as
--    rollups/buckets.ts). A reader sees each pending row either pending or
--    folded, in both grains at once.
--
-- 2. The fold sums each key's pending sketches once, bin by bin (unnest,
--    jsonb_each_text, sum per bin, jsonb_object_agg), instead of one
--    sketch_merge per pending row, each copying the key's whole running
--    sketch (jsonb ||): a day's key gathers dozens of pending rows per fold
--    into a sketch of around a hundred bins. A key with one pending sketch
--    keeps it as it is. Bin counts are whole numbers summed as numeric and
--    jsonb orders its keys, so the sketches are the same as sketch_merge's.
--    The merge into an already folded row is unchanged (sketch_merge).

-- Rows batches appended before this migration are folded first, as the old fold did, both grains: a pending hourly
-- row left behind is already counted in a daily row (pending or folded), and the new fold would count it again.
LOCK TABLE rollup_dimension_totals_hourly_pending, rollup_dimension_totals_daily_pending IN ACCESS EXCLUSIVE MODE;
DO $$
DECLARE
  grain text;
BEGIN
  FOREACH grain IN ARRAY ARRAY['hourly', 'daily'] LOOP
    EXECUTE format($fold$
      WITH moved AS (
        DELETE FROM %1$I
        RETURNING organization_id, event_type, dimension, bucket, value, count, value_count, sum, min, max, sketch
      )
      INSERT INTO %2$I AS r (organization_id, event_type, dimension, bucket, value, count, value_count, sum, min, max, sketch)
      SELECT organization_id, event_type, dimension, bucket, value, sum(count), sum(value_count), sum(sum), min(min), max(max), sketch_merge_agg(sketch)
      FROM moved GROUP BY organization_id, event_type, dimension, bucket, value
      ORDER BY organization_id, event_type, dimension, bucket, value
      ON CONFLICT (organization_id, event_type, dimension, bucket, value) DO UPDATE SET
        count = r.count + EXCLUDED.count,
        value_count = r.value_count + EXCLUDED.value_count,
        sum = r.sum + EXCLUDED.sum,
        min = LEAST(r.min, EXCLUDED.min),
        max = GREATEST(r.max, EXCLUDED.max),
        sketch = sketch_merge(r.sketch, EXCLUDED.sketch)
    $fold$, 'rollup_dimension_totals_' || grain || '_pending', 'rollup_dimension_totals_' || grain);
  END LOOP;
END
$$;
DROP TABLE rollup_dimension_totals_daily_pending;

-- What readers read as the pending day rows: the same columns as the folded daily table.
CREATE VIEW rollup_dimension_totals_daily_pending AS
SELECT organization_id, event_type, dimension, date_bin('1 day', bucket, TIMESTAMPTZ '1970-01-01 00:00:00+00') AS bucket, value,
       count, value_count, sum, min, max, sketch, sketch_text
FROM rollup_dimension_totals_hourly_pending;

-- Moves every pending hourly row into the hourly and the daily per-dimension
-- totals, in one statement; -1 when another fold is running. work_mem: the
-- grouping holds one fold's pending sketches (tens of MB in the benchmark's
-- 30-second folds of 4 writers) and spilled to disk at the default 4 MB.
CREATE OR REPLACE FUNCTION fold_dimension_totals() RETURNS bigint
LANGUAGE plpgsql SET work_mem = '64MB' AS $$
DECLARE
  folded bigint;
BEGIN
  IF NOT pg_try_advisory_xact_lock(hashtext('metrics-hub: fold_dimension_totals')) THEN
    RETURN -1;
  END IF;
  WITH moved AS (
    DELETE FROM rollup_dimension_totals_hourly_pending
    RETURNING organization_id, event_type, dimension, bucket, value, count, value_count, sum, min, max, sketch
  ), hours AS (
    -- Each key's pending sketches summed bin by bin; a single one is kept as it is. (Inline: a function call per
    -- row cost more than the sums.)
    SELECT organization_id, event_type, dimension, bucket, value, count, value_count, sum, min, max,
           CASE WHEN sketches IS NULL THEN NULL
                WHEN cardinality(sketches) = 1 THEN sketches[1]
                ELSE (SELECT coalesce(jsonb_object_agg(bin, n), '{}')
                      FROM (SELECT b.key AS bin, sum(b.value::numeric) AS n
                            FROM unnest(sketches) s CROSS JOIN LATERAL jsonb_each_text(s) b GROUP BY b.key) bins)
           END AS sketch
    FROM (
      SELECT organization_id, event_type, dimension, bucket, value, sum(count) AS count, sum(value_count) AS value_count,
             sum(sum) AS sum, min(min) AS min, max(max) AS max, array_agg(sketch) FILTER (WHERE sketch IS NOT NULL) AS sketches
      FROM moved GROUP BY organization_id, event_type, dimension, bucket, value
    ) keyed
  ), days AS (
    -- The day rows from the hour rows just summed: fewer sketches, with fewer bins, than the pending rows.
    SELECT organization_id, event_type, dimension, date_bin('1 day', bucket, TIMESTAMPTZ '1970-01-01 00:00:00+00') AS bucket, value,
           sum(count) AS count, sum(value_count) AS value_count, sum(sum) AS sum, min(min) AS min, max(max) AS max,
           array_agg(sketch) FILTER (WHERE sketch IS NOT NULL) AS sketches
    FROM hours GROUP BY 1, 2, 3, 4, 5
  ), hourly AS (
    INSERT INTO rollup_dimension_totals_hourly AS r (organization_id, event_type, dimension, bucket, value, count, value_count, sum, min, max, sketch)
    SELECT organization_id, event_type, dimension, bucket, value, count, value_count, sum, min, max, sketch
    FROM hours ORDER BY organization_id, event_type, dimension, bucket, value
    ON CONFLICT (organization_id, event_type, dimension, bucket, value) DO UPDATE SET
      count = r.count + EXCLUDED.count,
      value_count = r.value_count + EXCLUDED.value_count,
      sum = r.sum + EXCLUDED.sum,
      min = LEAST(r.min, EXCLUDED.min),
      max = GREATEST(r.max, EXCLUDED.max),
      sketch = sketch_merge(r.sketch, EXCLUDED.sketch)
    RETURNING 1
  ), daily AS (
    INSERT INTO rollup_dimension_totals_daily AS r (organization_id, event_type, dimension, bucket, value, count, value_count, sum, min, max, sketch)
    SELECT organization_id, event_type, dimension, bucket, value, count, value_count, sum, min, max,
           CASE WHEN sketches IS NULL THEN NULL
                WHEN cardinality(sketches) = 1 THEN sketches[1]
                ELSE (SELECT coalesce(jsonb_object_agg(bin, n), '{}')
                      FROM (SELECT b.key AS bin, sum(b.value::numeric) AS n
                            FROM unnest(sketches) s CROSS JOIN LATERAL jsonb_each_text(s) b GROUP BY b.key) bins)
           END
    FROM days ORDER BY organization_id, event_type, dimension, bucket, value
    ON CONFLICT (organization_id, event_type, dimension, bucket, value) DO UPDATE SET
      count = r.count + EXCLUDED.count,
      value_count = r.value_count + EXCLUDED.value_count,
      sum = r.sum + EXCLUDED.sum,
      min = LEAST(r.min, EXCLUDED.min),
      max = GREATEST(r.max, EXCLUDED.max),
      sketch = sketch_merge(r.sketch, EXCLUDED.sketch)
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM hourly) + (SELECT count(*) FROM daily) INTO folded;
  RETURN folded;
END
$$;

-- As in 0160, without the daily pending table (a view now).
CREATE OR REPLACE FUNCTION rebuild_dimension_totals() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  grain text;
BEGIN
  LOCK TABLE rollups_hourly, rollups_daily, rollup_dimension_totals_hourly, rollup_dimension_totals_daily,
             rollup_dimension_totals_hourly_pending IN EXCLUSIVE MODE;
  TRUNCATE rollup_dimension_totals_hourly, rollup_dimension_totals_daily, rollup_dimension_totals_hourly_pending;
  FOREACH grain IN ARRAY ARRAY['hourly', 'daily'] LOOP
    EXECUTE format($rebuild$
      INSERT INTO %1$I (organization_id, event_type, dimension, bucket, value, count, value_count, sum, min, max, sketch)
      SELECT s.organization_id, s.event_type, s.dimension, s.bucket, s.value, s.count, s.value_count, s.sum, s.min, s.max, b.sketch
      FROM (
        SELECT r.organization_id, r.event_type, d.key AS dimension, r.bucket, d.value,
               sum(r.count) AS count, sum(r.value_count) AS value_count, sum(r.sum) AS sum, min(r.min) AS min, max(r.max) AS max
        FROM %2$I r CROSS JOIN LATERAL jsonb_each_text(r.dims) d
        GROUP BY 1, 2, 3, 4, 5
      ) s
      LEFT JOIN (
        SELECT organization_id, event_type, dimension, bucket, value, jsonb_object_agg(bin, n) AS sketch
        FROM (
          SELECT r.organization_id, r.event_type, d.key AS dimension, r.bucket, d.value, k.key AS bin, sum(k.value::numeric) AS n
          FROM %2$I r CROSS JOIN LATERAL jsonb_each_text(r.dims) d CROSS JOIN LATERAL jsonb_each_text(r.sketch) k
          WHERE r.sketch IS NOT NULL
          GROUP BY 1, 2, 3, 4, 5, 6
        ) bins
        GROUP BY 1, 2, 3, 4, 5
      ) b USING (organization_id, event_type, dimension, bucket, value)
    $rebuild$, 'rollup_dimension_totals_' || grain, 'rollups_' || grain);
  END LOOP;
END
$$;

-- Down Migration
-- The pending day rows the view shows become rows of the table again, before the hourly ones lose their day.
CREATE TABLE rollup_dimension_totals_daily_pending_restored (LIKE rollup_dimension_totals_daily INCLUDING GENERATED);
INSERT INTO rollup_dimension_totals_daily_pending_restored (organization_id, event_type, dimension, bucket, value, count, value_count, sum, min, max, sketch)
SELECT organization_id, event_type, dimension, bucket, value, count, value_count, sum, min, max, sketch FROM rollup_dimension_totals_daily_pending;
DROP VIEW rollup_dimension_totals_daily_pending;
ALTER TABLE rollup_dimension_totals_daily_pending_restored RENAME TO rollup_dimension_totals_daily_pending;
CREATE INDEX rollup_dimension_totals_daily_pending_key ON rollup_dimension_totals_daily_pending (organization_id, event_type, dimension, bucket);

CREATE OR REPLACE FUNCTION fold_dimension_totals() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  folded bigint := 0;
  changed bigint;
  grain text;
BEGIN
  IF NOT pg_try_advisory_xact_lock(hashtext('metrics-hub: fold_dimension_totals')) THEN
    RETURN -1;
  END IF;
  FOREACH grain IN ARRAY ARRAY['hourly', 'daily'] LOOP
    EXECUTE format($fold$
      WITH moved AS (
        DELETE FROM %1$I
        RETURNING organization_id, event_type, dimension, bucket, value, count, value_count, sum, min, max, sketch
      )
      INSERT INTO %2$I AS r (organization_id, event_type, dimension, bucket, value, count, value_count, sum, min, max, sketch)
      SELECT organization_id, event_type, dimension, bucket, value, sum(count), sum(value_count), sum(sum), min(min), max(max), sketch_merge_agg(sketch)
      FROM moved GROUP BY organization_id, event_type, dimension, bucket, value
      ORDER BY organization_id, event_type, dimension, bucket, value
      ON CONFLICT (organization_id, event_type, dimension, bucket, value) DO UPDATE SET
        count = r.count + EXCLUDED.count,
        value_count = r.value_count + EXCLUDED.value_count,
        sum = r.sum + EXCLUDED.sum,
        min = LEAST(r.min, EXCLUDED.min),
        max = GREATEST(r.max, EXCLUDED.max),
        sketch = sketch_merge(r.sketch, EXCLUDED.sketch)
    $fold$, 'rollup_dimension_totals_' || grain || '_pending', 'rollup_dimension_totals_' || grain);
    GET DIAGNOSTICS changed = ROW_COUNT;
    folded := folded + changed;
  END LOOP;
  RETURN folded;
END
$$;

CREATE OR REPLACE FUNCTION rebuild_dimension_totals() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  grain text;
BEGIN
  LOCK TABLE rollups_hourly, rollups_daily, rollup_dimension_totals_hourly, rollup_dimension_totals_daily,
             rollup_dimension_totals_hourly_pending, rollup_dimension_totals_daily_pending IN EXCLUSIVE MODE;
  TRUNCATE rollup_dimension_totals_hourly, rollup_dimension_totals_daily,
           rollup_dimension_totals_hourly_pending, rollup_dimension_totals_daily_pending;
  FOREACH grain IN ARRAY ARRAY['hourly', 'daily'] LOOP
    EXECUTE format($rebuild$
      INSERT INTO %1$I (organization_id, event_type, dimension, bucket, value, count, value_count, sum, min, max, sketch)
      SELECT s.organization_id, s.event_type, s.dimension, s.bucket, s.value, s.count, s.value_count, s.sum, s.min, s.max, b.sketch
      FROM (
        SELECT r.organization_id, r.event_type, d.key AS dimension, r.bucket, d.value,
               sum(r.count) AS count, sum(r.value_count) AS value_count, sum(r.sum) AS sum, min(r.min) AS min, max(r.max) AS max
        FROM %2$I r CROSS JOIN LATERAL jsonb_each_text(r.dims) d
        GROUP BY 1, 2, 3, 4, 5
      ) s
      LEFT JOIN (
        SELECT organization_id, event_type, dimension, bucket, value, jsonb_object_agg(bin, n) AS sketch
        FROM (
          SELECT r.organization_id, r.event_type, d.key AS dimension, r.bucket, d.value, k.key AS bin, sum(k.value::numeric) AS n
          FROM %2$I r CROSS JOIN LATERAL jsonb_each_text(r.dims) d CROSS JOIN LATERAL jsonb_each_text(r.sketch) k
          WHERE r.sketch IS NOT NULL
          GROUP BY 1, 2, 3, 4, 5, 6
        ) bins
        GROUP BY 1, 2, 3, 4, 5
      ) b USING (organization_id, event_type, dimension, bucket, value)
    $rebuild$, 'rollup_dimension_totals_' || grain, 'rollups_' || grain);
  END LOOP;
END
$$;
