-- Up Migration

-- Per-organization settings of the module databases Metrics Hub reads.
-- `module_user_id` is the organization's tenant in the shared business-module
-- database (its `user_id` column); catalog SQL binds it as :module_user_id.
CREATE TABLE organization_module_tenants (
  organization_id uuid PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
  module_user_id uuid NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- A source declared `connection: per_organization` (one database per business,
-- such as Communications) reads the connection set here for the key's
-- organization. Only `main` or an `env:NAME` reference is stored, never a secret.
CREATE TABLE organization_source_connections (
  organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  source_id text NOT NULL,
  connection text NOT NULL CHECK (connection = 'main' OR connection ~ '^env:[A-Za-z_][A-Za-z0-9_]*$'),
  schema_name text CHECK (schema_name ~ '^[a-z_][a-z0-9_]{0,62}$'),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (organization_id, source_id)
);

-- Down Migration
DROP TABLE organization_source_connections;
DROP TABLE organization_module_tenants;
