-- Up Migration

-- The totals rows of a question without group-by or filters (one row per type
-- and bucket, folded and pending), over up to three slices of its range: whole
-- days, and the hours at either ragged edge (backend/src/sources/adapters/
-- events.ts, slicesFor; a NULL bound leaves its slice out). One function with
-- a generic plan instead of a statement per shape that PostgreSQL planned
-- again on every execution: it keeps custom plans for the six-branch
-- UNION ALL, and planning it (0.3-0.4 ms, with a look at the index's newest
-- bucket each time, since a range ending now lies past the column's
-- statistics) was about half of its CPU for a 30-day percentile. Every branch
-- is an index range scan on (organization_id, event_type, bucket) whatever the
-- values, so the generic plan is the plan (bench/README.md, issue 20, step 10).
-- `sketches` false leaves the sketch out (NULL, never read from disk).
CREATE FUNCTION rollup_totals_rows(
  org uuid, types text[],
  day_from timestamptz, day_to timestamptz,
  hour_from timestamptz, hour_to timestamptz,
  edge_from timestamptz, edge_to timestamptz,
  sketches boolean
) RETURNS TABLE (bucket timestamptz, count bigint, value_count bigint, sum float8, min float8, max float8, sketch text)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
  RETURN QUERY
    SELECT t.bucket, t.count, t.value_count, t.sum, t.min, t.max, CASE WHEN sketches THEN t.sketch_text END FROM rollup_totals_daily t
      WHERE t.organization_id = org AND t.event_type = ANY(types) AND t.bucket >= day_from AND t.bucket < day_to AND (NOT sketches OR t.sketch IS NOT NULL)
    UNION ALL
    SELECT t.bucket, t.count, t.value_count, t.sum, t.min, t.max, CASE WHEN sketches THEN t.sketch_text END FROM rollup_totals_daily_pending t
      WHERE t.organization_id = org AND t.event_type = ANY(types) AND t.bucket >= day_from AND t.bucket < day_to AND (NOT sketches OR t.sketch IS NOT NULL)
    UNION ALL
    SELECT t.bucket, t.count, t.value_count, t.sum, t.min, t.max, CASE WHEN sketches THEN t.sketch_text END FROM rollup_totals_hourly t
      WHERE t.organization_id = org AND t.event_type = ANY(types) AND t.bucket >= hour_from AND t.bucket < hour_to AND (NOT sketches OR t.sketch IS NOT NULL)
    UNION ALL
    SELECT t.bucket, t.count, t.value_count, t.sum, t.min, t.max, CASE WHEN sketches THEN t.sketch_text END FROM rollup_totals_hourly_pending t
      WHERE t.organization_id = org AND t.event_type = ANY(types) AND t.bucket >= hour_from AND t.bucket < hour_to AND (NOT sketches OR t.sketch IS NOT NULL)
    UNION ALL
    SELECT t.bucket, t.count, t.value_count, t.sum, t.min, t.max, CASE WHEN sketches THEN t.sketch_text END FROM rollup_totals_hourly t
      WHERE t.organization_id = org AND t.event_type = ANY(types) AND t.bucket >= edge_from AND t.bucket < edge_to AND (NOT sketches OR t.sketch IS NOT NULL)
    UNION ALL
    SELECT t.bucket, t.count, t.value_count, t.sum, t.min, t.max, CASE WHEN sketches THEN t.sketch_text END FROM rollup_totals_hourly_pending t
      WHERE t.organization_id = org AND t.event_type = ANY(types) AND t.bucket >= edge_from AND t.bucket < edge_to AND (NOT sketches OR t.sketch IS NOT NULL);
END
$$;

-- Down Migration
DROP FUNCTION rollup_totals_rows(uuid, text[], timestamptz, timestamptz, timestamptz, timestamptz, timestamptz, timestamptz, boolean);
