import pg from 'pg';
import type { Pool } from '../../backend/src/db/pool.js';
import { createTestDatabase } from '../../backend/test/support/databases.js';
import { generate, type GenerateOptions, type Generated } from './generate.js';

/**
 * Where the query benchmark's data set lives. By default a fresh database,
 * dropped at the end. With `--database NAME` the database is kept: the first
 * run generates into it, later runs (after a code or migration change) reuse
 * it, so a 10M-event data set is generated once, not once per measurement.
 */
export interface DataSetDatabase {
  url: string;
  name: string;
  /** Drops a fresh database; leaves a named one for the next run. */
  release(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export async function openDatabase(adminUrl: string, name: string | undefined): Promise<DataSetDatabase> {
  if (!name) {
    const fresh = await createTestDatabase('bench_query');
    return { url: fresh.url, name: fresh.name, release: fresh.drop };
  }
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`--database '${name}': use lower-case letters, digits and _ (a PostgreSQL database name)`);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(name)}`);
  } finally {
    await admin.end();
  }
  return { url: withDatabase(adminUrl, name), name, release: async () => undefined };
}

/**
 * The data set already in the database when it was generated with the same
 * number of events and organizations, else a newly generated one. A data set
 * of another size in a named database is an error rather than a silent mix.
 */
export async function generateOrReuse(pool: Pool, options: GenerateOptions): Promise<Generated & { reused: boolean }> {
  const { rows } = await pool.query<{ events: string; orgs: number; last: Date | null; first: Date | null }>(
    `SELECT count(*) AS events, count(DISTINCT organization_id)::int AS orgs, max(occurred_at) AS last, min(occurred_at) AS first FROM events`,
  );
  const existing = Number(rows[0]!.events);
  if (existing === 0) return { ...(await generate(pool, options)), reused: false };
  if (existing !== options.events) {
    throw new Error(`the database already holds a data set of ${existing} events, not ${options.events}: pass --events ${existing}, or another --database`);
  }
  const HOUR = 3_600_000;
  // The generator's times lie in [end - days, end); end is a whole hour.
  const end = Math.ceil(rows[0]!.last!.getTime() / HOUR) * HOUR;
  const counts = await pool.query<{ id: string; name: string; events: number }>(
    `SELECT o.id, o.name, count(*)::int AS events FROM events e JOIN organizations o ON o.id = e.organization_id GROUP BY 1, 2 ORDER BY 3 DESC`,
  );
  options.log(`reusing the ${existing} events already generated (${counts.rows.length} organizations, up to ${new Date(end).toISOString()})`);
  return { organizations: counts.rows, start: rows[0]!.first!.getTime(), end, events: existing, reused: true };
}
