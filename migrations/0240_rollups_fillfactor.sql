-- Up Migration

-- Every batch updates most of the dimensioned rollup rows of its hours and day
-- in place (increment upserts). A full page cannot take the new version of a
-- row, so the update goes to another page and inserts a new entry in the
-- primary key (uuid, text, timestamptz and a jsonb compared key by key): 93 %
-- of the hourly and 52 % of the daily updates of the ingest benchmark's 1M
-- events. Pages filled to 75 % keep room for the new versions on the same
-- page (heap-only tuples: no index entry, and the old versions are pruned
-- without a vacuum): 49 % and 30 % of the updates then still insert one.
-- Applies to pages written from now on.
ALTER TABLE rollups_hourly SET (fillfactor = 75);
ALTER TABLE rollups_daily SET (fillfactor = 75);

-- A daily row whose sketch holds a busy day's bins (a hundred and more) is
-- compressed, and the upsert's merge decompressed it once per bin it looked up
-- (`r.sketch ->> key`) and compressed it again: pglz took about 15 % of the
-- daily upsert. lz4 does both several times faster, for about the same size
-- (storing those rows uncompressed was faster still, but made the table 2.6
-- times larger). Values written from now on; a server built without lz4 keeps
-- pglz. bench/README.md, issue 20, step 19.
DO $$
BEGIN
  IF 'lz4' = ANY (SELECT unnest(enumvals) FROM pg_settings WHERE name = 'default_toast_compression') THEN
    ALTER TABLE rollups_daily ALTER COLUMN sketch SET COMPRESSION lz4;
  END IF;
END
$$;

-- Down Migration
ALTER TABLE rollups_daily ALTER COLUMN sketch SET COMPRESSION default;
ALTER TABLE rollups_hourly RESET (fillfactor);
ALTER TABLE rollups_daily RESET (fillfactor);
