-- Up Migration

-- Current state of every (organization, rule, series). `series_key` is the
-- canonical JSON of the series labels ('{}' for an ungrouped metric).
CREATE TABLE alert_states (
  organization_id uuid NOT NULL,
  rule_id text NOT NULL,
  series_key text NOT NULL,
  metric text NOT NULL,
  labels jsonb NOT NULL DEFAULT '{}'::jsonb,
  state text NOT NULL CHECK (state IN ('normal', 'pending', 'firing')),
  severity text NOT NULL CHECK (severity IN ('healthy', 'warning', 'critical')),
  -- When the current state began, and (while firing) when the breach last cleared.
  state_since timestamptz NOT NULL,
  clear_since timestamptz,
  firing_since timestamptz,
  last_evaluated_at timestamptz NOT NULL,
  last_value double precision,
  expected double precision,
  message text,
  recommendation text,
  PRIMARY KEY (organization_id, rule_id, series_key)
);

-- History: one row per state change. The unique key makes a retried evaluation
-- of the same tick (at-least-once job delivery) unable to record it twice.
CREATE TABLE alert_transitions (
  id bigserial,
  organization_id uuid NOT NULL,
  rule_id text NOT NULL,
  series_key text NOT NULL,
  metric text NOT NULL,
  labels jsonb NOT NULL DEFAULT '{}'::jsonb,
  from_state text NOT NULL,
  to_state text NOT NULL,
  severity text NOT NULL,
  evaluated_at timestamptz NOT NULL,
  value double precision,
  expected double precision,
  message text NOT NULL,
  recommendation text,
  PRIMARY KEY (organization_id, id),
  UNIQUE (organization_id, rule_id, series_key, evaluated_at, to_state)
);
CREATE INDEX alert_transitions_time ON alert_transitions (organization_id, evaluated_at);

-- Down Migration
DROP TABLE alert_transitions;
DROP TABLE alert_states;
