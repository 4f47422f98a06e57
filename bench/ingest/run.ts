import { readFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { createApiKey, createOrganization } from '../../backend/src/auth/keys.js';
import { loadConfig } from '../../backend/src/config/env.js';
import { migrateUp } from '../../backend/src/db/migrate.js';
import { loadCatalog } from '../../backend/src/catalog/load.js';
import { createPool, type Pool } from '../../backend/src/db/pool.js';
import { distinctAttributesOf, NO_DISTINCT_ATTRIBUTES, type DistinctAttributes } from '../../backend/src/ingest/distinct-attributes.js';
import { ingestEvents } from '../../backend/src/ingest/ingest.js';
import { FOLD_TOTALS_EVERY_MS, foldCadence, foldPendingTotals } from '../../backend/src/jobs/fold-totals.js';
import { createLogger } from '../../backend/src/logger.js';
import { refreshCumulativeSketches } from '../../backend/src/rollups/cumulative-sketches.js';
import { foldDistinctBlocks } from '../../backend/src/rollups/distinct-blocks.js';
import { startServer } from '../../backend/src/server.js';
import { createTestDatabase } from '../../backend/test/support/databases.js';
import { eventAt, mulberry32 } from './events.js';
import { sampleWaits, waitTable, type WaitSamples } from './waits.js';

/**
 * Ingest benchmark: batched ingestion (one transaction per batch) against a
 * baseline of one transaction per event, same code path and tables, measured
 * in the same run on a fresh database that is dropped afterwards.
 *
 *   DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/postgres node --import tsx bench/ingest/run.ts [--events 1000000] [--http] [--compare-distinct] [--fold]
 *
 * Batches sketch what the default catalog's distinct metrics count (unique
 * contacts, active users and bots), as the API does. --compare-distinct adds
 * the same batched run without them (another organization, the same events).
 * --fold folds the pending totals every 5 s during each run, as the server's
 * job does, on the benchmark's pool: its CPU counts in the run's (without it,
 * what batches append is left for a fold that no run pays for).
 * --waits samples pg_stat_activity every 50 ms during the batched run and
 * prints what its backends were doing: on CPU, waiting on a lock (by
 * statement), idle in their transaction while Node works (bench/ingest/waits.ts).
 * --http adds a run through `POST /api/v1/events` of a real server in
 * this process (JSON encoding, HTTP, API key check, body parsing on top).
 */
const { values: flags } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    batch: { type: 'string', default: '1000' },
    clients: { type: 'string', default: '4' },
    'baseline-events': { type: 'string', default: '20000' },
    'span-days': { type: 'string', default: '30' },
    http: { type: 'boolean', default: false },
    'compare-distinct': { type: 'boolean', default: false },
    fold: { type: 'boolean', default: false },
    waits: { type: 'boolean', default: false },
  },
});
const EVENTS = Number(flags.events);
const BATCH = Number(flags.batch);
const CLIENTS = Number(flags.clients);
const BASELINE_EVENTS = Math.min(Number(flags['baseline-events']), EVENTS);
const SPAN_MS = Number(flags['span-days']) * 86_400_000;
for (const [name, value] of Object.entries({ events: EVENTS, batch: BATCH, clients: CLIENTS, 'baseline-events': BASELINE_EVENTS, 'span-days': SPAN_MS })) {
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive whole number`);
}
process.env.DATABASE_URL ??= 'postgres://postgres:postgres@127.0.0.1:5432/postgres';

interface Run {
  name: string;
  events: number;
  seconds: number;
  /** CPU time of this process plus its PostgreSQL backends: the cost of the work, whatever else runs on the machine. */
  cpuSeconds: number;
  /** The PostgreSQL backends' share of cpuSeconds. */
  databaseCpuSeconds: number;
  latenciesMs: number[];
  accepted: number;
  duplicates: number;
}

/** PostgreSQL backends serving the pool (the server is local, so /proc shows their CPU time). */
const backendPids = new Set<number>();

/** CPU seconds per backend; a backend that is gone (an idle connection closed) is absent. */
function backendCpu(): Map<number, number> {
  const seconds = new Map<number, number>();
  for (const pid of backendPids) {
    try {
      // Fields after the command name: state is field 3, utime 14, stime 15 (clock ticks of 1/100 s).
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      seconds.set(pid, (Number(fields[11]) + Number(fields[12])) / 100);
    } catch {
      // Not visible (remote server) or exited.
    }
  }
  return seconds;
}

/** Backend CPU spent since `before`, counting backends that appeared since then in full. */
function backendCpuSince(before: Map<number, number>): number {
  let total = 0;
  for (const [pid, seconds] of backendCpu()) total += seconds - (before.get(pid) ?? 0);
  return total;
}

function ownCpuSeconds(): number {
  const own = process.cpuUsage();
  return (own.user + own.system) / 1e6;
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;
}

type Send = (batch: unknown[], now: number) => Promise<{ accepted: number; duplicates: number; rejected: unknown[] }>;

const direct =
  (pool: Pool, organizationId: string, distinct: DistinctAttributes): Send =>
  (batch, now) =>
    ingestEvents(pool, organizationId, batch, { now: () => now, distinct });

/** The server checks times against its own clock: the stream must end before it. */
const overHttp =
  (baseUrl: string, key: string): Send =>
  async (batch) => {
    const response = await fetch(`${baseUrl}/api/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ events: batch }),
    });
    if (response.status !== 200) throw new Error(`POST /api/v1/events answered ${response.status}: ${await response.text()}`);
    return (await response.json()) as Awaited<ReturnType<Send>>;
  };

