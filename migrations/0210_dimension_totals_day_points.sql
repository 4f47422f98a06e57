-- Up Migration

-- Each daily per-dimension row also holds the `quantile_points` of its day's
-- hourly rows, in hour order, one text ("<hour> <p50> <p90> <p95> <p99>
-- <hour> ..."; migration 0180): an hourly percentile grouped by one dimension
-- (the 30-day hourly p95 by bot: 3,600 points) reads one row per whole day
-- and value (150) instead of one per hour (3,600), in the same packed form
-- (bench/README.md, issue 20, step 14).
--
-- `hour_points_count` is the sum of those hourly rows' counts when the text
-- was made; a reader uses the text only while it equals the daily row's own
-- count, so a daily row changed without its text (a write that bypasses the
-- fold) is read hour by hour, as before. `hour_points` is NULL when an hour
-- with a sketch has no points (the reader then reads that day hour by hour:
-- their points, or sketches), and both are NULL on a row without a sketch.
-- Kept by the fold, for the days it touched, and by the rebuild.
ALTER TABLE rollup_dimension_totals_daily
  ADD COLUMN hour_points text,
  ADD COLUMN hour_points_count bigint;

-- The points and count of every daily row with a sketch, from the hourly rows. The fold calls it with the days it
-- touched (one index range per day); the rebuild and this migration with NULL: every row, in one pass.
CREATE FUNCTION refresh_dimension_day_points(orgs uuid[], types text[], dims text[], days timestamptz[], vals text[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF orgs IS NULL THEN
    UPDATE rollup_dimension_totals_daily d SET hour_points = p.points, hour_points_count = p.counted
    FROM (
      SELECT organization_id, event_type, dimension, date_bin('1 day', bucket, TIMESTAMPTZ '1970-01-01 00:00:00+00') AS day, value,
             CASE WHEN bool_and(quantile_points IS NOT NULL OR sketch IS NULL) THEN string_agg(quantile_points, ' ' ORDER BY bucket) END AS points,
             sum(count) AS counted
      FROM rollup_dimension_totals_hourly GROUP BY 1, 2, 3, 4, 5
    ) p
    WHERE d.sketch IS NOT NULL AND d.organization_id = p.organization_id AND d.event_type = p.event_type
      AND d.dimension = p.dimension AND d.bucket = p.day AND d.value = p.value;
    RETURN;
  END IF;
  UPDATE rollup_dimension_totals_daily d SET hour_points = p.points, hour_points_count = p.counted
  FROM unnest(orgs, types, dims, days, vals) AS t(organization_id, event_type, dimension, day, value)
  CROSS JOIN LATERAL (
    SELECT CASE WHEN bool_and(h.quantile_points IS NOT NULL OR h.sketch IS NULL) THEN string_agg(h.quantile_points, ' ' ORDER BY h.bucket) END AS points,
           sum(h.count) AS counted
    FROM rollup_dimension_totals_hourly h
    WHERE h.organization_id = t.organization_id AND h.event_type = t.event_type AND h.dimension = t.dimension
      AND h.bucket >= t.day AND h.bucket < t.day + interval '1 day' AND h.value = t.value
  ) p
  WHERE d.organization_id = t.organization_id AND d.event_type = t.event_type AND d.dimension = t.dimension
    AND d.bucket = t.day AND d.value = t.value;
END
$$;

SELECT refresh_dimension_day_points(NULL, NULL, NULL, NULL, NULL);

-- As in 0170, and then the points of the days it folded rows into (with a sketch): a second statement, which sees the
-- hourly rows the first one wrote; one transaction, so a reader sees the folded rows and their days' points together.
CREATE OR REPLACE FUNCTION fold_dimension_totals() RETURNS bigint
LANGUAGE plpgsql SET work_mem = '64MB' AS $$
DECLARE
  folded bigint;
  orgs uuid[];
  types text[];
  dims text[];
  days timestamptz[];
  vals text[];
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
    RETURNING r.organization_id, r.event_type, r.dimension, r.bucket, r.value, r.sketch IS NOT NULL AS sketched
  )
  SELECT (SELECT count(*) FROM hourly) + count(*),
         array_agg(organization_id) FILTER (WHERE sketched), array_agg(event_type) FILTER (WHERE sketched),
         array_agg(dimension) FILTER (WHERE sketched), array_agg(bucket) FILTER (WHERE sketched), array_agg(value) FILTER (WHERE sketched)
  INTO folded, orgs, types, dims, days, vals
  FROM daily;
  IF orgs IS NOT NULL THEN
    PERFORM refresh_dimension_day_points(orgs, types, dims, days, vals);
  END IF;
  RETURN folded;
END
$$;

-- As in 0170, then every day's points.
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
  PERFORM refresh_dimension_day_points(NULL, NULL, NULL, NULL, NULL);
END
$$;

-- Down Migration
-- The functions as 0170 left them, then the columns.
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

DROP FUNCTION refresh_dimension_day_points(uuid[], text[], text[], timestamptz[], text[]);
ALTER TABLE rollup_dimension_totals_daily DROP COLUMN hour_points, DROP COLUMN hour_points_count;
