-- Up Migration

-- The bin keys at p50, p90, p95 and p99 of each hourly per-dimension row, as
-- one text ("550 584 590 601"; "z" zero, "n<k>" a negative value's bin, as in
-- backend/src/rollups/sketch.ts). A point of an hourly percentile grouped by
-- one dimension (the hourly p95 by bot) is one such row: its reader sends the
-- key instead of the sketch when the point has no pending row, and Node maps
-- it to the value as it maps a merged sketch's key, so answers do not change.
-- Reading and sending 3,600 sketches of about 170 bytes was most of that
-- answer's adapter time (bench/README.md, issue 20, step 7).
--
-- Same rank rule as SketchAccumulator.quantile (DDSketch's): rank = q * (n - 1)
-- over negatives (bins ascending by magnitude), then zero, then positives.
-- PL/pgSQL, one pass over the bins: jsonb lists keys by length, then bytes,
-- which orders "550" keys ascending and "-69" keys (values below 1) by
-- magnitude; each goes to the front or the end of its array, and a key out
-- of that order makes the function answer NULL (the reader then sends the
-- sketch). NULL too for an empty sketch. Computed on every write of a folded
-- row; the pending twin (created from this table by migration 0160) has no
-- such column, and the folds and rebuilds list their columns.
CREATE FUNCTION sketch_quantile_keys_walk(sketch jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  key text;
  count float8;
  bin int;
  negative_bins int[] := '{}';
  negative_counts float8[] := '{}';
  positive_bins int[] := '{}';
  positive_counts float8[] := '{}';
  negatives float8 := 0;
  zero float8 := 0;
  positives float8 := 0;
  qs constant float8[] := ARRAY[0.5, 0.9, 0.95, 0.99];
  ranks float8[] := ARRAY[0, 0, 0, 0];
  picked text[] := ARRAY[NULL, NULL, NULL, NULL];
  running float8 := 0;
  i int;
  j int;
BEGIN
  -- Each kind's bins in ascending order: keys of one sign arrive in order of magnitude.
  FOR key, count IN SELECT b.key, b.value::float8 FROM jsonb_each(sketch) b LOOP
    IF key = 'z' THEN
      zero := zero + count;
    ELSIF left(key, 1) = 'n' THEN
      bin := substr(key, 2)::int;
      negatives := negatives + count;
      IF bin < 0 THEN
        IF bin >= negative_bins[1] THEN RETURN NULL; END IF;
        negative_bins := bin || negative_bins;
        negative_counts := count || negative_counts;
      ELSE
        IF bin <= negative_bins[cardinality(negative_bins)] THEN RETURN NULL; END IF;
        negative_bins := negative_bins || bin;
        negative_counts := negative_counts || count;
      END IF;
    ELSE
      bin := key::int;
      positives := positives + count;
      IF bin < 0 THEN
        IF bin >= positive_bins[1] THEN RETURN NULL; END IF;
        positive_bins := bin || positive_bins;
        positive_counts := count || positive_counts;
      ELSE
        IF bin <= positive_bins[cardinality(positive_bins)] THEN RETURN NULL; END IF;
        positive_bins := positive_bins || bin;
        positive_counts := positive_counts || count;
      END IF;
    END IF;
  END LOOP;
  IF negatives + zero + positives = 0 THEN RETURN NULL; END IF;
  -- JavaScript's float arithmetic, operation by operation: rank = q * (n - 1).
  FOR j IN 1..4 LOOP
    ranks[j] := qs[j] * (negatives + zero + positives - 1);
    IF ranks[j] >= negatives AND ranks[j] < negatives + zero THEN picked[j] := 'z'; END IF;
  END LOOP;
  -- Ranks among the negatives (DenseBins.keyAtRank(negatives - rank - 1, false)), the highest quantile first:
  -- bins ascending by magnitude, the threshold rising as q falls.
  j := 4;
  WHILE j >= 1 AND ranks[j] >= negatives LOOP j := j - 1; END LOOP;
  i := 1;
  WHILE j >= 1 LOOP
    running := running + negative_counts[i];
    WHILE j >= 1 AND running >= ((negatives - ranks[j]) - 1) + 1 LOOP
      picked[j] := 'n' || negative_bins[i];
      j := j - 1;
    END LOOP;
    i := i + 1;
  END LOOP;
  -- Ranks among the positives (keyAtRank(rank - zero - negatives, true)): bins ascending, thresholds rising with q.
  j := 1;
  WHILE j <= 4 AND ranks[j] < negatives + zero LOOP j := j + 1; END LOOP;
  i := 1;
  running := 0;
  WHILE j <= 4 LOOP
    running := running + positive_counts[i];
    WHILE j <= 4 AND running > (ranks[j] - zero) - negatives LOOP
      picked[j] := positive_bins[i]::text;
      j := j + 1;
    END LOOP;
    i := i + 1;
  END LOOP;
  RETURN array_to_string(picked, ' ');
END
$$;

-- A sketch of one bin (about half the hourly rows of the benchmark's 10M events) has that bin at every quantile:
-- read from its text form without PL/pgSQL (an SQL expression the generated column inlines), a fifth of the time.
CREATE FUNCTION sketch_quantile_keys(sketch jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN strpos(sketch::text, ',') > 0 THEN sketch_quantile_keys_walk(sketch)
    WHEN split_part(sketch::text, '"', 2) = '' OR split_part(sketch::text, ': ', 2) = '0}' THEN NULL
    ELSE repeat(split_part(sketch::text, '"', 2) || ' ', 3) || split_part(sketch::text, '"', 2)
  END
$$;

ALTER TABLE rollup_dimension_totals_hourly ADD COLUMN quantile_keys text GENERATED ALWAYS AS (sketch_quantile_keys(sketch)) STORED;

-- Down Migration
ALTER TABLE rollup_dimension_totals_hourly DROP COLUMN quantile_keys;
DROP FUNCTION sketch_quantile_keys(jsonb);
DROP FUNCTION sketch_quantile_keys_walk(jsonb);
