import pg from 'pg';
import { withTransaction, type Pool } from '../db/pool.js';
import { ensurePartitions, forgetPartitions, monthStart } from '../ingest/partitions.js';

/**
 * Rollup maintenance: create the raw-event partitions of this month and the
 * next ahead of traffic, and drop whole monthly partitions (and their
 * idempotency keys) once every row in them is past retention. Rollups are
 * kept: they are small and are what dashboards read.
 */
export async function runMaintenance(pool: Pool, retentionDays: number, now = Date.now()): Promise<{ dropped: string[] }> {
  await ensurePartitions(pool, [], now);
  const cutoff = now - retentionDays * 86_400_000;
  // A partition may go when its whole month ends before the cutoff.
  const partitions = await pool.query<{ name: string; upper: string }>(
    `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS upper
     FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
     WHERE p.relname = 'events'`,
  );
  const dropped: string[] = [];
  for (const { name, upper } of partitions.rows) {
    const match = /TO \('([^']+)'\)/.exec(upper);
    if (!match) continue;
    const end = Date.parse(match[1]!);
    if (!(end <= monthStart(cutoff))) continue;
    await withTransaction(pool, async (client) => {
      await client.query(`DROP TABLE IF EXISTS ${pg.escapeIdentifier(name)}`);
      await client.query('DELETE FROM ingest_keys WHERE occurred_at < $1', [new Date(end)]);
    });
    dropped.push(name);
  }
  if (dropped.length > 0) forgetPartitions(pool);
  return { dropped };
}
