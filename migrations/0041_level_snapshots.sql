-- Up Migration

-- Daily (and on-demand) snapshots of level metrics (open prospects, balances):
-- a level's SQL can only say what the state is now, so its history, KPI
-- previous period and trend come from here. One row per organization, metric,
-- snapshot time and set of dimension values; a retried snapshot of the same
-- tick changes nothing (primary key).
CREATE TABLE level_snapshots (
  organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  metric text NOT NULL,
  taken_at timestamptz NOT NULL,
  labels jsonb NOT NULL DEFAULT '{}'::jsonb,
  value double precision NOT NULL,
  PRIMARY KEY (organization_id, metric, taken_at, labels)
);

-- Down Migration
DROP TABLE level_snapshots;
