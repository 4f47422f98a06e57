import { parseArgs } from 'node:util';
import { createApiKey } from '../../backend/src/auth/keys.js';
import { loadConfig } from '../../backend/src/config/env.js';
import { createPool } from '../../backend/src/db/pool.js';
import { migrateUp } from '../../backend/src/db/migrate.js';
import { createLogger } from '../../backend/src/logger.js';
import { startServer, type RunningServer } from '../../backend/src/server.js';
import { ClusterHome, waitForReplay } from '../../backend/test/support/pg-cluster.js';
import { generate } from '../query/generate.js';

/**
 * Read replica benchmark: queries per second of the whole query path (HTTP,
 * API key, planner, cache miss, events adapter, frames) against a primary
 * alone, then against the same primary plus one hot standby
 * (DATABASE_READ_URL), both servers started here (initdb + pg_basebackup) on
 * this machine with the same data. Every request asks a range no request
 * asked before, so every answer is read from PostgreSQL, not the cache.
 *
 *   node --import tsx bench/replicas/run.ts [--events 300000] [--seconds 20] [--clients 8]
 */
const { values: flags } = parseArgs({
  options: {
    events: { type: 'string', default: '300000' },
    organizations: { type: 'string', default: '20' },
    seconds: { type: 'string', default: '20' },
    clients: { type: 'string', default: '8' },
  },
});
const EVENTS = Number(flags.events);
const ORGS = Number(flags.organizations);
const SECONDS = Number(flags.seconds);
const CLIENTS = Number(flags.clients);
for (const [name, value] of Object.entries({ events: EVENTS, organizations: ORGS, seconds: SECONDS, clients: CLIENTS })) {
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive whole number`);
}
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const DAYS = 31;
const log = (line: string) => process.stderr.write(`${line}\n`);
const logger = createLogger('silent');

function percentile(samples: number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

interface Run {
  setup: string;
  queries: number;
  seconds: number;
  p50: number;
  p99: number;
  reads: string;
}

/** CLIENTS loops of POST /api/v1/query for SECONDS, each request a 7-day hourly series over a range never asked before. */
async function load(setup: string, running: RunningServer, keys: string[], end: number): Promise<Run> {
  const baseUrl = `http://127.0.0.1:${running.port}`;
  let next = 0;
  const samples: number[] = [];
  const stopAt = performance.now() + SECONDS * 1000;
  const client = async () => {
    while (performance.now() < stopAt) {
      const shift = next++;
      const to = end - (shift % (20 * 24)) * HOUR - Math.floor(shift / (20 * 24)) * 60_000;
      const body = {
        from: new Date(to - 7 * DAY).toISOString(),
        to: new Date(to).toISOString(),
        intervalMs: HOUR,
        queries: [{ refId: 'A', metric: 'orders_created', aggregation: 'sum', format: 'timeseries' }],
      };
      const started = performance.now();
      const response = await fetch(`${baseUrl}/api/v1/query`, {
        method: 'POST',
        headers: { authorization: `Bearer ${keys[shift % keys.length]}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const answer = (await response.json()) as { results: { A: { status: number; error?: string; frames: Array<{ schema: { meta: { custom: { cached: boolean } } } }> } } };
      if (response.status !== 200 || answer.results.A.status !== 200) throw new Error(`query answered ${response.status}: ${JSON.stringify(answer).slice(0, 300)}`);
      if (answer.results.A.frames[0]!.schema.meta.custom.cached) throw new Error('a cached answer: the benchmark must read PostgreSQL every time');
      samples.push(performance.now() - started);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, client));
  const seconds = (performance.now() - started) / 1000;
  const counter = running.context.metrics.registry.getSingleMetric('metricshub_db_reads_total');
  const reads = counter ? (await counter.get()).values.filter((entry) => entry.value > 0).map((entry) => `${entry.labels.target} ${entry.value}`).join(', ') : 'primary (no replica configured)';
  return { setup, queries: samples.length, seconds, p50: percentile(samples, 0.5), p99: percentile(samples, 0.99), reads };
}

const home = new ClusterHome('bench-replicas');
try {
  log('starting a primary and a hot standby (initdb, pg_basebackup)');
  const primary = await home.primary();
  await primary.query('CREATE DATABASE metrics_hub');
  const standby = await home.standby(primary);
  const primaryUrl = primary.url('metrics_hub');
  await migrateUp(primaryUrl, logger);
  const pool = createPool(primaryUrl, 4, logger);
  const end = Math.floor(Date.now() / HOUR) * HOUR;
  log(`generating ${EVENTS} events over ${DAYS} days for ${ORGS} organizations`);
  const data = await generate(pool, { events: EVENTS, organizations: ORGS, days: DAYS, end, log });
  // The largest organizations take the queries, one key each (admission is per organization).
  const keys = await Promise.all(data.organizations.slice(0, 4).map(async (org) => (await createApiKey(pool, org.name, 'bench', 'read')).key));
  await pool.query('ANALYZE');
  await pool.end();
  await waitForReplay(standby, (await primary.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn'))[0]!.lsn, 600_000);

  const runs: Run[] = [];
  for (const [setup, readUrl] of [
    ['primary only', undefined],
    ['primary + 1 replica', standby.url('metrics_hub')],
    ['primary only (again)', undefined],
    ['primary + 1 replica (again)', standby.url('metrics_hub')],
  ] as const) {
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      DATABASE_URL: primaryUrl,
      ...(readUrl && { DATABASE_READ_URL: readUrl }),
      RATE_LIMIT_PER_MINUTE: '0',
      ADMISSION_PER_ORG: String(CLIENTS),
      ADMISSION_PER_PROCESS: String(CLIENTS),
      ALERT_EVALUATION_INTERVAL_SECONDS: '3600',
    });
    const running = await startServer(config, logger);
    try {
      log(`${setup}: ${CLIENTS} clients for ${SECONDS} s`);
      runs.push(await load(setup, running, keys, end));
    } finally {
      await running.close();
    }
  }
  console.log(`\nRead replica benchmark: ${EVENTS.toLocaleString('en')} events, ${DAYS} days, ${ORGS} organizations; ${CLIENTS} clients, ${SECONDS} s per setup; every answer a cache miss`);
  console.log('| setup | queries | queries/s | p50 ms | p99 ms | reads by server |');
  console.log('|---|---:|---:|---:|---:|---|');
  for (const run of runs) console.log(`| ${run.setup} | ${run.queries} | ${(run.queries / run.seconds).toFixed(0)} | ${run.p50.toFixed(1)} | ${run.p99.toFixed(1)} | ${run.reads} |`);
} finally {
  await home.cleanup();
}
