-- Up Migration

-- fold_rollup_totals() (migration 0014) as the per-dimension fold since 0170:
-- each (type, bucket) sums its pending sketches once, bin by bin, instead of
-- one sketch_merge per pending row, each copying the running sketch (a day's
-- totals sketch has hundreds of bins, and every batch of the day appends a
-- pending row to it). A single pending sketch is kept as it is. Bin counts
-- are whole numbers summed as numeric and jsonb orders its keys, so the
-- totals are the same. The merge into the folded row is unchanged.
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

-- Down Migration
CREATE OR REPLACE FUNCTION fold_rollup_totals() RETURNS bigint
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
