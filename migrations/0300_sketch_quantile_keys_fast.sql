-- Up Migration

-- sketch_quantile_keys_walk() (migration 0165) runs for every hourly
-- per-dimension row the fold writes with a sketch of more than one bin (the
-- generated `quantile_points`, migration 0180): 37,000 calls per 1M events of
-- the ingest benchmark, about a third of fold_dimension_totals()' CPU. Most of
-- a call was PL/pgSQL's per-row work: a query loop over jsonb_each and seven
-- or eight statements per bin.
--
-- Most sketches hold only bins of values of 1 and more: keys "1" to
-- "999999999", no "z", "n..." or negative key. Then jsonb's key order (length,
-- then bytes) is ascending numeric order, there is no zero or negative rank,
-- and the keys are the first bins whose running count exceeds q * (n - 1).
-- This reads such a sketch from its text form in one cast (keys and counts
-- alternating in a float8[]: jsonb prints numbers with numeric_out, which is
-- what jsonb -> float8 parses too), sums the counts once in order into a
-- running array (the same float additions as the walk's), and finds each
-- percentile's bin with width_bucket (the number of running sums at most the
-- rank). Anything else (zero, negative bins, values below 1, bin 0, keys or
-- counts of unusual form) goes to the walk of 0165, renamed
-- sketch_quantile_keys_walk_general. The same text for every sketch
-- (backend/test/sketch-quantile-keys.test.ts compares the two); bench/README.md,
-- issue 20, step 25.
ALTER FUNCTION sketch_quantile_keys_walk(jsonb) RENAME TO sketch_quantile_keys_walk_general;

CREATE FUNCTION sketch_quantile_keys_walk(sketch jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  t constant text := sketch::text;
  alternating float8[];
  running float8[];
  total float8 := 0;
  bins int;
  picked text;
BEGIN
  -- Keys without leading zeros of at most 9 digits (ints), whole counts of at most 15 digits (exact as float8).
  IF t !~ '^\{("[1-9][0-9]{0,8}": [0-9]{1,15}, )*"[1-9][0-9]{0,8}": [0-9]{1,15}\}$' THEN
    RETURN sketch_quantile_keys_walk_general(sketch);
  END IF;
  alternating := replace(replace(t, '"', ''), ':', ',')::float8[];
  bins := cardinality(alternating) / 2;
  running := array_fill(0::float8, ARRAY[bins]);
  FOR i IN 1..bins LOOP
    total := total + alternating[2 * i];
    running[i] := total;
  END LOOP;
  IF total = 0 THEN RETURN NULL; END IF;
  -- rank = q * (n - 1), as the walk; the key of the first bin whose running count exceeds it.
  picked := alternating[2 * width_bucket(0.5::float8 * (total - 1), running) + 1]::int::text;
  picked := picked || ' ' || alternating[2 * width_bucket(0.9::float8 * (total - 1), running) + 1]::int::text;
  picked := picked || ' ' || alternating[2 * width_bucket(0.95::float8 * (total - 1), running) + 1]::int::text;
  RETURN picked || ' ' || alternating[2 * width_bucket(0.99::float8 * (total - 1), running) + 1]::int::text;
END
$$;

-- Down Migration
DROP FUNCTION sketch_quantile_keys_walk(jsonb);
ALTER FUNCTION sketch_quantile_keys_walk_general(jsonb) RENAME TO sketch_quantile_keys_walk;
