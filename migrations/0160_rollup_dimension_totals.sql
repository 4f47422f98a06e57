-- Up Migration

-- Totals per dimension: one row per (organization, event type, dimension,
-- bucket, value) over every other dimension of the events, the single-
-- dimension group-bys and filters analysts build panels from ("orders by
-- channel", "p95 by bot", "channel = web"). The dimensioned rollups hold one
-- row per dimension *set* (channel x market, botId x status), so such a
-- question read and summed 2-20 rows per answer point; here it reads one.
-- Kept like the totals (migration 0014): ingestion appends to the pending
-- tables, a fold merges them, readers read both. An event without the
-- dimension has no row here: a group-by reader compares these rows' counts
-- with the totals' to know whether an empty-label series exists.
CREATE TABLE rollup_dimension_totals_hourly (
  organization_id uuid NOT NULL,
  event_type text NOT NULL,
  dimension text NOT NULL,
  bucket timestamptz NOT NULL,
  value text NOT NULL,
  count bigint NOT NULL,
  value_count bigint NOT NULL,
  sum double precision NOT NULL,
  min double precision,
  max double precision,
  sketch jsonb,
  -- Cheaper to send than jsonb (migration 0013).
  sketch_text text GENERATED ALWAYS AS (sketch::text) STORED,
  PRIMARY KEY (organization_id, event_type, dimension, bucket, value)
);

CREATE TABLE rollup_dimension_totals_daily (LIKE rollup_dimension_totals_hourly INCLUDING ALL);

CREATE TABLE rollup_dimension_totals_hourly_pending (LIKE rollup_dimension_totals_hourly INCLUDING GENERATED);
CREATE TABLE rollup_dimension_totals_daily_pending (LIKE rollup_dimension_totals_daily INCLUDING GENERATED);
CREATE INDEX rollup_dimension_totals_hourly_pending_key ON rollup_dimension_totals_hourly_pending (organization_id, event_type, dimension, bucket);
CREATE INDEX rollup_dimension_totals_daily_pending_key ON rollup_dimension_totals_daily_pending (organization_id, event_type, dimension, bucket);

-- Moves every pending row into the per-dimension totals, one merge per row;
-- -1 when another fold is running. As fold_rollup_totals(), one statement per
-- granularity, so a reader sees each row either pending or folded.
CREATE FUNCTION fold_dimension_totals() RETURNS bigint
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

-- Recomputes the per-dimension totals from the dimensioned rollups: the
-- backfill below, bulk loads (bench/query/generate.ts) and repairs. Sketches
-- are merged set-based (every bin of every row, summed per key), which is
-- many times faster than folding sketch_merge over millions of rows.
CREATE FUNCTION rebuild_dimension_totals() RETURNS void
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

SELECT rebuild_dimension_totals();

-- Down Migration
DROP FUNCTION rebuild_dimension_totals();
DROP FUNCTION fold_dimension_totals();
DROP TABLE rollup_dimension_totals_daily_pending;
DROP TABLE rollup_dimension_totals_hourly_pending;
DROP TABLE rollup_dimension_totals_daily;
DROP TABLE rollup_dimension_totals_hourly;
