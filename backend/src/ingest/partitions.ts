import pg from 'pg';
import { withTransaction, type Pool } from '../db/pool.js';

/**
 * Monthly partitions of `events`, created on demand before a batch is written.
 *
 * Creation runs in its own short transaction, not the batch's: CREATE TABLE ...
 * PARTITION OF locks the parent exclusively, and holding that lock for a whole
 * batch would stall every other writer. Concurrent creators (other batches,
 * other processes) serialise on an advisory lock, because CREATE TABLE IF NOT
 * EXISTS alone can still fail with a unique violation in the catalog when two
 * sessions race.
 */

/** Partitions this process knows exist, per pool (tests run several databases in one process). */
const known = new WeakMap<Pool, Set<number>>();

const LOCK_SQL = `SELECT pg_advisory_xact_lock(hashtext('metrics-hub:events-partitions'))`;

export function monthStart(epochMs: number): number {
  const date = new Date(epochMs);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
}

function nextMonth(monthStartMs: number): number {
  const date = new Date(monthStartMs);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
}

export function partitionName(monthStartMs: number): string {
  const date = new Date(monthStartMs);
  return `events_y${date.getUTCFullYear()}m${String(date.getUTCMonth() + 1).padStart(2, '0')}`;
}

/**
 * Makes sure the partitions for the months of `epochMs` values exist, plus the
 * current and the next month so a month's partition exists before its first
 * event arrives and its creation never waits on live traffic.
 */
export async function ensurePartitions(pool: Pool, epochMs: Iterable<number>, now = Date.now()): Promise<void> {
  let created = known.get(pool);
  if (!created) known.set(pool, (created = new Set()));
  const months = new Set<number>([monthStart(now), nextMonth(monthStart(now))]);
  for (const ms of epochMs) months.add(monthStart(ms));
  const missing = [...months].filter((month) => !created.has(month)).sort((a, b) => a - b);
  if (missing.length === 0) return;

  await withTransaction(pool, async (client) => {
    await client.query(LOCK_SQL);
    for (const month of missing) {
      // DDL takes no bind parameters; name and bounds come from integers, and are quoted anyway.
      const from = pg.escapeLiteral(new Date(month).toISOString());
      const to = pg.escapeLiteral(new Date(nextMonth(month)).toISOString());
      await client.query(`CREATE TABLE IF NOT EXISTS ${pg.escapeIdentifier(partitionName(month))} PARTITION OF events FOR VALUES FROM (${from}) TO (${to})`);
    }
  });
  for (const month of missing) created.add(month);
}

/** Forgets what this process knows, e.g. after retention dropped a partition behind its back. */
export function forgetPartitions(pool: Pool): void {
  known.delete(pool);
}

/** PostgreSQL's answer when a row's partition does not exist. */
export function isMissingPartition(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  return code === '23514' && /no partition of relation/.test(message ?? '');
}
