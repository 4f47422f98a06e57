-- Up Migration

-- value_count: how many of the row's events carried a value. count includes
-- events without one (a missed call has no duration), so an average is
-- sum / value_count, never sum / count. Rows written before this column
-- existed had a sketch bin for every valued event, so the bins' total is
-- exactly their value_count.
ALTER TABLE rollups_hourly ADD COLUMN value_count bigint NOT NULL DEFAULT 0;
ALTER TABLE rollups_daily ADD COLUMN value_count bigint NOT NULL DEFAULT 0;
UPDATE rollups_hourly SET value_count = (SELECT coalesce(sum(n::numeric), 0) FROM jsonb_each_text(sketch) AS bins (bin, n)) WHERE sketch IS NOT NULL;
UPDATE rollups_daily SET value_count = (SELECT coalesce(sum(n::numeric), 0) FROM jsonb_each_text(sketch) AS bins (bin, n)) WHERE sketch IS NOT NULL;

-- Sum of sketches over rows, the aggregate form of sketch_merge.
CREATE AGGREGATE sketch_merge_agg(jsonb) (SFUNC = sketch_merge, STYPE = jsonb);

-- Totals: one row per (organization, event type, bucket) over all dimension
-- sets, kept by ingestion next to the dimensioned rows. A question without
-- group-by or filters (most dashboard panels, every KPI) reads one row per
-- bucket here instead of one per dimension combination (about 20 times fewer).
CREATE TABLE rollup_totals_hourly (
  organization_id uuid NOT NULL,
  event_type text NOT NULL,
  bucket timestamptz NOT NULL,
  count bigint NOT NULL,
  value_count bigint NOT NULL,
  sum double precision NOT NULL,
  min double precision,
  max double precision,
  sketch jsonb,
  PRIMARY KEY (organization_id, event_type, bucket)
);

CREATE TABLE rollup_totals_daily (LIKE rollup_totals_hourly INCLUDING ALL);

-- Recomputes the totals from the dimensioned rollups: the backfill below, and
-- a repair or bulk-load step. Locks the rollups against concurrent ingestion
-- for its duration so the two cannot disagree.
CREATE FUNCTION rebuild_rollup_totals() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  LOCK TABLE rollups_hourly, rollups_daily, rollup_totals_hourly, rollup_totals_daily IN EXCLUSIVE MODE;
  TRUNCATE rollup_totals_hourly, rollup_totals_daily;
  INSERT INTO rollup_totals_hourly (organization_id, event_type, bucket, count, value_count, sum, min, max, sketch)
  SELECT organization_id, event_type, bucket, sum(count), sum(value_count), sum(sum), min(min), max(max), sketch_merge_agg(sketch)
  FROM rollups_hourly GROUP BY organization_id, event_type, bucket;
  INSERT INTO rollup_totals_daily (organization_id, event_type, bucket, count, value_count, sum, min, max, sketch)
  SELECT organization_id, event_type, bucket, sum(count), sum(value_count), sum(sum), min(min), max(max), sketch_merge_agg(sketch)
  FROM rollups_daily GROUP BY organization_id, event_type, bucket;
END
$$;

SELECT rebuild_rollup_totals();

-- Down Migration
DROP FUNCTION rebuild_rollup_totals();
DROP TABLE rollup_totals_daily;
DROP TABLE rollup_totals_hourly;
DROP AGGREGATE sketch_merge_agg(jsonb);
ALTER TABLE rollups_daily DROP COLUMN value_count;
ALTER TABLE rollups_hourly DROP COLUMN value_count;
