import { z } from 'zod';
import { NotFoundError, findOrganization } from '../auth/keys.js';
import type { Pool } from '../db/pool.js';
import { envReferenceSchema } from '../sources/env-ref.js';

/**
 * Per-organization source settings, in PostgreSQL so every instance sees the
 * same: which tenant (`user_id`) of the shared business-module database an
 * organization is, and which connection a `per_organization` source (one
 * database per business) uses for it. Set by the CLI, read by the postgres
 * adapter on every query; never taken from a request.
 */

export class SettingError extends Error {}

const uuid = z.uuid({ error: 'must be a UUID (the user_id of the organization in the module database)' });

/** `main` (Metrics Hub's own database) or `env:NAME` (a variable holding a postgres:// URL); never the URL itself. */
export const connectionReferenceSchema = z.string().refine((value) => value === 'main' || envReferenceSchema.safeParse(value).success, {
  message: "must be 'main' or env:NAME naming a variable that holds a postgres:// URL (secrets are never stored)",
});

export const schemaNameSchema = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case PostgreSQL schema name');

function check<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new SettingError(`${what}: ${parsed.error.issues[0]!.message}`);
  return parsed.data;
}

async function organizationId(pool: Pool, name: string): Promise<string> {
  const organization = await findOrganization(pool, name);
  if (!organization) throw new NotFoundError(`organization '${name}' does not exist; create it with: metrics-hub orgs create ${name}`);
  return organization.id;
}

export async function setModuleUserId(pool: Pool, organizationName: string, moduleUserId: string): Promise<void> {
  const value = check(uuid, moduleUserId, '--module-user-id');
  await pool.query(
    `INSERT INTO organization_module_tenants (organization_id, module_user_id) VALUES ($1, $2)
     ON CONFLICT (organization_id) DO UPDATE SET module_user_id = EXCLUDED.module_user_id, updated_at = now()`,
    [await organizationId(pool, organizationName), value],
  );
}

export async function moduleUserIdOf(pool: Pool, organizationId: string): Promise<string | undefined> {
  const result = await pool.query<{ module_user_id: string }>('SELECT module_user_id FROM organization_module_tenants WHERE organization_id = $1', [organizationId]);
  return result.rows[0]?.module_user_id;
}

export interface SourceConnection {
  connection: string;
  schema: string | null;
}

export async function setSourceConnection(pool: Pool, organizationName: string, sourceId: string, setting: { connection: string; schema?: string | undefined }): Promise<void> {
  const connection = check(connectionReferenceSchema, setting.connection, '--url');
  const schema = setting.schema === undefined ? null : check(schemaNameSchema, setting.schema, '--schema');
  await pool.query(
    `INSERT INTO organization_source_connections (organization_id, source_id, connection, schema_name) VALUES ($1, $2, $3, $4)
     ON CONFLICT (organization_id, source_id) DO UPDATE SET connection = EXCLUDED.connection, schema_name = EXCLUDED.schema_name, updated_at = now()`,
    [await organizationId(pool, organizationName), sourceId, connection, schema],
  );
}

export async function sourceConnectionOf(pool: Pool, organizationId: string, sourceId: string): Promise<SourceConnection | undefined> {
  const result = await pool.query<{ connection: string; schema_name: string | null }>(
    'SELECT connection, schema_name FROM organization_source_connections WHERE organization_id = $1 AND source_id = $2',
    [organizationId, sourceId],
  );
  const row = result.rows[0];
  return row && { connection: row.connection, schema: row.schema_name };
}

/** Every organization with its settings, for `orgs list` and `sources list`. */
export async function listSettings(pool: Pool): Promise<Array<{ name: string; moduleUserId: string | null; connections: Array<{ source: string; connection: string; schema: string | null }> }>> {
  const result = await pool.query<{ name: string; module_user_id: string | null; connections: Array<{ source: string; connection: string; schema: string | null }> }>(
    `SELECT o.name, t.module_user_id,
            coalesce(jsonb_agg(jsonb_build_object('source', c.source_id, 'connection', c.connection, 'schema', c.schema_name) ORDER BY c.source_id)
                     FILTER (WHERE c.source_id IS NOT NULL), '[]'::jsonb) AS connections
     FROM organizations o
     LEFT JOIN organization_module_tenants t ON t.organization_id = o.id
     LEFT JOIN organization_source_connections c ON c.organization_id = o.id
     GROUP BY o.name, t.module_user_id ORDER BY o.name`,
  );
  return result.rows.map((row) => ({ name: row.name, moduleUserId: row.module_user_id, connections: row.connections }));
}
