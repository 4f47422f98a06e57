-- Up Migration

-- rollup_totals_prefix_rows() (migration 0200) with fewer sketches for the
-- ragged edges (bench/README.md, issue 20, step 27). A range of whole hours
-- [hour_from, to) that is one query bucket reads its whole days [day_from,
-- day_to) as two cumulative sketches, and its edges [hour_from, day_from) and
-- [day_to, to) as hourly rows: for "the last 30 days" at 10:00, 14 + 10 of
-- 26 sketches. An edge can instead be read as its whole day minus the day's
-- hours outside the range: the start edge as day_from - 1 day minus its hours
-- before hour_from, the end edge as day_to minus its hours from `to` on
-- (usually none: the future). The whole day costs no sketch of its own, since
-- it joins the cumulative difference (C(last before the extended end) -
-- C(last before the extended start)); only the hours outside the range are
-- sent, in `minus`, whose bins the reader subtracts after every addition.
--
-- Per type and edge, the day form is used only when
--  * it sends fewer hourly rows (folded and pending, with a sketch) than the
--    hourly form: so the range still has a sketch of its own and the answer
--    has a point exactly when it had one, and a tie keeps the old rows; and
--  * the day's daily count (folded + pending rows) equals the sum of its
--    hourly counts (folded + pending rows), read in this statement.
-- Why that is exact: every write of the totals appends the same events to
-- the hourly and the daily pending tables in one statement (ingest/store.ts,
-- the batch's last statement: the events' and the contacted claims' rows),
-- and fold_rollup_totals() moves both pending tables into the folded ones in
-- one statement; rebuild_rollup_totals() refills both from rollups_hourly and
-- rollups_daily, which the same batch statement writes from the same events.
-- So in any snapshot a day's daily rows hold exactly the sum, count and bins,
-- of that day's hourly rows; sketch bins are whole counts, so the day minus
-- its outside hours is bin for bin the sum of its inside hours. The count
-- check is the guard, as 0200's: a day whose rows were deleted or repaired
-- by hand on one side only (a retention that prunes old hours, say) reads
-- its hourly rows as before.
--
-- The cumulative check and its fallback are 0200's over each type's own
-- (possibly extended) days. Every row comes back at day_from, inside the
-- range (callers read the function only for a single query bucket); rows
-- whose sketch is NULL carry an hour to subtract in `minus`.
CREATE FUNCTION rollup_totals_edge_rows(
  org uuid, types text[],
  day_from timestamptz, day_to timestamptz,
  hour_from timestamptz, hour_to timestamptz,
  edge_from timestamptz, edge_to timestamptz
) RETURNS TABLE (bucket timestamptz, sketch text, minus text)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
  RETURN QUERY
    WITH t AS MATERIALIZED (
      SELECT DISTINCT unnest(types) AS event_type
    ), hours AS MATERIALIZED (
      -- Every hourly row, folded and pending, of the edges' days: read once, for the check and for the answer.
      SELECT r.event_type, r.bucket, r.count, r.sketch_text FROM t JOIN rollup_totals_hourly r
        ON r.organization_id = org AND r.event_type = t.event_type AND r.bucket >= day_from - interval '24 hours' AND r.bucket < day_from
        WHERE hour_from IS NOT NULL
      UNION ALL
      SELECT r.event_type, r.bucket, r.count, r.sketch_text FROM t JOIN rollup_totals_hourly_pending r
        ON r.organization_id = org AND r.event_type = t.event_type AND r.bucket >= day_from - interval '24 hours' AND r.bucket < day_from
        WHERE hour_from IS NOT NULL
      UNION ALL
      SELECT r.event_type, r.bucket, r.count, r.sketch_text FROM t JOIN rollup_totals_hourly r
        ON r.organization_id = org AND r.event_type = t.event_type AND r.bucket >= day_to AND r.bucket < day_to + interval '24 hours'
        WHERE edge_from IS NOT NULL
      UNION ALL
      SELECT r.event_type, r.bucket, r.count, r.sketch_text FROM t JOIN rollup_totals_hourly_pending r
        ON r.organization_id = org AND r.event_type = t.event_type AND r.bucket >= day_to AND r.bucket < day_to + interval '24 hours'
        WHERE edge_from IS NOT NULL
    ), pending_days AS MATERIALIZED (
      SELECT r.event_type, r.bucket, r.count, r.sketch_text FROM t JOIN rollup_totals_daily_pending r
        ON r.organization_id = org AND r.event_type = t.event_type AND r.bucket >= day_from - interval '24 hours' AND r.bucket < day_to + interval '24 hours'
    ), edges AS MATERIALIZED (
      -- Per type: whether each edge may be read as its whole day (fewer hourly rows, and the day's daily count equals
      -- its hours'), and the folded daily counts the cumulative check compares with.
      SELECT t.event_type, d.mid_count, d.mid_sketches,
             (x.start_out < x.start_in AND x.start_hours = d.start_count + p.start_count) AS start_whole, d.start_count,
             (x.end_out < x.end_in AND x.end_hours = d.end_count + p.end_count) AS end_candidate, d.end_count
      FROM t
      CROSS JOIN LATERAL (
        SELECT coalesce(sum(r.count) FILTER (WHERE r.bucket >= day_from AND r.bucket < day_to), 0) AS mid_count,
               coalesce(bool_or(r.sketch IS NOT NULL) FILTER (WHERE r.bucket >= day_from AND r.bucket < day_to), false) AS mid_sketches,
               coalesce(sum(r.count) FILTER (WHERE r.bucket = day_from - interval '24 hours'), 0) AS start_count,
               coalesce(sum(r.count) FILTER (WHERE r.bucket = day_to), 0) AS end_count
        FROM rollup_totals_daily r
        WHERE r.organization_id = org AND r.event_type = t.event_type
          AND r.bucket >= day_from - interval '24 hours' AND r.bucket < day_to + interval '24 hours') d
      CROSS JOIN LATERAL (
        SELECT coalesce(sum(r.count) FILTER (WHERE r.bucket = day_from - interval '24 hours'), 0) AS start_count,
               coalesce(sum(r.count) FILTER (WHERE r.bucket = day_to), 0) AS end_count
        FROM pending_days r WHERE r.event_type = t.event_type) p
      CROSS JOIN LATERAL (
        SELECT coalesce(sum(h.count) FILTER (WHERE h.bucket < day_from), 0) AS start_hours,
               count(*) FILTER (WHERE h.bucket < hour_from AND h.sketch_text IS NOT NULL) AS start_out,
               count(*) FILTER (WHERE h.bucket >= hour_from AND h.bucket < hour_to AND h.sketch_text IS NOT NULL) AS start_in,
               coalesce(sum(h.count) FILTER (WHERE h.bucket >= day_to), 0) AS end_hours,
               count(*) FILTER (WHERE h.bucket >= edge_to AND h.sketch_text IS NOT NULL) AS end_out,
               count(*) FILTER (WHERE h.bucket >= edge_from AND h.bucket < edge_to AND h.sketch_text IS NOT NULL) AS end_in
        FROM hours h WHERE h.event_type = t.event_type) x
    ), k AS MATERIALIZED (
      -- 0200's check over each type's days. The end edge's day joins them only with a cumulative row of its own
      -- (today has none until it is over): the last row before day_to + 1 day, which is the last before day_to if
      -- it is not that day's.
      SELECT e.event_type, e.start_whole, e.end_candidate AND hi.bucket IS NOT DISTINCT FROM day_to AS end_whole,
             CASE WHEN e.start_whole THEN day_from - interval '24 hours' ELSE day_from END AS df,
             CASE WHEN e.end_candidate AND hi.bucket IS NOT DISTINCT FROM day_to THEN day_to + interval '24 hours' ELSE day_to END AS dt,
             hi.count - coalesce(lo.count, 0) = e.mid_count + CASE WHEN e.start_whole THEN e.start_count ELSE 0 END
               + CASE WHEN e.end_candidate AND hi.bucket IS NOT DISTINCT FROM day_to THEN e.end_count ELSE 0 END AS valid,
             e.mid_sketches OR e.start_whole OR (e.end_candidate AND hi.bucket IS NOT DISTINCT FROM day_to) AS sketches,
             hi.sketch_text AS hi, lo.sketch_text AS lo
      FROM edges e
      LEFT JOIN LATERAL (
        SELECT c.bucket, c.count, c.sketch_text FROM rollup_totals_cumulative c
        WHERE c.organization_id = org AND c.event_type = e.event_type
          AND c.bucket < CASE WHEN e.end_candidate THEN day_to + interval '24 hours' ELSE day_to END
        ORDER BY c.bucket DESC LIMIT 1) hi ON true
      LEFT JOIN LATERAL (
        SELECT c.count, c.sketch_text FROM rollup_totals_cumulative c
        WHERE c.organization_id = org AND c.event_type = e.event_type
          AND c.bucket < CASE WHEN e.start_whole THEN day_from - interval '24 hours' ELSE day_from END
        ORDER BY c.bucket DESC LIMIT 1) lo ON true
    )
    -- A whole edge day makes the prefix row needed even when the days between have no sketch: the day's bins are in
    -- it (or in its pending rows), and its hours outside the range are taken out of them.
    SELECT day_from, k.hi, k.lo FROM k WHERE k.valid AND k.sketches
    UNION ALL
    -- The types that failed: their daily rows (no index scan at all when every type passed).
    SELECT greatest(r.bucket, day_from), r.sketch_text, NULL::text
      FROM k JOIN rollup_totals_daily r ON r.organization_id = org AND r.event_type = k.event_type AND r.bucket >= k.df AND r.bucket < k.dt
      WHERE k.valid IS NOT TRUE AND r.sketch IS NOT NULL
    UNION ALL
    SELECT greatest(r.bucket, day_from), r.sketch_text, NULL::text
      FROM k JOIN pending_days r ON r.event_type = k.event_type AND r.bucket >= k.df AND r.bucket < k.dt
      WHERE r.sketch_text IS NOT NULL
    UNION ALL
    -- The edges: their hours in the range, or, for an edge read as its whole day, that day's hours outside it.
    SELECT day_from,
           CASE WHEN (h.bucket < day_from AND NOT k.start_whole) OR (h.bucket >= day_to AND NOT k.end_whole) THEN h.sketch_text END,
           CASE WHEN (h.bucket < day_from AND k.start_whole) OR (h.bucket >= day_to AND k.end_whole) THEN h.sketch_text END
      FROM k JOIN hours h ON h.event_type = k.event_type
      WHERE h.sketch_text IS NOT NULL AND CASE
        WHEN h.bucket < day_from THEN (h.bucket < hour_from) = k.start_whole AND h.bucket < hour_to
        ELSE (h.bucket >= edge_to) = k.end_whole
      END;
END
$$;

-- Down Migration
DROP FUNCTION rollup_totals_edge_rows(uuid, text[], timestamptz, timestamptz, timestamptz, timestamptz, timestamptz, timestamptz);
