-- Up Migration

-- The hour of each hourly per-dimension row in front of its percentiles' bin
-- keys: "<hours since 1970> <p50> <p90> <p95> <p99>" ("494123 550 584 590
-- 601"; keys as in migration 0165), in place of `quantile_keys`. A point of an
-- hourly percentile grouped by one dimension (the hourly p95 by bot) is one
-- such row, and its reader packed each into "<bucket ms> <key>" with
-- date_part, casts, split_part and two concatenations per row: 2-3 ms of
-- PostgreSQL for the 3,600 rows of a 30-day answer, where appending a stored
-- text to the series' string_agg costs a fraction (bench/README.md, issue 20,
-- step 9). Node picks the percentile's key and maps it to its value.
--
-- NULL when the sketch has no keys (empty, or keys out of jsonb's order: the
-- reader sends the sketch) or the bucket is not a whole UTC hour (never
-- written so; a finer query bucket would misplace it). date_part of a
-- timestamp without time zone is immutable, as a generated column needs.
CREATE FUNCTION sketch_quantile_points(bucket timestamptz, sketch jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN date_part('epoch', bucket AT TIME ZONE 'UTC') / 3600 = floor(date_part('epoch', bucket AT TIME ZONE 'UTC') / 3600)
    THEN (date_part('epoch', bucket AT TIME ZONE 'UTC') / 3600)::bigint::text || ' ' || sketch_quantile_keys(sketch)
  END
$$;

ALTER TABLE rollup_dimension_totals_hourly
  DROP COLUMN quantile_keys,
  ADD COLUMN quantile_points text GENERATED ALWAYS AS (sketch_quantile_points(bucket, sketch)) STORED;

-- Down Migration
ALTER TABLE rollup_dimension_totals_hourly
  DROP COLUMN quantile_points,
  ADD COLUMN quantile_keys text GENERATED ALWAYS AS (sketch_quantile_keys(sketch)) STORED;
DROP FUNCTION sketch_quantile_points(timestamptz, jsonb);