/** Folds on the server job's cadence (foldCadence) while `running()`, then everything left. */
async function foldWhile(pool: Pool, running: () => boolean): Promise<void> {
  const tick = foldCadence(pool);
  while (running()) {
    const started = performance.now();
    await tick();
    while (running() && performance.now() - started < FOLD_TOTALS_EVERY_MS) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await foldPendingTotals(pool);
  await foldDistinctBlocks(pool);
  await refreshCumulativeSketches(pool);
}

/** `clients` workers take batches from one shared cursor until the stream is used up. */
async function drive(name: string, send: Send, total: number, batchSize: number, seed: number, end: number, fold?: Pool): Promise<Run> {
  const start = end - SPAN_MS;
  const latenciesMs: number[] = [];
  let next = 0;
  let accepted = 0;
  let duplicates = 0;
  const began = performance.now();
  const ownBefore = ownCpuSeconds();
  const databaseBefore = backendCpu();
  let driving = true;
  const folding = fold ? foldWhile(fold, () => driving) : Promise.resolve();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < total) {
        const from = next;
        next = Math.min(total, next + batchSize);
        // One seeded generator per batch: the same flags always give the same events.
        const random = mulberry32(seed * 1_000_003 + from);
        const batch = [];
        for (let i = from; i < next; i++) batch.push(eventAt(i, total, start, SPAN_MS, random));
        const t = performance.now();
        const result = await send(batch, end);
        latenciesMs.push(performance.now() - t);
        if (result.rejected.length > 0) throw new Error(`bench events rejected: ${JSON.stringify(result.rejected.slice(0, 3))}`);
        accepted += result.accepted;
        duplicates += result.duplicates;
      }
    }),
  );
  driving = false;
  await folding;
  const seconds = (performance.now() - began) / 1000;
  const databaseCpu = backendCpuSince(databaseBefore);
  latenciesMs.sort((a, b) => a - b);
  return { name, events: total, seconds, cpuSeconds: ownCpuSeconds() - ownBefore + databaseCpu, databaseCpuSeconds: databaseCpu, latenciesMs, accepted, duplicates };
}

/**
 * Rollup counts must equal what was accepted, except the repeated delivery
 * callbacks that count once. Only the events' own types are summed: derived
 * rollup types (names with ':', backend/src/ingest/derived/types.ts) count
 * conversations, tokens, costs... on top of them.
 */
async function checkTotals(pool: Pool, organizationId: string, run: Run): Promise<string> {
  const { rows } = await pool.query<{ counted: number; raw: number; delivered_ids: number }>(
    `SELECT (SELECT coalesce(sum(count), 0) FROM rollups_daily WHERE organization_id = $1 AND strpos(event_type, ':') = 0)::bigint AS counted,
            (SELECT count(*) FROM events WHERE organization_id = $1)::bigint AS raw,
            (SELECT count(DISTINCT attributes->>'messageId') FROM events WHERE organization_id = $1 AND event_type = 'message.delivered')::bigint AS delivered_ids`,
    [organizationId],
  );
  const { rows: delivered } = await pool.query<{ n: number }>(
    `SELECT count(*)::bigint AS n FROM events WHERE organization_id = $1 AND event_type = 'message.delivered'`,
    [organizationId],
  );
  const expectedCounted = run.accepted - (delivered[0]!.n - rows[0]!.delivered_ids);
  const ok = rows[0]!.raw === run.accepted && rows[0]!.counted === expectedCounted;
  return `${run.name}: ${ok ? 'OK' : 'MISMATCH'} (raw ${rows[0]!.raw}, rollup count ${rows[0]!.counted}, expected ${expectedCounted})`;
}

