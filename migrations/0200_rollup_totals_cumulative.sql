-- Up Migration

-- Cumulative (prefix) sketches of the daily totals, so that the whole days of a
-- percentile without group-by or filters read two sketches whatever the range's
-- length: the sum of the days in [a, b) is C(last row before b) - C(last row
-- before a), bin by bin (bench/README.md, issue 20, step 13).
--
-- Row (o, t, d) holds, for every day d before today (UTC) that has a folded
-- daily totals row of (o, t): `count`, the sum of the daily rows' `count` of
-- every day <= d, and `sketch`, the bin-by-bin sum of their sketches (NULL
-- while none of those days had a sketch). Today's daily row changes with every
-- fold; a range's last partial day is read from the hourly rows anyway.
--
-- Maintenance: fold_rollup_totals() records in rollup_totals_cumulative_dirty,
-- per (o, t), the earliest day whose daily row it changed (an upsert that only
-- lowers the day, in the statement that folds the day). The fold job
-- (backend/src/rollups/cumulative-sketches.ts) takes the keys whose day is
-- before today and rewrites their rows from that day on, each key in one
-- transaction; afterwards the key stays recorded at its first day >= today,
-- so that once that day is over its row gets its prefix too (day rollover).
CREATE TABLE rollup_totals_cumulative (
  organization_id uuid NOT NULL,
  event_type text NOT NULL,
  bucket timestamptz NOT NULL,
  count bigint NOT NULL,
  sketch jsonb,
  sketch_text text GENERATED ALWAYS AS (sketch::text) STORED,
  PRIMARY KEY (organization_id, event_type, bucket)
);

CREATE TABLE rollup_totals_cumulative_dirty (
  organization_id uuid NOT NULL,
  event_type text NOT NULL,
  -- The earliest day from which this key's cumulative rows must be rewritten.
  day timestamptz NOT NULL,
  PRIMARY KEY (organization_id, event_type)
);

