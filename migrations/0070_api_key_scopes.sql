-- Up Migration
-- Every key has one scope. Keys made before scopes existed could do everything,
-- so they become 'admin' (the README asks operators to replace them with
-- narrower keys); new keys always name their scope.
ALTER TABLE api_keys
  ADD COLUMN scope text NOT NULL DEFAULT 'admin' CHECK (scope IN ('read', 'ingest', 'admin')),
  ADD COLUMN last_used_at timestamptz;
ALTER TABLE api_keys ALTER COLUMN scope DROP DEFAULT;

-- Down Migration
ALTER TABLE api_keys DROP COLUMN last_used_at, DROP COLUMN scope;
