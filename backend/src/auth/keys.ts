import { createHash, randomBytes } from 'node:crypto';
import type { Pool } from '../db/pool.js';
import type { Scope } from './scopes.js';

/** What a valid key resolves to: everything a request may touch is scoped by this. */
export interface Principal {
  organizationId: string;
  organizationName: string;
  keyId: string;
  scope: Scope;
}

/** A key as listed to operators: never the key itself. */
export interface ApiKeyInfo {
  id: string;
  name: string;
  prefix: string;
  scope: Scope;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

const KEY_PATTERN = /^mh_[a-z0-9]{8}_[A-Za-z0-9_-]{43}$/;

export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** `mh_<8-char public prefix>_<256-bit secret>`; the prefix identifies a key in listings. */
export function generateKey(): { key: string; prefix: string } {
  const prefix = randomBytes(6).toString('hex').slice(0, 8);
  return { key: `mh_${prefix}_${randomBytes(32).toString('base64url')}`, prefix };
}

export class NotFoundError extends Error {}

export async function createOrganization(pool: Pool, name: string): Promise<{ id: string; name: string }> {
  const result = await pool.query<{ id: string; name: string }>(
    `INSERT INTO organizations (name) VALUES ($1)
     ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
     RETURNING id, name`,
    [name],
  );
  return result.rows[0]!;
}

export async function findOrganization(pool: Pool, name: string): Promise<{ id: string; name: string } | undefined> {
  const result = await pool.query<{ id: string; name: string }>('SELECT id, name FROM organizations WHERE name = $1', [name]);
  return result.rows[0];
}

export async function listOrganizations(pool: Pool): Promise<Array<{ id: string; name: string; keys: number }>> {
  const result = await pool.query<{ id: string; name: string; keys: number }>(
    `SELECT o.id, o.name, count(k.id) FILTER (WHERE k.revoked_at IS NULL)::int AS keys
     FROM organizations o LEFT JOIN api_keys k ON k.organization_id = o.id
     GROUP BY o.id ORDER BY o.name`,
  );
  return result.rows;
}

async function requireOrganization(pool: Pool, organizationName: string): Promise<{ id: string; name: string }> {
  const organization = await findOrganization(pool, organizationName);
  if (!organization) throw new NotFoundError(`organization '${organizationName}' does not exist; create it with: metrics-hub orgs create ${organizationName}`);
  return organization;
}

/**
 * Creates a key for an organization. Callers that act for a person (CLI, HTTP)
 * always pass the scope they were asked for; `admin` is the default only for
 * the demo and the test harnesses, which exercise every route.
 */
export async function createApiKey(
  pool: Pool,
  organizationName: string,
  keyName = 'default',
  scope: Scope = 'admin',
): Promise<{ id: string; key: string; prefix: string; organizationId: string; scope: Scope }> {
  const organization = await requireOrganization(pool, organizationName);
  return { ...(await insertKey(pool, organization.id, keyName, scope)), organizationId: organization.id };
}

export async function insertKey(pool: Pool, organizationId: string, keyName: string, scope: Scope): Promise<{ id: string; key: string; prefix: string; scope: Scope }> {
  const { key, prefix } = generateKey();
  const result = await pool.query<{ id: string }>(
    'INSERT INTO api_keys (organization_id, name, prefix, key_hash, scope) VALUES ($1, $2, $3, $4, $5) RETURNING id',
    [organizationId, keyName, prefix, hashKey(key), scope],
  );
  return { id: result.rows[0]!.id, key, prefix, scope };
}

const KEY_INFO_COLUMNS = `id, name, prefix, scope, created_at AS "createdAt", last_used_at AS "lastUsedAt", revoked_at AS "revokedAt"`;

function keyInfo(row: Omit<ApiKeyInfo, 'createdAt' | 'lastUsedAt' | 'revokedAt'> & { createdAt: Date; lastUsedAt: Date | null; revokedAt: Date | null }): ApiKeyInfo {
  return { ...row, createdAt: row.createdAt.toISOString(), lastUsedAt: row.lastUsedAt?.toISOString() ?? null, revokedAt: row.revokedAt?.toISOString() ?? null };
}

/** Every key of an organization, newest first, revoked ones included (marked). */
export async function listApiKeys(pool: Pool, organizationId: string): Promise<ApiKeyInfo[]> {
  const result = await pool.query(`SELECT ${KEY_INFO_COLUMNS} FROM api_keys WHERE organization_id = $1 ORDER BY created_at DESC, id`, [organizationId]);
  return result.rows.map(keyInfo);
}

export async function listApiKeysOf(pool: Pool, organizationName: string): Promise<ApiKeyInfo[]> {
  return listApiKeys(pool, (await requireOrganization(pool, organizationName)).id);
}

/**
 * Changes the scope of active keys by id or prefix, within one organization
 * when `organizationId` is given (HTTP) or anywhere (CLI). Takes effect on the
 * next request, on every process: keys are checked against the database each time.
 */
export async function setApiKeyScope(pool: Pool, idOrPrefix: string, scope: Scope, organizationId?: string): Promise<ApiKeyInfo[]> {
  const result = await pool.query(
    `UPDATE api_keys SET scope = $2
     WHERE revoked_at IS NULL AND ${matchKey(idOrPrefix)} AND ($3::uuid IS NULL OR organization_id = $3::uuid)
     RETURNING ${KEY_INFO_COLUMNS}`,
    [idOrPrefix, scope, organizationId ?? null],
  );
  return result.rows.map(keyInfo);
}

function matchKey(idOrPrefix: string): string {
  return /^[0-9a-f-]{36}$/i.test(idOrPrefix) ? 'id = $1::uuid' : 'prefix = $1';
}

/**
 * Registers a key chosen outside Metrics Hub (e.g. a bootstrap key shared with
 * a provisioned Grafana). Idempotent: importing the same key again is a no-op.
 */
export async function importApiKey(pool: Pool, organizationName: string, key: string, scope: Scope, keyName = 'imported'): Promise<{ id: string; prefix: string }> {
  if (!KEY_PATTERN.test(key)) {
    throw new InvalidKeyError('the key must look like mh_<8 lowercase letters or digits>_<43 base64url characters>; generate one with: metrics-hub keys generate');
  }
  const organization = await requireOrganization(pool, organizationName);
  const prefix = key.split('_')[1]!;
  // Importing again sets the scope given now, so a provisioned key can be narrowed by re-running its import.
  const result = await pool.query<{ id: string; organization_id: string }>(
    `INSERT INTO api_keys (organization_id, name, prefix, key_hash, scope) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (key_hash) DO UPDATE SET scope = CASE WHEN api_keys.organization_id = EXCLUDED.organization_id THEN EXCLUDED.scope ELSE api_keys.scope END
     RETURNING id, organization_id`,
    [organization.id, keyName, prefix, hashKey(key), scope],
  );
  if (result.rows[0]!.organization_id !== organization.id) throw new InvalidKeyError('this key is already bound to another organization');
  return { id: result.rows[0]!.id, prefix };
}

export class InvalidKeyError extends Error {}

/** Revokes by key id or by public prefix (within one organization when given); returns how many keys were revoked. */
export async function revokeApiKey(pool: Pool, idOrPrefix: string, organizationId?: string): Promise<number> {
  const result = await pool.query(
    `UPDATE api_keys SET revoked_at = now()
     WHERE revoked_at IS NULL AND ${matchKey(idOrPrefix)} AND ($2::uuid IS NULL OR organization_id = $2::uuid)`,
    [idOrPrefix, organizationId ?? null],
  );
  return result.rowCount ?? 0;
}

/** Resolves a presented key; undefined when unknown, malformed or revoked. */
export async function authenticate(pool: Pool, presented: string): Promise<Principal | undefined> {
  if (!KEY_PATTERN.test(presented)) return undefined;
  const result = await pool.query<Principal>(
    `SELECT k.id AS "keyId", k.scope, o.id AS "organizationId", o.name AS "organizationName"
     FROM api_keys k JOIN organizations o ON o.id = k.organization_id
     WHERE k.key_hash = $1 AND k.revoked_at IS NULL`,
    [hashKey(presented)],
  );
  return result.rows[0];
}
