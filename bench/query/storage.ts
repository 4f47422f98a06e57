import type { Pool } from '../../backend/src/db/pool.js';

/**
 * What the data set costs on disk: each rollup table's rows, average row size
 * (pg_column_size of the whole row) and total size with its indexes, against
 * the raw events table and the indexes the raw-table peer adds.
 */
export async function storageReport(pool: Pool): Promise<string> {
  const tables = await pool.query<{ name: string; rows: string; total: string }>(
    `SELECT c.relname AS name, c.reltuples::bigint AS rows, pg_size_pretty(pg_total_relation_size(c.oid)) AS total
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname LIKE 'rollup%'
     ORDER BY pg_total_relation_size(c.oid) DESC`,
  );
  const lines = ['| table | rows | bytes per row | size with indexes |', '|---|---:|---:|---:|'];
  for (const table of tables.rows) {
    if (Number(table.rows) <= 0) continue;
    const { rows } = await pool.query<{ bytes: number }>(`SELECT avg(pg_column_size(t.*))::int AS bytes FROM (SELECT * FROM ${table.name} TABLESAMPLE SYSTEM (5)) t`);
    lines.push(`| ${table.name} | ${Number(table.rows).toLocaleString('en')} | ${rows[0]?.bytes ?? '-'} | ${table.total} |`);
  }
  const events = await pool.query<{ rows: string; heap: string; indexes: string }>(
    `SELECT sum(c.reltuples)::bigint AS rows, pg_size_pretty(sum(pg_relation_size(c.oid))) AS heap,
            pg_size_pretty(sum(pg_indexes_size(c.oid))) AS indexes
     FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass`,
  );
  const raw = events.rows[0]!;
  lines.push(`| events (raw, all partitions) | ${Number(raw.rows).toLocaleString('en')} | - | ${raw.heap} + ${raw.indexes} of the peer's indexes |`);
  return lines.join('\n');
}
