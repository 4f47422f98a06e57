-- Up Migration

-- Claims keys of one scope in ingest_keys and returns those claimed now (NULL
-- when none), as `INSERT ... ON CONFLICT DO NOTHING RETURNING key` does.
--
-- That statement pays for its arbiter on every row, duplicate or not: a
-- search of the primary key for a conflict before the insert, a speculative
-- heap insert, the index insert, and a second WAL record to confirm the heap
-- tuple. Event ids are nearly always new (a duplicate is a retried batch), so
-- a plain insert is tried first, inside a subtransaction (one per batch); only
-- when it hits a key that exists (a retry, an id repeated within the batch, or
-- a concurrent batch holding the same id, whose commit the insert waited for,
-- as the arbiter does) is it undone and the keys claimed with ON CONFLICT.
-- The same keys are claimed either way, and a concurrent claim of a key still
-- waits for the other transaction (bench/README.md, issue 20, step 22: 1000
-- keys per call cost 3-5 us less per key).
--
-- Rows are inserted in the order of `keys`: callers sort them so concurrent
-- batches take the key locks in the same order.
CREATE FUNCTION claim_new_keys(org uuid, key_scope text, keys text[], times timestamptz[]) RETURNS text[]
LANGUAGE plpgsql AS $$
DECLARE
  claimed text[];
BEGIN
  BEGIN
    WITH fresh AS (
      INSERT INTO ingest_keys (organization_id, scope, key, occurred_at)
      SELECT org, key_scope, k.key, k.at FROM unnest(keys, times) AS k (key, at)
      RETURNING key
    )
    SELECT array_agg(key) INTO claimed FROM fresh;
    RETURN claimed;
  EXCEPTION WHEN unique_violation THEN
    NULL; -- some key exists: claim the others
  END;
  WITH fresh AS (
    INSERT INTO ingest_keys (organization_id, scope, key, occurred_at)
    SELECT org, key_scope, k.key, k.at FROM unnest(keys, times) AS k (key, at)
    ON CONFLICT DO NOTHING
    RETURNING key
  )
  SELECT array_agg(key) INTO claimed FROM fresh;
  RETURN claimed;
END
$$;

-- Down Migration
DROP FUNCTION claim_new_keys(uuid, text, text[], timestamptz[]);
