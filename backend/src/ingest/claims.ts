import type { PoolClient } from '../db/pool.js';

/**
 * Message dedupe keys; RETURNING lists the keys this transaction inserted, i.e. the new ones. Named: a batch runs it
 * up to three times (messages, contacts, bot conversations), each connection plans it once.
 */
const INSERT_KEYS = {
  name: 'ingest_claim_keys_v1',
  text: `
INSERT INTO ingest_keys (organization_id, scope, key, occurred_at)
SELECT $1::uuid, k.scope, k.key, k.occurred_at
FROM unnest($2::text[], $3::text[], $4::timestamptz[]) AS k (scope, key, occurred_at)
ON CONFLICT DO NOTHING
RETURNING scope, key`,
};

/** Something that may be counted once per organization: a (scope, key) row of ingest_keys. */
export interface Key {
  scope: string;
  key: string;
  occurredAtMs: number;
}

export const keyId = (scope: string, key: string) => `${scope}\u0000${key}`;

/**
 * Inserts keys in sorted order (a fixed lock order across concurrent batches)
 * and returns the new ones as keyId strings. A key claimed by a concurrent
 * transaction waits for it, so two batches never both win the same key.
 */
export async function claimKeys(client: PoolClient, organizationId: string, keys: Key[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  // The first of equal keys is the claim: its time is the one stored (live counters match on it).
  const unique = new Map<string, Key>();
  for (const k of keys) if (!unique.has(keyId(k.scope, k.key))) unique.set(keyId(k.scope, k.key), k);
  const sorted = [...unique.values()].sort((a, b) => (a.scope !== b.scope ? (a.scope < b.scope ? -1 : 1) : a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const result = await client.query<{ scope: string; key: string }>({
    ...INSERT_KEYS,
    values: [organizationId, sorted.map((k) => k.scope), sorted.map((k) => k.key), sorted.map((k) => new Date(k.occurredAtMs).toISOString())],
  });
  return new Set(result.rows.map((row) => keyId(row.scope, row.key)));
}

/** Which of `keys` (in one scope) were claimed before, by this or an earlier transaction. */
export async function claimedBefore(client: PoolClient, organizationId: string, scope: string, keys: string[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const result = await client.query<{ key: string }>('SELECT key FROM ingest_keys WHERE organization_id = $1 AND scope = $2 AND key = ANY($3::text[])', [organizationId, scope, keys]);
  return new Set(result.rows.map((row) => row.key));
}
