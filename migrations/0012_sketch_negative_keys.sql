-- Up Migration

-- Sketch bin keys were "<n>" for a positive value's bin n, "-<n>" for a
-- negative value's bin n. But the bin of a positive value below 1 is itself
-- negative (0.5 is bin -69), so "-69" meant both 0.5 and about -1.99, and was
-- read as the latter. Negative values now get "n<n>"; "-<n>" is only ever a
-- positive value below 1.
--
-- The bin of a value, as backend/src/rollups/sketch.ts computes it (DDSketch
-- logarithmic mapping, relative accuracy 0.5 %): for bulk loads and repairs.
CREATE FUNCTION sketch_bin(value double precision) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN abs(value) < 2.3e-308 THEN 'z'
    WHEN value > 0 THEN ceil(ln(value) / ln(1 + 2 * 0.005 / (1 - 0.005)))::bigint::text
    ELSE 'n' || ceil(ln(-value) / ln(1 + 2 * 0.005 / (1 - 0.005)))::bigint::text
  END
$$;

-- Stored "-<n>" keys: where the raw events of the row's (organization, type,
-- bucket) had negative values and none in (0, 1), the keys were negative
-- values and become "n<n>". Where they had no negative value (by far the usual
-- case: durations, amounts) the keys already mean what they now mean. Where
-- both occur, or raw events are past retention, the keys are kept as positive
-- values below 1; a NOTICE counts the hours where both occurred (rows past
-- retention cannot be told apart and are not counted).
CREATE FUNCTION sketch_keys_to_negative(sketch jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT jsonb_object_agg(CASE WHEN key LIKE '-%' THEN 'n' || substr(key, 2) ELSE key END, value) FROM jsonb_each(sketch)
$$;

SET LOCAL TIME ZONE 'UTC';

CREATE TEMP TABLE sketch_sign_by_hour ON COMMIT DROP AS
SELECT organization_id, event_type, date_trunc('hour', occurred_at) AS bucket,
       bool_or(value < 0) AS negative, bool_or(value > 0 AND value < 1) AS below_one
FROM events
WHERE value < 1 AND value <> 0
GROUP BY 1, 2, 3;

CREATE TEMP TABLE sketch_sign_by_day ON COMMIT DROP AS
SELECT organization_id, event_type, date_trunc('day', bucket) AS bucket, bool_or(negative) AS negative, bool_or(below_one) AS below_one
FROM sketch_sign_by_hour
GROUP BY 1, 2, 3;

UPDATE rollups_hourly r SET sketch = sketch_keys_to_negative(r.sketch)
FROM sketch_sign_by_hour s
WHERE s.negative AND NOT s.below_one
  AND r.organization_id = s.organization_id AND r.event_type = s.event_type AND r.bucket = s.bucket
  AND r.sketch IS NOT NULL AND EXISTS (SELECT 1 FROM jsonb_object_keys(r.sketch) k WHERE k LIKE '-%');

UPDATE rollups_daily r SET sketch = sketch_keys_to_negative(r.sketch)
FROM sketch_sign_by_day s
WHERE s.negative AND NOT s.below_one
  AND r.organization_id = s.organization_id AND r.event_type = s.event_type AND r.bucket = s.bucket
  AND r.sketch IS NOT NULL AND EXISTS (SELECT 1 FROM jsonb_object_keys(r.sketch) k WHERE k LIKE '-%');

DO $$
DECLARE
  mixed bigint;
BEGIN
  SELECT count(*) INTO mixed FROM sketch_sign_by_hour WHERE negative AND below_one;
  IF mixed > 0 THEN
    RAISE NOTICE 'sketch keys: % hourly buckets held both negative values and values below 1; their "-<n>" bins are read as values below 1', mixed;
  END IF;
END
$$;

SELECT rebuild_rollup_totals();

-- Down Migration
DROP FUNCTION sketch_keys_to_negative(jsonb);
DROP FUNCTION sketch_bin(double precision);
