-- Up Migration

-- The totals' sketches also kept as text, computed by PostgreSQL whenever a
-- sketch changes. A cold percentile answer reads dozens of sketches with
-- hundreds of bins; turning jsonb into text (a numeric to format per bin) was
-- most of its database time: 2-3 ms for a 30-day p95 of 10M events, 0.7-0.9 ms
-- reading this column instead (bench/README.md, Query). Ingestion pays one
-- conversion per totals row it changes, a few dozen per batch.
ALTER TABLE rollup_totals_hourly ADD COLUMN sketch_text text GENERATED ALWAYS AS (sketch::text) STORED;
ALTER TABLE rollup_totals_daily ADD COLUMN sketch_text text GENERATED ALWAYS AS (sketch::text) STORED;

-- Down Migration
ALTER TABLE rollup_totals_daily DROP COLUMN sketch_text;
ALTER TABLE rollup_totals_hourly DROP COLUMN sketch_text;
