-- Up Migration

-- Merges two DDSketch bin maps ({"<bin key>": count}) by adding counts per bin.
-- Used inside ON CONFLICT DO UPDATE so sketches are incremented atomically under
-- the row lock, never read and rewritten by the application.
CREATE FUNCTION sketch_merge(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN a IS NULL THEN b
    WHEN b IS NULL THEN a
    ELSE (
      SELECT jsonb_object_agg(key, total)
      FROM (
        SELECT key, sum(value::numeric) AS total
        FROM (SELECT * FROM jsonb_each_text(a) UNION ALL SELECT * FROM jsonb_each_text(b)) bins
        GROUP BY key
      ) merged
    )
  END
$$;

-- Rollups: one row per (organization, event type, bucket, dimension set).
-- `dims` holds only the catalog's declared dimensions; keying by organization
-- first lets these tables be distributed by organization_id (Citus) unchanged.
-- No foreign key to organizations: it would cost a lookup on every upsert.
CREATE TABLE rollups_hourly (
  organization_id uuid NOT NULL,
  event_type text NOT NULL,
  bucket timestamptz NOT NULL,
  dims jsonb NOT NULL DEFAULT '{}'::jsonb,
  count bigint NOT NULL,
  sum double precision NOT NULL,
  min double precision,
  max double precision,
  sketch jsonb,
  PRIMARY KEY (organization_id, event_type, bucket, dims)
);

CREATE TABLE rollups_daily (LIKE rollups_hourly INCLUDING ALL);

-- Down Migration
DROP TABLE rollups_daily;
DROP TABLE rollups_hourly;
DROP FUNCTION sketch_merge(jsonb, jsonb);
