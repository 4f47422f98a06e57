/**
 * What one machine holds (docs/scaling.md): queries per second through the
 * whole HTTP path (API key, rate limit, admission, planner, cache, rollups,
 * frames) from concurrent clients, cold (every question new, so it reads the
 * rollups) and cached (one question, answered from Redis); and the rows and
 * bytes one organization adds per day of the demo's traffic, table by table.
 *
 *   DATABASE_URL=postgres://... REDIS_URL=redis://127.0.0.1:6379/13 \
 *     node --import tsx bench/scale/run.ts [--days 7] [--seconds 20] [--clients 8]
 *
 * Starts the real server on a free port over a fresh database (dropped afterwards).
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../../backend/src/config/env.js';
import { runDemo } from '../../backend/src/demo/run.js';
import { createLogger } from '../../backend/src/logger.js';
import { startServer } from '../../backend/src/server.js';
import { createTestDatabase } from '../../backend/test/support/databases.js';

const { values: flags } = parseArgs({
  options: { days: { type: 'string', default: '7' }, seconds: { type: 'string', default: '20' }, clients: { type: 'string', default: '8' } },
});
const DAYS = Number(flags.days);
const SECONDS = Number(flags.seconds);
const CLIENTS = Number(flags.clients);
for (const [name, value] of Object.entries({ days: DAYS, seconds: SECONDS, clients: CLIENTS })) {
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive whole number`);
}
process.env.DATABASE_URL ??= 'postgres://postgres:postgres@127.0.0.1:5432/postgres';
const log = (line: string) => process.stderr.write(`${line}\n`);

function percentile(samples: number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

const database = await createTestDatabase('bench_scale');
const config = loadConfig({
  PORT: '0',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'silent',
  DATABASE_URL: database.url,
  REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/13',
  RATE_LIMIT_PER_MINUTE: '0',
  DEMO_DATA: 'off',
});
const server = await startServer(config, createLogger('silent'));
try {
  log(`loading ${DAYS} demo days`);
  const demo = await runDemo(server.context, { days: DAYS, progress: false });
  const org = demo.organizations[0]!;
  const base = `http://127.0.0.1:${server.port}`;
  const to = Date.parse(demo.to);
  let unique = 0;
  const question = (cold: boolean) => ({
    // A cold question ends one millisecond later each time: a new cache key, the same rows read.
    from: new Date(to - DAYS * 86_400_000).toISOString(),
    to: new Date(cold ? to - (unique += 1) : to).toISOString(),
    intervalMs: 3_600_000,
    queries: [
      { refId: 'A', metric: 'orders_created', aggregation: 'count', format: 'timeseries', groupBy: ['channel'] },
      { refId: 'B', metric: 'order_value', aggregation: 'p95', format: 'kpi' },
    ],
  });
  const run = async (cold: boolean) => {
    const latencies: number[] = [];
    const end = Date.now() + SECONDS * 1000;
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (Date.now() < end) {
          const started = performance.now();
          const response = await fetch(`${base}/api/v1/query`, {
            method: 'POST',
            headers: { authorization: `Bearer ${org.apiKey}`, 'content-type': 'application/json' },
            body: JSON.stringify(question(cold)),
          });
          await response.arrayBuffer();
          if (response.status !== 200) throw new Error(`query answered ${response.status}`);
          latencies.push(performance.now() - started);
        }
      }),
    );
    return { qps: latencies.length / SECONDS, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) };
  };
  const rows: string[] = [];
  for (const cold of [true, false]) {
    const result = await run(cold);
    rows.push(`| ${cold ? 'cold (rollups)' : 'cached (Redis)'} | ${CLIENTS} | ${result.qps.toFixed(0)} | ${result.p50.toFixed(1)} ms | ${result.p99.toFixed(1)} ms |`);
  }
  console.log(`\nqueries through POST /api/v1/query (2 queries each), ${SECONDS} s per mode, clients and server in one process:\n`);
  console.log('| mode | clients | requests/s | p50 | p99 |\n|---|---:|---:|---:|---:|');
  console.log(rows.join('\n'));

  // Rows and bytes per organization and day, by table (partitions summed into their parent).
  await server.context.pool.query('ANALYZE');
  const { rows: sizes } = await server.context.pool.query<{ table: string; rows: string; bytes: string }>(
    `SELECT coalesce(p.relname, c.relname) AS table, sum(c.reltuples)::bigint AS rows, sum(pg_total_relation_size(c.oid))::bigint AS bytes
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_inherits i ON i.inhrelid = c.oid LEFT JOIN pg_class p ON p.oid = i.inhparent
     WHERE n.nspname = 'public' AND c.relkind = 'r'
     GROUP BY 1 HAVING sum(c.reltuples) > 0 ORDER BY 3 DESC`,
  );
  const events = demo.organizations.reduce((sum, o) => sum + o.events, 0);
  const orgs = demo.organizations.length;
  console.log(`\n${events} demo events for ${orgs} organizations over ${DAYS} days (${Math.round(events / orgs / DAYS)} events per organization and day); after ANALYZE:\n`);
  console.log('| table | rows | rows per organization and day | bytes per event |\n|---|---:|---:|---:|');
  for (const size of sizes) {
    console.log(`| ${size.table} | ${size.rows} | ${Math.round(Number(size.rows) / orgs / DAYS)} | ${(Number(size.bytes) / events).toFixed(0)} |`);
  }
} finally {
  await server.close();
  await database.drop();
}
