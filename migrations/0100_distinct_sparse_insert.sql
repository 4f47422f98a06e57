-- Up Migration

-- Cheaper increment upserts of distinct sketches (migration 0020). Ingestion
-- merges each batch's sketch of a rollup row (a few entries: the batch's
-- values of that hour or day and dimension set) into the stored one under the
-- row lock. hll_union used to concatenate the two and re-sort and deduplicate
-- all of it in SQL (unnest, GROUP BY, array_agg ORDER BY): every batch paid
-- for the size of every stored sketch it touched, up to 6,000 entries, and
-- that was most of what distinct metrics cost ingestion.
--
-- A few new entries are now appended when the stored sparse sketch does not
-- hold them yet (a C-level scan per entry, no sort), so a stored sparse sketch
-- holds distinct entries in any order: sorted after a full merge, appended
-- after these. Its count is unchanged: readers deduplicate per sparse index
-- (DistinctAccumulator, hll_normalize), and the rare second entry of one
-- sparse index (two values whose hashes share the top 25 bits) only counts its
-- higher rank. Larger or dense inputs (the fold of pending totals) merge as
-- before.
CREATE OR REPLACE FUNCTION hll_union(a hll, b hll) RETURNS hll
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  entry int4;
  fresh int4[] := '{}';
BEGIN
  IF a.dense IS NULL AND b.dense IS NULL AND cardinality(b.sparse) <= 64 AND cardinality(a.sparse) + cardinality(b.sparse) <= 6000 THEN
    FOREACH entry IN ARRAY b.sparse LOOP
      IF entry <> ALL (a.sparse) AND entry <> ALL (fresh) THEN
        fresh := fresh || entry;
      END IF;
    END LOOP;
    RETURN ROW(a.sparse || fresh, NULL)::hll;
  END IF;
  RETURN hll_normalize(hll_accumulate(a, b));
END
$$;

-- Down Migration
CREATE OR REPLACE FUNCTION hll_union(a hll, b hll) RETURNS hll
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT hll_normalize(hll_accumulate(a, b)) $$;
