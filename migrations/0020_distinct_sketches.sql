-- Up Migration

-- Distinct counts: HyperLogLog++ sketches of event attributes (a contact, a
-- user, a bot) per rollup row, merged in plain SQL so that ingestion can merge
-- a batch's sketch into a stored one inside an increment upsert, like the
-- quantile sketches. backend/src/rollups/distinct.ts describes the format and
-- computes the same entries and registers:
--   sparse: sorted int4 entries `index25 << 6 | rho'` (at most 6,000);
--   dense:  2^15 one-byte registers, register index = entry >> 16.
-- Exactly one of the two is set; a sketch of nothing is NULL.
CREATE TYPE hll AS (sparse int4[], dense bytea);

CREATE FUNCTION hll_empty_dense() RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT decode(repeat('00', 32768), 'hex') $$;

-- The dense register (index, value) of each sparse entry, the highest value per register.
-- value: leading zeros of the 10 bits between the dense and the sparse index,
-- plus one; when those bits are all zero, 10 + rho'.
CREATE FUNCTION hll_registers(entries int4[]) RETURNS TABLE (idx int, rho int)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT e >> 16, max(CASE WHEN (e >> 6) & 1023 <> 0 THEN 11 - length(ltrim(((e >> 6) & 1023)::bit(10)::text, '0')) ELSE 10 + (e & 63) END)
  FROM unnest(entries) AS e
  GROUP BY 1
$$;

-- Raises registers to the given values where they are higher. Builds the
-- result from the unchanged runs between raised registers in one pass,
-- instead of one 32 KiB copy per set_byte.
CREATE FUNCTION hll_raise(registers bytea, idx int[], rho int[]) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  WITH raised AS (
    SELECT u.i, u.r FROM unnest(idx, rho) AS u (i, r) WHERE u.r > get_byte(registers, u.i)
  ), pieces AS (
    SELECT i, substring(registers FROM prev + 2 FOR i - prev - 1) || set_byte('\x00'::bytea, 0, r) AS piece
    FROM (SELECT i, r, coalesce(lag(i) OVER (ORDER BY i), -1) AS prev FROM raised) ordered
  )
  SELECT coalesce((SELECT string_agg(piece, ''::bytea ORDER BY i) FROM pieces) || substring(registers FROM (SELECT max(i) FROM raised) + 2), registers)
$$;

CREATE FUNCTION hll_with_entries(registers bytea, entries int4[]) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT hll_raise(registers, array_agg(idx ORDER BY idx), array_agg(rho ORDER BY idx)) FROM hll_registers(entries)
$$;

