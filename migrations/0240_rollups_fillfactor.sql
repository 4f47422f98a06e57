-- Up Migration

-- Every batch updates most of the dimensioned rollup rows of its hours and day
-- in place (increment upserts). A full page cannot take the new version of a
-- row, so the update goes to another page and inserts a new entry in the
-- primary key (uuid, text, timestamptz and a jsonb compared key by key): 95 %
-- of the hourly and 74 % of the daily updates in the ingest benchmark. Pages
-- filled to 75 % keep room for the new versions on the same page (heap-only
-- tuples: no index entry, and the old versions are pruned without a vacuum):
-- 51 % and 32 % of the updates then still insert an index entry.
-- Applies to pages written from now on.
--
-- A daily row whose sketch holds a busy day's bins (a hundred and more, 2-4
-- kB) was compressed on every update, and the upsert's merge decompressed it
-- once per bin it looked up (`r.sketch ->> key`): pglz took about 15 % of the
-- daily upsert. Rows up to a page (8,160 bytes) are now stored as they are;
-- larger ones are compressed as before. Hourly rows are far smaller.
-- bench/README.md, issue 20, step 19.
ALTER TABLE rollups_hourly SET (fillfactor = 75);
ALTER TABLE rollups_daily SET (fillfactor = 75, toast_tuple_target = 8160);

-- Down Migration
ALTER TABLE rollups_hourly RESET (fillfactor);
ALTER TABLE rollups_daily RESET (fillfactor, toast_tuple_target);