/**
 * The totals per dimension (migration 0160), folded plus pending, must count
 * per (type, dimension) what the dimensioned daily rollups count for the rows
 * holding that dimension.
 */
async function checkDimensionTotals(pool: Pool, organizationId: string, run: Run): Promise<string> {
  const { rows } = await pool.query<{ pairs: number; mismatched: number }>(
    `WITH per_dimension AS (
       SELECT event_type, dimension, sum(count) AS n FROM (
         SELECT event_type, dimension, count FROM rollup_dimension_totals_daily WHERE organization_id = $1
         UNION ALL SELECT event_type, dimension, count FROM rollup_dimension_totals_daily_pending WHERE organization_id = $1
       ) t GROUP BY 1, 2
     ), from_rollups AS (
       SELECT r.event_type, d AS dimension, sum(r.count) AS n
       FROM rollups_daily r CROSS JOIN LATERAL jsonb_object_keys(r.dims) d WHERE r.organization_id = $1 GROUP BY 1, 2
     )
     SELECT count(*)::int AS pairs, count(*) FILTER (WHERE p.n IS DISTINCT FROM f.n)::int AS mismatched
     FROM per_dimension p FULL JOIN from_rollups f USING (event_type, dimension)`,
    [organizationId],
  );
  const { pairs, mismatched } = rows[0]!;
  return `${run.name}: ${mismatched === 0 ? 'OK' : 'MISMATCH'} (${pairs} (type, dimension) pairs, ${mismatched} differ from the dimensioned rollups)`;
}

