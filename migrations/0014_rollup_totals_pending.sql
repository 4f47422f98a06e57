-- Up Migration

-- Ingestion no longer upserts the totals rows: every batch of an organization
-- touches the same few (organization, type, hour/day) rows, and merging a
-- batch's bins into a day's sketch of hundreds of bins cost more than all the
-- dimensioned upserts of the batch together. Batches append their totals here
-- instead (insert only: no row lock, no merge), and a job folds these rows into
-- the totals every few seconds, one merge per row per fold. Readers read
-- totals and pending rows in one statement, so they see every accepted event.
CREATE TABLE rollup_totals_hourly_pending (LIKE rollup_totals_hourly INCLUDING GENERATED);
CREATE TABLE rollup_totals_daily_pending (LIKE rollup_totals_daily INCLUDING GENERATED);
CREATE INDEX rollup_totals_hourly_pending_key ON rollup_totals_hourly_pending (organization_id, event_type, bucket);
CREATE INDEX rollup_totals_daily_pending_key ON rollup_totals_daily_pending (organization_id, event_type, bucket);

-- Moves every pending row into the totals, one merge per totals row; returns
-- how many totals rows changed, or -1 when another fold is running (two would
-- upsert the same rows in different orders). One statement per granularity:
-- a reader sees each row either pending or folded, never both or neither.
CREATE FUNCTION fold_rollup_totals() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  folded bigint := 0;
  changed bigint;
  grain text;
BEGIN
  IF NOT pg_try_advisory_xact_lock(hashtext('metrics-hub: fold_rollup_totals')) THEN
    RETURN -1;
  END IF;
  FOREACH grain IN ARRAY ARRAY['hourly', 'daily'] LOOP
    EXECUTE format($fold$
      WITH moved AS (
        DELETE FROM %1$I
        RETURNING organization_id, event_type, bucket, count, value_count, sum, min, max, sketch
      )
      INSERT INTO %2$I AS r (organization_id, event_type, bucket, count, value_count, sum, min, max, sketch)
      SELECT organization_id, event_type, bucket, sum(count), sum(value_count), sum(sum), min(min), max(max), sketch_merge_agg(sketch)
      FROM moved GROUP BY organization_id, event_type, bucket ORDER BY organization_id, event_type, bucket
      ON CONFLICT (organization_id, event_type, bucket) DO UPDATE SET
        count = r.count + EXCLUDED.count,
        value_count = r.value_count + EXCLUDED.value_count,
        sum = r.sum + EXCLUDED.sum,
        min = LEAST(r.min, EXCLUDED.min),
        max = GREATEST(r.max, EXCLUDED.max),
        sketch = sketch_merge(r.sketch, EXCLUDED.sketch)
    $fold$, 'rollup_totals_' || grain || '_pending', 'rollup_totals_' || grain);
    GET DIAGNOSTICS changed = ROW_COUNT;
    folded := folded + changed;
  END LOOP;
  RETURN folded;
END
$$;

-- A rebuild from the dimensioned rows already counts what is pending.
CREATE OR REPLACE FUNCTION rebuild_rollup_totals() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  grain text;
BEGIN
  LOCK TABLE rollups_hourly, rollups_daily, rollup_totals_hourly, rollup_totals_daily,
             rollup_totals_hourly_pending, rollup_totals_daily_pending IN EXCLUSIVE MODE;
  TRUNCATE rollup_totals_hourly, rollup_totals_daily, rollup_totals_hourly_pending, rollup_totals_daily_pending;
  FOREACH grain IN ARRAY ARRAY['hourly', 'daily'] LOOP
    EXECUTE format($rebuild$
      INSERT INTO %1$I (organization_id, event_type, bucket, count, value_count, sum, min, max, sketch)
      SELECT organization_id, event_type, bucket, sum(count), sum(value_count), sum(sum), min(min), max(max), sketch_merge_agg(sketch)
      FROM %2$I GROUP BY organization_id, event_type, bucket
    $rebuild$, 'rollup_totals_' || grain, 'rollups_' || grain);
  END LOOP;
END
$$;

-- Down Migration
SELECT fold_rollup_totals();
DROP FUNCTION fold_rollup_totals();
CREATE OR REPLACE FUNCTION rebuild_rollup_totals() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  LOCK TABLE rollups_hourly, rollups_daily, rollup_totals_hourly, rollup_totals_daily IN EXCLUSIVE MODE;
  TRUNCATE rollup_totals_hourly, rollup_totals_daily;
  INSERT INTO rollup_totals_hourly (organization_id, event_type, bucket, count, value_count, sum, min, max, sketch)
  SELECT organization_id, event_type, bucket, sum(count), sum(value_count), sum(sum), min(min), max(max), sketch_merge_agg(sketch)
  FROM rollups_hourly GROUP BY organization_id, event_type, bucket;
  INSERT INTO rollup_totals_daily (organization_id, event_type, bucket, count, value_count, sum, min, max, sketch)
  SELECT organization_id, event_type, bucket, sum(count), sum(value_count), sum(sum), min(min), max(max), sketch_merge_agg(sketch)
  FROM rollups_daily GROUP BY organization_id, event_type, bucket;
END
$$;
DROP TABLE rollup_totals_daily_pending;
DROP TABLE rollup_totals_hourly_pending;
