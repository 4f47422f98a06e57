import { loadConfig } from '../../backend/src/config/env.js';
import { createLogger } from '../../backend/src/logger.js';
import { buildContext } from '../../backend/src/server.js';

const HOUR = 3_600_000;

/**
 * The service's own context (pool, Redis, cache versions) on a data set
 * run.ts generated, for the tools that time or record answers without HTTP
 * (cold.ts, answers.ts), and the organization they ask for: the largest one,
 * up to the end of its last hour, read from the daily totals (no scan of the events).
 */
export async function openServiceContext(database: string) {
  const url = new URL(process.env.DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/postgres');
  url.pathname = `/${database}`;
  const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/13';
  const context = await buildContext(loadConfig({ DATABASE_URL: url.toString(), REDIS_URL, LOG_LEVEL: 'silent' }), createLogger('silent'), url.toString());
  const close = async () => {
    for (const hook of [...context.onClose].reverse()) await hook().catch(() => undefined);
  };
  try {
    const { rows } = await context.pool.query<{ org: string; last: Date }>(
      'SELECT organization_id AS org, (SELECT max(bucket) FROM rollup_totals_hourly) AS last FROM rollup_totals_daily GROUP BY 1 ORDER BY sum(count) DESC LIMIT 1',
    );
    if (!rows[0]) throw new Error(`database '${database}' holds no totals: generate it with bench/query/run.ts first`);
    return { context, org: rows[0].org, end: rows[0].last.getTime() + HOUR, close };
  } catch (error) {
    await close();
    throw error;
  }
}