-- fold_rollup_totals() as in migration 0171, the daily step also recording
-- the earliest day it changed per key. `moved` is computed once and read by
-- both inserts; the dirty upsert writes a row only when it lowers the day
-- (most folds change today's row of keys already recorded at today).
CREATE OR REPLACE FUNCTION fold_rollup_totals() RETURNS bigint
LANGUAGE plpgsql SET work_mem = '64MB' AS $$
DECLARE
  folded bigint := 0;
  changed bigint;
BEGIN
  IF NOT pg_try_advisory_xact_lock(hashtext('metrics-hub: fold_rollup_totals')) THEN
    RETURN -1;
  END IF;
  WITH moved AS (
    DELETE FROM rollup_totals_hourly_pending
    RETURNING organization_id, event_type, bucket, count, value_count, sum, min, max, sketch
  )
  INSERT INTO rollup_totals_hourly AS r (organization_id, event_type, bucket, count, value_count, sum, min, max, sketch)
  SELECT organization_id, event_type, bucket, count, value_count, sum, min, max,
         CASE WHEN sketches IS NULL THEN NULL
              WHEN cardinality(sketches) = 1 THEN sketches[1]
              ELSE (SELECT coalesce(jsonb_object_agg(bin, n), '{}')
                    FROM (SELECT b.key AS bin, sum(b.value::numeric) AS n
                          FROM unnest(sketches) s CROSS JOIN LATERAL jsonb_each_text(s) b GROUP BY b.key) bins)
         END
  FROM (
    SELECT organization_id, event_type, bucket, sum(count) AS count, sum(value_count) AS value_count, sum(sum) AS sum,
           min(min) AS min, max(max) AS max, array_agg(sketch) FILTER (WHERE sketch IS NOT NULL) AS sketches
    FROM moved GROUP BY organization_id, event_type, bucket
  ) keyed
  ORDER BY organization_id, event_type, bucket
  ON CONFLICT (organization_id, event_type, bucket) DO UPDATE SET
    count = r.count + EXCLUDED.count,
    value_count = r.value_count + EXCLUDED.value_count,
    sum = r.sum + EXCLUDED.sum,
    min = LEAST(r.min, EXCLUDED.min),
    max = GREATEST(r.max, EXCLUDED.max),
    sketch = sketch_merge(r.sketch, EXCLUDED.sketch);
  GET DIAGNOSTICS changed = ROW_COUNT;
  folded := folded + changed;

  WITH moved AS (
    DELETE FROM rollup_totals_daily_pending
    RETURNING organization_id, event_type, bucket, count, value_count, sum, min, max, sketch
  ), days AS (
    INSERT INTO rollup_totals_daily AS r (organization_id, event_type, bucket, count, value_count, sum, min, max, sketch)
    SELECT organization_id, event_type, bucket, count, value_count, sum, min, max,
           CASE WHEN sketches IS NULL THEN NULL
                WHEN cardinality(sketches) = 1 THEN sketches[1]
                ELSE (SELECT coalesce(jsonb_object_agg(bin, n), '{}')
                      FROM (SELECT b.key AS bin, sum(b.value::numeric) AS n
                            FROM unnest(sketches) s CROSS JOIN LATERAL jsonb_each_text(s) b GROUP BY b.key) bins)
           END
    FROM (
      SELECT organization_id, event_type, bucket, sum(count) AS count, sum(value_count) AS value_count, sum(sum) AS sum,
             min(min) AS min, max(max) AS max, array_agg(sketch) FILTER (WHERE sketch IS NOT NULL) AS sketches
      FROM moved GROUP BY organization_id, event_type, bucket
    ) keyed
    ORDER BY organization_id, event_type, bucket
    ON CONFLICT (organization_id, event_type, bucket) DO UPDATE SET
      count = r.count + EXCLUDED.count,
      value_count = r.value_count + EXCLUDED.value_count,
      sum = r.sum + EXCLUDED.sum,
      min = LEAST(r.min, EXCLUDED.min),
      max = GREATEST(r.max, EXCLUDED.max),
      sketch = sketch_merge(r.sketch, EXCLUDED.sketch)
    RETURNING 1
  ), dirty AS (
    INSERT INTO rollup_totals_cumulative_dirty AS d (organization_id, event_type, day)
    SELECT organization_id, event_type, min(bucket) FROM moved GROUP BY organization_id, event_type
    ORDER BY organization_id, event_type
    ON CONFLICT (organization_id, event_type) DO UPDATE SET day = EXCLUDED.day WHERE EXCLUDED.day < d.day
  )
  SELECT count(*) INTO changed FROM days;
  folded := folded + changed;
  RETURN folded;
END
$$;

-- Rows of the daily totals deleted (nothing in the service deletes them; a
-- hand-run retention or repair might): the keys' cumulative rows from the
-- earliest deleted day on go in the same transaction, and the keys are
-- recorded from that day.
-- Readers rely on daily counts only growing (rollup_totals_prefix_rows()); a
-- cumulative row that still counted a deleted day could otherwise pass their
-- check when another day of the range grew by as much.
CREATE FUNCTION rollup_totals_daily_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  -- Waits for a running rewrite (its read of the daily rows may predate this deletion) and holds off the next.
  PERFORM pg_advisory_xact_lock(hashtext('metrics-hub: rollup_totals_cumulative'));
  WITH gone AS (
    SELECT organization_id, event_type, min(bucket) AS day FROM deleted GROUP BY organization_id, event_type
  ), dropped AS (
    DELETE FROM rollup_totals_cumulative c USING gone g
    WHERE c.organization_id = g.organization_id AND c.event_type = g.event_type AND c.bucket >= g.day
  )
  INSERT INTO rollup_totals_cumulative_dirty AS d (organization_id, event_type, day)
  SELECT organization_id, event_type, day FROM gone ORDER BY organization_id, event_type
  ON CONFLICT (organization_id, event_type) DO UPDATE SET day = EXCLUDED.day WHERE EXCLUDED.day < d.day;
  RETURN NULL;
END
$$;
CREATE TRIGGER rollup_totals_daily_deleted_cumulative AFTER DELETE ON rollup_totals_daily
  REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION rollup_totals_daily_deleted();

-- A TRUNCATE of the daily totals (rebuild_rollup_totals()) empties the
-- cumulative rows with them; the rebuild records every key again below.
CREATE FUNCTION rollup_totals_daily_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE rollup_totals_cumulative, rollup_totals_cumulative_dirty;
  RETURN NULL;
END
$$;
CREATE TRIGGER rollup_totals_daily_truncated_cumulative AFTER TRUNCATE ON rollup_totals_daily
  FOR EACH STATEMENT EXECUTE FUNCTION rollup_totals_daily_truncated();

-- rebuild_rollup_totals() as in migration 0014, then every key recorded from
-- its first day: the fold job builds the cumulative rows again.
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
  INSERT INTO rollup_totals_cumulative_dirty (organization_id, event_type, day)
  SELECT organization_id, event_type, min(bucket) FROM rollup_totals_daily GROUP BY organization_id, event_type;
END
$$;

-- The sketches of a percentile without group-by or filters whose range is ONE
-- query bucket, as rollup_totals_rows() (migration 0190) reads them, except
-- the whole days [day_from, day_to) of each type: two cumulative rows, `sketch`
-- C(hi) = the last row before day_to and `minus` C(lo) = the last row before
-- day_from (NULL if none), whose bins the reader subtracts, returned at
-- day_from (callers must not split the range into several query buckets).
--
-- Valid only when C(hi).count - C(lo).count equals the sum of the `count` of
-- the folded daily rows in [day_from, day_to), read in this statement;
-- otherwise that type's daily rows are read as before. Why that is exact:
-- a job rewrites all of a key's cumulative rows from a changed day on in one
-- transaction, adding to the last row before that day each later day's
-- (count, sketch) read together from one daily row. So for any two rows
-- lo < hi that a snapshot sees, C(hi) - C(lo) is the sum, count and bins, of
-- the days in (lo, hi] each as it was at some earlier moment, and every day
-- with a daily row at that moment has a cumulative row of its own (so no day
-- before day_from is in the difference). A daily row's count only grows, and
-- grows with every change to its sketch (each folded event counts 1; deletions
-- and truncations reset the cumulative rows, triggers above). Hence the count
-- difference is at most the current sum over [day_from, day_to), and equal
-- only if every day of the range is unchanged since its prefix was taken and
-- no day of the range lacks one: then the bins are exactly those of the
-- daily rows. Pending daily rows are read as before, valid or not.
--
-- The prefix row comes only when a daily row of the range has a sketch (as
-- the daily rows would), so an answer has a point exactly when it had one.
CREATE FUNCTION rollup_totals_prefix_rows(
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
    WITH valid AS MATERIALIZED (
      SELECT k.event_type, hi.sketch_text AS hi, lo.sketch_text AS lo, d.sketches
      FROM (SELECT DISTINCT unnest(types) AS event_type) k
      CROSS JOIN LATERAL (
        SELECT c.count, c.sketch_text FROM rollup_totals_cumulative c
        WHERE c.organization_id = org AND c.event_type = k.event_type AND c.bucket < day_to
        ORDER BY c.bucket DESC LIMIT 1) hi
      LEFT JOIN LATERAL (
        SELECT c.count, c.sketch_text FROM rollup_totals_cumulative c
        WHERE c.organization_id = org AND c.event_type = k.event_type AND c.bucket < day_from
        ORDER BY c.bucket DESC LIMIT 1) lo ON true
      CROSS JOIN LATERAL (
        SELECT coalesce(sum(t.count), 0) AS count, coalesce(bool_or(t.sketch IS NOT NULL), false) AS sketches FROM rollup_totals_daily t
        WHERE t.organization_id = org AND t.event_type = k.event_type AND t.bucket >= day_from AND t.bucket < day_to) d
      WHERE hi.count - coalesce(lo.count, 0) = d.count
    )
    SELECT day_from, v.hi, v.lo FROM valid v WHERE v.sketches
    UNION ALL
    -- The types that failed, as an array computed once: no index scan at all when every type passed.
    SELECT t.bucket, t.sketch_text, NULL::text FROM rollup_totals_daily t
      WHERE t.organization_id = org AND t.event_type = ANY(ARRAY(SELECT unnest(types) EXCEPT SELECT v.event_type FROM valid v))
        AND t.bucket >= day_from AND t.bucket < day_to AND t.sketch IS NOT NULL
    UNION ALL
    SELECT t.bucket, t.sketch_text, NULL::text FROM rollup_totals_daily_pending t
      WHERE t.organization_id = org AND t.event_type = ANY(types) AND t.bucket >= day_from AND t.bucket < day_to AND t.sketch IS NOT NULL
    UNION ALL
    SELECT t.bucket, t.sketch_text, NULL::text FROM rollup_totals_hourly t
      WHERE t.organization_id = org AND t.event_type = ANY(types) AND t.bucket >= hour_from AND t.bucket < hour_to AND t.sketch IS NOT NULL
    UNION ALL
    SELECT t.bucket, t.sketch_text, NULL::text FROM rollup_totals_hourly_pending t
      WHERE t.organization_id = org AND t.event_type = ANY(types) AND t.bucket >= hour_from AND t.bucket < hour_to AND t.sketch IS NOT NULL
    UNION ALL
    SELECT t.bucket, t.sketch_text, NULL::text FROM rollup_totals_hourly t
      WHERE t.organization_id = org AND t.event_type = ANY(types) AND t.bucket >= edge_from AND t.bucket < edge_to AND t.sketch IS NOT NULL
    UNION ALL
    SELECT t.bucket, t.sketch_text, NULL::text FROM rollup_totals_hourly_pending t
      WHERE t.organization_id = org AND t.event_type = ANY(types) AND t.bucket >= edge_from AND t.bucket < edge_to AND t.sketch IS NOT NULL;
END
$$;

-- Every key recorded from its first day: the fold job's first run builds the
-- cumulative rows of the data already stored.
INSERT INTO rollup_totals_cumulative_dirty (organization_id, event_type, day)
SELECT organization_id, event_type, min(bucket) FROM rollup_totals_daily GROUP BY organization_id, event_type;

-- Down Migration
DROP FUNCTION rollup_totals_prefix_rows(uuid, text[], timestamptz, timestamptz, timestamptz, timestamptz, timestamptz, timestamptz);
DROP TRIGGER rollup_totals_daily_truncated_cumulative ON rollup_totals_daily;
DROP FUNCTION rollup_totals_daily_truncated();
DROP TRIGGER rollup_totals_daily_deleted_cumulative ON rollup_totals_daily;
DROP FUNCTION rollup_totals_daily_deleted();
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
CREATE OR REPLACE FUNCTION fold_rollup_totals() RETURNS bigint
LANGUAGE plpgsql SET work_mem = '64MB' AS $$
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
      SELECT organization_id, event_type, bucket, count, value_count, sum, min, max,
             CASE WHEN sketches IS NULL THEN NULL
                  WHEN cardinality(sketches) = 1 THEN sketches[1]
                  ELSE (SELECT coalesce(jsonb_object_agg(bin, n), '{}')
                        FROM (SELECT b.key AS bin, sum(b.value::numeric) AS n
                              FROM unnest(sketches) s CROSS JOIN LATERAL jsonb_each_text(s) b GROUP BY b.key) bins)
             END
      FROM (
        SELECT organization_id, event_type, bucket, sum(count) AS count, sum(value_count) AS value_count, sum(sum) AS sum,
               min(min) AS min, max(max) AS max, array_agg(sketch) FILTER (WHERE sketch IS NOT NULL) AS sketches
        FROM moved GROUP BY organization_id, event_type, bucket
      ) keyed
      ORDER BY organization_id, event_type, bucket
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
DROP TABLE rollup_totals_cumulative_dirty;
DROP TABLE rollup_totals_cumulative;