CREATE FUNCTION hll_dense_max(a bytea, b bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT hll_raise(a, array_agg(i ORDER BY i), array_agg(get_byte(b, i) ORDER BY i))
  FROM generate_series(0, 32767) AS i
  WHERE get_byte(b, i) > get_byte(a, i)
$$;

-- The storage form: sparse entries deduplicated (the highest rho' per index)
-- and sorted, or dense past 6,000 of them.
CREATE FUNCTION hll_normalize(s hll) RETURNS hll
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN s IS NULL OR s.dense IS NOT NULL THEN s
    ELSE (
      SELECT CASE WHEN count(*) > 6000 THEN ROW(NULL, hll_with_entries(hll_empty_dense(), array_agg(v)))::hll ELSE ROW(array_agg(v ORDER BY v), NULL)::hll END
      FROM (SELECT max(e) AS v FROM unnest(s.sparse) AS e GROUP BY e >> 6) deduplicated
    )
  END
$$;

-- Adds `other` into `state`. Two sparse sketches are only concatenated (and
-- deduplicated when large): folding many small pending sketches into one then
-- sorts once, in hll_normalize, instead of once per sketch.
CREATE FUNCTION hll_accumulate(state hll, other hll) RETURNS hll
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  IF other IS NULL THEN RETURN state; END IF;
  IF state IS NULL THEN RETURN other; END IF;
  IF state.dense IS NOT NULL AND other.dense IS NOT NULL THEN RETURN ROW(NULL, hll_dense_max(state.dense, other.dense))::hll; END IF;
  IF state.dense IS NOT NULL THEN RETURN ROW(NULL, hll_with_entries(state.dense, other.sparse))::hll; END IF;
  IF other.dense IS NOT NULL THEN RETURN ROW(NULL, hll_with_entries(other.dense, state.sparse))::hll; END IF;
  IF cardinality(state.sparse) + cardinality(other.sparse) > 24000 THEN RETURN hll_normalize(ROW(state.sparse || other.sparse, NULL)::hll); END IF;
  RETURN ROW(state.sparse || other.sparse, NULL)::hll;
END
$$;

-- The sketch of the union of two sets from their sketches (used in ON CONFLICT DO UPDATE).
CREATE FUNCTION hll_union(a hll, b hll) RETURNS hll
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT hll_normalize(hll_accumulate(a, b)) $$;

CREATE AGGREGATE hll_union_agg(hll) (SFUNC = hll_accumulate, STYPE = hll, FINALFUNC = hll_normalize);

-- The sparse entry of a value, as entryOf() computes it: for bulk loads and repairs.
CREATE FUNCTION hll_entry(value text) RETURNS int4
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT (((bits >> 39) & 33554431)::int4 << 6) | CASE WHEN bits & ((1::bigint << 39) - 1) = 0 THEN 40
    ELSE 40 - length(ltrim((bits & ((1::bigint << 39) - 1))::bit(39)::text, '0')) END
  FROM (SELECT ('x' || substr(md5(value), 1, 16))::bit(64)::bigint AS bits) hashed
$$;

-- Rollups of distinct values: one sketch per (organization, event type,
-- attribute, bucket, dimension set), next to rollups_hourly / rollups_daily
-- and written in the same transaction. Only the attributes that catalog
-- metrics count (`measure: distinct`) are kept.
CREATE TABLE rollups_distinct_hourly (
  organization_id uuid NOT NULL,
  event_type text NOT NULL,
  attribute text NOT NULL,
  bucket timestamptz NOT NULL,
  dims jsonb NOT NULL DEFAULT '{}'::jsonb,
  sketch hll NOT NULL,
  PRIMARY KEY (organization_id, event_type, attribute, bucket, dims)
);
CREATE TABLE rollups_distinct_daily (LIKE rollups_distinct_hourly INCLUDING ALL);

-- Totals over all dimension sets, appended by ingestion to the pending tables
-- and folded by the same job as the other totals (migration 0014).
CREATE TABLE rollup_totals_distinct_hourly (
  organization_id uuid NOT NULL,
  event_type text NOT NULL,
  attribute text NOT NULL,
  bucket timestamptz NOT NULL,
  sketch hll NOT NULL,
  PRIMARY KEY (organization_id, event_type, attribute, bucket)
);
CREATE TABLE rollup_totals_distinct_daily (LIKE rollup_totals_distinct_hourly INCLUDING ALL);
CREATE TABLE rollup_totals_distinct_hourly_pending (LIKE rollup_totals_distinct_hourly);
CREATE TABLE rollup_totals_distinct_daily_pending (LIKE rollup_totals_distinct_daily);
CREATE INDEX rollup_totals_distinct_hourly_pending_key ON rollup_totals_distinct_hourly_pending (organization_id, event_type, attribute, bucket);
CREATE INDEX rollup_totals_distinct_daily_pending_key ON rollup_totals_distinct_daily_pending (organization_id, event_type, attribute, bucket);

-- As fold_rollup_totals(), for the distinct totals; its own lock, so the two folds never wait on each other.
CREATE FUNCTION fold_distinct_totals() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  folded bigint := 0;
  changed bigint;
  grain text;
BEGIN
  IF NOT pg_try_advisory_xact_lock(hashtext('metrics-hub: fold_distinct_totals')) THEN
    RETURN -1;
  END IF;
  FOREACH grain IN ARRAY ARRAY['hourly', 'daily'] LOOP
    EXECUTE format($fold$
      WITH moved AS (
        DELETE FROM %1$I RETURNING organization_id, event_type, attribute, bucket, sketch
      )
      INSERT INTO %2$I AS r (organization_id, event_type, attribute, bucket, sketch)
      SELECT organization_id, event_type, attribute, bucket, hll_union_agg(sketch)
      FROM moved GROUP BY organization_id, event_type, attribute, bucket ORDER BY organization_id, event_type, attribute, bucket
      ON CONFLICT (organization_id, event_type, attribute, bucket) DO UPDATE SET sketch = hll_union(r.sketch, EXCLUDED.sketch)
    $fold$, 'rollup_totals_distinct_' || grain || '_pending', 'rollup_totals_distinct_' || grain);
    GET DIAGNOSTICS changed = ROW_COUNT;
    folded := folded + changed;
  END LOOP;
  RETURN folded;
END
$$;

-- Recomputes the distinct totals from the dimensioned sketches (a repair step, as rebuild_rollup_totals()).
CREATE FUNCTION rebuild_distinct_totals() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  LOCK TABLE rollups_distinct_hourly, rollups_distinct_daily, rollup_totals_distinct_hourly, rollup_totals_distinct_daily,
             rollup_totals_distinct_hourly_pending, rollup_totals_distinct_daily_pending IN EXCLUSIVE MODE;
  TRUNCATE rollup_totals_distinct_hourly, rollup_totals_distinct_daily, rollup_totals_distinct_hourly_pending, rollup_totals_distinct_daily_pending;
  INSERT INTO rollup_totals_distinct_hourly (organization_id, event_type, attribute, bucket, sketch)
  SELECT organization_id, event_type, attribute, bucket, hll_union_agg(sketch) FROM rollups_distinct_hourly GROUP BY 1, 2, 3, 4;
  INSERT INTO rollup_totals_distinct_daily (organization_id, event_type, attribute, bucket, sketch)
  SELECT organization_id, event_type, attribute, bucket, hll_union_agg(sketch) FROM rollups_distinct_daily GROUP BY 1, 2, 3, 4;
END
$$;

-- Down Migration
DROP FUNCTION rebuild_distinct_totals();
DROP FUNCTION fold_distinct_totals();
DROP TABLE rollup_totals_distinct_daily_pending;
DROP TABLE rollup_totals_distinct_hourly_pending;
DROP TABLE rollup_totals_distinct_daily;
DROP TABLE rollup_totals_distinct_hourly;
DROP TABLE rollups_distinct_daily;
DROP TABLE rollups_distinct_hourly;
DROP FUNCTION hll_entry(text);
DROP AGGREGATE hll_union_agg(hll);
DROP FUNCTION hll_union(hll, hll);
DROP FUNCTION hll_accumulate(hll, hll);
DROP FUNCTION hll_normalize(hll);
DROP FUNCTION hll_dense_max(bytea, bytea);
DROP FUNCTION hll_with_entries(bytea, int4[]);
DROP FUNCTION hll_raise(bytea, int[], int[]);
DROP FUNCTION hll_registers(int4[]);
DROP FUNCTION hll_empty_dense();
DROP TYPE hll;
