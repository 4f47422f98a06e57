-- Up Migration

-- Raw events, partitioned by calendar month (UTC) of occurred_at so data past
-- retention is dropped a whole partition at a time (DROP TABLE, no vacuum debt).
-- Monthly partitions `events_yYYYYmMM` are created on demand by ingestion
-- (backend/src/ingest/partitions.ts) before a batch is written.
--
-- No DEFAULT partition: ingestion only accepts times within retention and a
-- small future skew and creates their partitions first, so a default partition
-- would stay empty; and if it ever held rows of a month, creating that month's
-- partition later would fail (and would scan it under an exclusive lock).
--
-- Uniqueness of (organization_id, event_id) is NOT a constraint of this table:
-- PostgreSQL can only enforce unique keys on a partitioned table when they
-- include the partition key, and the same event id sent with another
-- occurredAt must still be a duplicate. `ingest_keys` below enforces it.
CREATE TABLE events (
  organization_id uuid NOT NULL,
  occurred_at timestamptz NOT NULL,
  event_id text COLLATE "C" NOT NULL,
  event_type text COLLATE "C" NOT NULL,
  value double precision,
  attributes jsonb NOT NULL DEFAULT '{}'::jsonb,
  received_at timestamptz NOT NULL DEFAULT now()
) PARTITION BY RANGE (occurred_at);

-- No secondary index: queries read the rollups, never raw rows, and an index
-- would cost about two thirds of the raw insert on the hot path. Reprocessing
-- or export reads whole monthly partitions.

-- Idempotency keys, one row per thing that may be counted only once:
--   scope 'event'              key = the client's event id;
--   scope 'message.delivered'  key = attributes.messageId (delivery or read callback);
--   scope 'message.read'       key = attributes.messageId (read callback).
-- Ingestion inserts keys with ON CONFLICT DO NOTHING RETURNING in the batch's
-- transaction: a returned key is new, and a concurrent transaction inserting the
-- same key waits on the unique index until this one commits or aborts, so two
-- writers can never both count an event.
-- occurred_at lets retention delete keys together with their events: an event
-- older than retention is rejected at ingestion, so a purged key cannot be
-- counted a second time.
-- Keys compare bytewise (COLLATE "C"): they are identifiers, not words, and
-- bytewise comparison keeps the unique index cheap on the hot insert path.
CREATE TABLE ingest_keys (
  organization_id uuid NOT NULL,
  scope text COLLATE "C" NOT NULL,
  key text COLLATE "C" NOT NULL,
  occurred_at timestamptz NOT NULL,
  PRIMARY KEY (organization_id, scope, key)
);

-- Same result as the sketch_merge of 0002, cheaper for the ingest upsert:
-- there `a` is the stored sketch (hundreds of bins for a busy day) and `b` the
-- batch's few bins. This walks only b's bins, looks each up in a, and overlays
-- the sums on a, instead of expanding and regrouping both maps per upsert.
CREATE OR REPLACE FUNCTION sketch_merge(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN a IS NULL THEN b
    WHEN b IS NULL THEN a
    ELSE a || (SELECT coalesce(jsonb_object_agg(key, coalesce((a ->> key)::numeric, 0) + value::numeric), '{}'::jsonb) FROM jsonb_each_text(b))
  END
$$;

-- Down Migration
CREATE OR REPLACE FUNCTION sketch_merge(a jsonb, b jsonb) RETURNS jsonb
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
DROP TABLE ingest_keys;
DROP TABLE events;
