-- Up Migration

-- Every batch updates most of the dimensioned rollup rows of its hours and day
-- in place (increment upserts). A full page cannot take the new version of a
-- row, so the update goes to another page and inserts a new entry in the
-- primary key (uuid, text, timestamptz and a jsonb compared key by key): 95 %
-- of the hourly and 74 % of the daily updates in the ingest benchmark. Pages
-- filled to 75 % keep room for the new versions on the same page (heap-only
-- tuples: no index entry, and the old versions are pruned without a vacuum).
-- Applies to pages written from now on (bench/README.md, issue 20, step 19).
ALTER TABLE rollups_hourly SET (fillfactor = 75);
ALTER TABLE rollups_daily SET (fillfactor = 75);

-- Down Migration
ALTER TABLE rollups_hourly RESET (fillfactor);
ALTER TABLE rollups_daily RESET (fillfactor);
