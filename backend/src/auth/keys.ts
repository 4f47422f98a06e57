import { createHash, randomBytes } from 'node:crypto';
import type { Pool } from '../db/pool.js';

/** What a valid key resolves to: everything a request may touch is scoped by this. */
export interface Principal {
  organizationId: string;
  organizationName: string;
  keyId: string;
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

export async function createApiKey(
  pool: Pool,
  organizationName: string,
  keyName = 'default',
): Promise<{ id: string; key: string; prefix: string; organizationId: string }> {
  const organization = await findOrganization(pool, organizationName);
  if (!organization) throw new NotFoundError(`organization '${organizationName}' does not exist; create it with: metrics-hub orgs create ${organizationName}`);
  const { key, prefix } = generateKey();
  const result = await pool.query<{ id: string }>(
    'INSERT INTO api_keys (organization_id, name, prefix, key_hash) VALUES ($1, $2, $3, $4) RETURNING id',
    [organization.id, keyName, prefix, hashKey(key)],
  );
  return { id: result.rows[0]!.id, key, prefix, organizationId: organization.id };
}

/**
 * Registers a key chosen outside Metrics Hub (e.g. a bootstrap key shared with
 * a provisioned Grafana). Idempotent: importing the same key again is a no-op.
 */
export async function importApiKey(pool: Pool, organizationName: string, key: string, keyName = 'imported'): Promise<{ id: string; prefix: string }> {
  if (!KEY_PATTERN.test(key)) {
    throw new InvalidKeyError('the key must look like mh_<8 lowercase letters or digits>_<43 base64url characters>; generate one with: metrics-hub keys generate');
  }
  const organization = await findOrganization(pool, organizationName);
  if (!organization) throw new NotFoundError(`organization '${organizationName}' does not exist; create it with: metrics-hub orgs create ${organizationName}`);
  const prefix = key.split('_')[1]!;
  const result = await pool.query<{ id: string; organization_id: string }>(
    `INSERT INTO api_keys (organization_id, name, prefix, key_hash) VALUES ($1, $2, $3, $4)
     ON CONFLICT (key_hash) DO UPDATE SET key_hash = EXCLUDED.key_hash
     RETURNING id, organization_id`,
    [organization.id, keyName, prefix, hashKey(key)],
  );
  if (result.rows[0]!.organization_id !== organization.id) throw new InvalidKeyError('this key is already bound to another organization');
  return { id: result.rows[0]!.id, prefix };
}

export class InvalidKeyError extends Error {}

/** Revokes by key id or by public prefix; returns how many keys were revoked. */
export async function revokeApiKey(pool: Pool, idOrPrefix: string): Promise<number> {
  const isUuid = /^[0-9a-f-]{36}$/i.test(idOrPrefix);
  const result = await pool.query(
    `UPDATE api_keys SET revoked_at = now() WHERE revoked_at IS NULL AND ${isUuid ? 'id = $1::uuid' : 'prefix = $1'}`,
    [idOrPrefix],
  );
  return result.rowCount ?? 0;
}

/** Resolves a presented key; undefined when unknown, malformed or revoked. */
export async function authenticate(pool: Pool, presented: string): Promise<Principal | undefined> {
  if (!KEY_PATTERN.test(presented)) return undefined;
  const result = await pool.query<Principal>(
    `SELECT k.id AS "keyId", o.id AS "organizationId", o.name AS "organizationName"
     FROM api_keys k JOIN organizations o ON o.id = k.organization_id
     WHERE k.key_hash = $1 AND k.revoked_at IS NULL`,
    [hashKey(presented)],
  );
  return result.rows[0];
}
