-- Up Migration

-- hll_union() of migration 0100 is PL/pgSQL: every increment upsert of a
-- distinct sketch called it once per conflicting row (82,000 calls per 1M
-- events of the ingest benchmark), and its loop over the batch's entries cost
-- about 0.7 us per entry on top of the call. Most calls add a batch of a few
-- entries that the stored sparse sketch does not hold yet: then the union is
-- the stored entries followed by the batch's, which one SQL expression gives.
-- hll_union is now that expression, which PostgreSQL inlines into the calling
-- statement (no function call), and the PL/pgSQL function, renamed
-- hll_union_walk, merges everything else (an entry both hold, large or dense
-- sketches, NULLs).
--
-- The same value as hll_union_walk whenever the batch's entries are distinct,
-- which every caller's are (ingestion sends one entry per sparse index,
-- sorted; the folds pass hll_normalize's output); a batch with an entry
-- repeated would keep the repeat, which reads the same (readers keep one
-- entry per sparse index). bench/README.md, issue 20, step 22.
ALTER FUNCTION hll_union(hll, hll) RENAME TO hll_union_walk;

CREATE FUNCTION hll_union(a hll, b hll) RETURNS hll
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN a.dense IS NULL AND b.dense IS NULL AND cardinality(b.sparse) <= 64 AND cardinality(a.sparse) + cardinality(b.sparse) <= 6000
         AND NOT (a.sparse && b.sparse)
      THEN ROW(a.sparse || b.sparse, NULL)::hll
    ELSE hll_union_walk(a, b)
  END
$$;

-- Down Migration
DROP FUNCTION hll_union(hll, hll);
ALTER FUNCTION hll_union_walk(hll, hll) RENAME TO hll_union;