const silent = createLogger('silent');
const database = await createTestDatabase('bench_ingest');
try {
  await migrateUp(database.url, silent);
  // One more connection for the fold (--fold), as the server's job has its own.
  const pool = createPool(database.url, CLIENTS + 1, silent);
  // Open all connections up front so their backends' CPU time can be followed.
  const clients = await Promise.all(Array.from({ length: CLIENTS + 1 }, () => pool.connect()));
  for (const client of clients) backendPids.add((await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid);
  for (const client of clients) client.release();
  const end = Date.now();
  const loadBefore = os.loadavg();
  try {
    const distinct = distinctAttributesOf(loadCatalog());
    const foldPool = flags.fold ? pool : undefined;
    const baselineOrg = (await createOrganization(pool, 'bench-baseline')).id;
    const batchedOrg = (await createOrganization(pool, 'bench-batched')).id;
    // Baseline first, on the smaller tables: any bias favours the baseline.
    const baseline = await drive('one transaction per event', direct(pool, baselineOrg, distinct), BASELINE_EVENTS, 1, 1, end);
    const withoutDistinct = flags['compare-distinct'] ? await drive(`batches of ${BATCH}, no distinct metrics`, direct(pool, (await createOrganization(pool, 'bench-no-distinct')).id, NO_DISTINCT_ATTRIBUTES), EVENTS, BATCH, 2, end, foldPool) : undefined;
    // The timed run starts from a clean checkpoint, so it does not pay for writes made before it (the set-up, the
    // baseline). Back-to-back runs were slower second in 6 of 7 pairs (bench/README.md, issue 20, step 26).
    await pool.query('CHECKPOINT').catch((error: Error) => console.warn(`no CHECKPOINT before the timed run (${error.message}): an earlier run's writes may cost this one`));
    // After the run without distinct metrics, on tables it filled: any bias is against the distinct sketches.
    const sampler = flags.waits ? await sampleWaits(database.url) : undefined;
    const batched = await drive(`batches of ${BATCH}`, direct(pool, batchedOrg, distinct), EVENTS, BATCH, 2, end, foldPool);
    const waits: WaitSamples | undefined = await sampler?.stop();
    const runs = [baseline, ...(withoutDistinct ? [withoutDistinct] : []), batched];
    const checks = [await checkTotals(pool, baselineOrg, baseline), await checkTotals(pool, batchedOrg, batched)];
    const dimensionChecks = [await checkDimensionTotals(pool, baselineOrg, baseline), await checkDimensionTotals(pool, batchedOrg, batched)];
    const sketchBytes = await pool.query<{ table: string; rows: number; bytes: number }>(
      `SELECT 'rollups_distinct_hourly' AS table, count(*)::int AS rows, coalesce(avg(pg_column_size(t.*)), 0)::int AS bytes FROM rollups_distinct_hourly t WHERE organization_id = $1
       UNION ALL SELECT 'rollups_distinct_daily', count(*)::int, coalesce(avg(pg_column_size(t.*)), 0)::int FROM rollups_distinct_daily t WHERE organization_id = $1
       UNION ALL SELECT 'rollups_hourly', count(*)::int, coalesce(avg(pg_column_size(t.*)), 0)::int FROM rollups_hourly t WHERE organization_id = $1`,
      [batchedOrg],
    );
    if (flags.http) {
      const server = await startServer(
        loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', DB_POOL_MAX: String(CLIENTS), DATABASE_URL: database.url }),
        silent,
      );
      try {
        const httpOrg = await createOrganization(pool, 'bench-http');
        const { key } = await createApiKey(pool, httpOrg.name);
        const baseUrl = `http://127.0.0.1:${server.port}`;
        // Concurrent authenticated requests open the server's connections; follow their backends' CPU too.
        await Promise.all(Array.from({ length: CLIENTS }, () => fetch(`${baseUrl}/api/v1/whoami`, { headers: { authorization: `Bearer ${key}` } })));
        const { rows } = await pool.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = current_database()`);
        for (const { pid } of rows) backendPids.add(pid);
        const http = await drive(`HTTP, batches of ${BATCH}`, overHttp(baseUrl, key), EVENTS, BATCH, 3, Date.now() - 60_000);
        runs.push(http);
        checks.push(await checkTotals(pool, httpOrg.id, http));
        dimensionChecks.push(await checkDimensionTotals(pool, httpOrg.id, http));
      } finally {
        await server.close();
      }
    }
    const loadAfter = os.loadavg();

    const rate = (run: Run) => run.events / run.seconds;
    const cell = (text: string | number, width: number) => String(text).padStart(width);
    const fmt = (ms: number) => ms.toFixed(ms < 10 ? 2 : 1);
    console.log(`ingest benchmark: ${CLIENTS} concurrent clients, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), PostgreSQL on the same machine`);
    console.log(`load average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(2)).join(' ')}`);
    console.log('');
    console.log(`| mode | events | seconds | events/s | p50 batch ms | p99 batch ms | speed-up | CPU s | events per CPU s |`);
    console.log(`|---|---:|---:|---:|---:|---:|---:|---:|---:|`);
    for (const run of runs) {
      console.log(
        `| ${run.name} |${cell(run.events, 8)} |${cell(run.seconds.toFixed(1), 7)} |${cell(Math.round(rate(run)), 8)} |${cell(fmt(percentile(run.latenciesMs, 0.5)), 8)} |${cell(fmt(percentile(run.latenciesMs, 0.99)), 8)} |${cell(`${(rate(run) / rate(baseline)).toFixed(1)}x`, 7)} |${cell(run.cpuSeconds.toFixed(1), 6)} |${cell(Math.round(run.events / run.cpuSeconds), 8)} |`,
      );
    }
    console.log('');
    console.log(`CPU s: this process (event generation, validation, aggregation; with --http also the server, which runs in it) plus its PostgreSQL backends${flags.fold ? ' (with the folds of pending totals on the server job\'s cadence: totals every 5 s, per-dimension totals every 30 s)' : ' (pending totals not folded)'}; WAL writer and checkpointer not included.`);
    for (const run of runs) console.log(`  ${run.name}: PostgreSQL backends ${run.databaseCpuSeconds.toFixed(1)} s, this process ${(run.cpuSeconds - run.databaseCpuSeconds).toFixed(1)} s`);
    console.log('');
    for (const line of checks) console.log(`totals check, ${line}`);
    for (const line of dimensionChecks) console.log(`totals per dimension check, ${line}`);
    console.log('');
    if (waits) {
      console.log(`what the backends of '${batched.name}' were doing (pg_stat_activity every 50 ms):`);
      for (const line of waitTable(waits)) console.log(line);
      console.log('');
    }
    console.log(`rollup rows of '${batched.name}': ${sketchBytes.rows.map((row) => `${row.table} ${row.rows} rows, ${row.bytes} bytes on average`).join('; ')}`);
    if (withoutDistinct) {
      const ratio = batched.events / batched.cpuSeconds / (withoutDistinct.events / withoutDistinct.cpuSeconds);
      console.log(`distinct metrics: ${Math.round((1 - ratio) * 100)} % fewer events per CPU s than without them (target: at most 15 %) -> ${ratio >= 0.85 ? 'met' : 'NOT met'}`);
    }
    console.log(`target: >= 20000 events/s and >= 10x baseline -> ${rate(batched) >= 20_000 && rate(batched) >= 10 * rate(baseline) ? 'met' : 'NOT met'}`);
  } finally {
    await pool.end();
  }
} finally {
  await database.drop();
}
