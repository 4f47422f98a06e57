import { readFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createOrganization } from '../../backend/src/auth/keys.js';
import { loadCatalog } from '../../backend/src/catalog/load.js';
import { migrateUp } from '../../backend/src/db/migrate.js';
import { createPool } from '../../backend/src/db/pool.js';
import { distinctAttributesOf } from '../../backend/src/ingest/distinct-attributes.js';
import { ingestEvents } from '../../backend/src/ingest/ingest.js';
import { FOLD_TOTALS_EVERY_MS, foldCadence } from '../../backend/src/jobs/fold-totals.js';
import { createLogger } from '../../backend/src/logger.js';
import { refreshCumulativeSketches } from '../../backend/src/rollups/cumulative-sketches.js';
import { foldDistinctBlocks } from '../../backend/src/rollups/distinct-blocks.js';
import { createTestDatabase } from '../../backend/test/support/databases.js';
import { eventAt, mulberry32 } from './events.js';

/**
 * Where the PostgreSQL CPU of `run.ts --fold` goes: the same stream, clients
 * and fold cadence (the server job's foldCadence), with every statement's
 * backend CPU (from /proc/<backend>/schedstat, nanoseconds) summed per
 * statement, then the self time of the SQL and PL/pgSQL functions those
 * statements called (track_functions, set on the benchmark's database; SQL
 * functions that PostgreSQL inlines are not counted). A profiling aid, not a
 * benchmark: reading /proc around every statement costs Node a little, and
 * timing every function call costs PostgreSQL a little.
 *
 *   DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/postgres node --import tsx bench/ingest/profile.ts [--events 300000]
 */
const { values: flags } = parseArgs({
  options: { events: { type: 'string', default: '300000' }, batch: { type: 'string', default: '1000' }, clients: { type: 'string', default: '4' } },
});
const EVENTS = Number(flags.events);
const BATCH = Number(flags.batch);
const CLIENTS = Number(flags.clients);
const SPAN_MS = 30 * 86_400_000;
process.env.DATABASE_URL ??= 'postgres://postgres:postgres@127.0.0.1:5432/postgres';

function backendNs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
}

/** Per statement label: calls and backend CPU nanoseconds. */
const spent = new Map<string, { calls: number; ns: number }>();
function label(config: unknown): string {
  // The batch's last statement travels as `EXECUTE name(literals...); COMMIT; ...`: named by the statement it runs.
  if (typeof config === 'string') return /^EXECUTE (\w+)/.exec(config)?.[0].concat(' + COMMIT') ?? config.replace(/\s+/g, ' ').trim().slice(0, 70);
  const named = config as { name?: string; text?: string };
  return named.name ?? label(named.text ?? '?');
}

// Every statement of every client: the backend's CPU across the round trip.
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client & { processID?: number }, config: unknown, ...rest: unknown[]) {
  const pid = this.processID;
  if (!pid) return (query as (...args: unknown[]) => unknown).call(this, config, ...rest);
  const before = backendNs(pid);
  const key = label(config);
  const account = () => {
    const entry = spent.get(key) ?? { calls: 0, ns: 0 };
    entry.calls += 1;
    entry.ns += backendNs(pid) - before;
    spent.set(key, entry);
  };
  // pg.Pool.query passes a callback; clients of pool.connect() get a promise.
  const callback = rest.at(-1);
  if (typeof callback === 'function') {
    rest[rest.length - 1] = (...results: unknown[]) => {
      account();
      return (callback as (...args: unknown[]) => unknown)(...results);
    };
    return (query as (...args: unknown[]) => unknown).call(this, config, ...rest);
  }
  const result = (query as (...args: unknown[]) => unknown).call(this, config, ...rest);
  if (!(result instanceof Promise)) return result;
  return result.then(
    (value) => (account(), value),
    (error) => {
      account();
      throw error;
    },
  );
} as typeof pg.Client.prototype.query;

const silent = createLogger('silent');
const database = await createTestDatabase('bench_ingest_profile');
try {
  await migrateUp(database.url, silent);
  // Every connection opened from here on times the functions it calls (pg_stat_user_functions).
  const admin = new pg.Client({ connectionString: database.url });
  await admin.connect();
  await admin.query(`ALTER DATABASE ${admin.escapeIdentifier(database.name)} SET track_functions = 'all'`);
  await admin.end();
  const pool = createPool(database.url, CLIENTS + 1, silent);
  const distinct = distinctAttributesOf(loadCatalog());
  const organizationId = (await createOrganization(pool, 'bench-profile')).id;
  const end = Date.now();
  const start = end - SPAN_MS;
  let next = 0;
  let driving = true;
  const fold = async () => {
    const tick = foldCadence(pool);
    while (driving) {
      const began = performance.now();
      await tick();
      while (driving && performance.now() - began < FOLD_TOTALS_EVERY_MS) await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const began = performance.now();
  const ownBefore = process.cpuUsage();
  const folding = fold();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < EVENTS) {
        const from = next;
        next = Math.min(EVENTS, next + BATCH);
        const random = mulberry32(2 * 1_000_003 + from);
        const batch = [];
        for (let i = from; i < next; i++) batch.push(eventAt(i, EVENTS, start, SPAN_MS, random));
        await ingestEvents(pool, organizationId, batch, { now: () => end, distinct });
      }
    }),
  );
  driving = false;
  await folding;
  await pool.query('SELECT fold_rollup_totals(), fold_distinct_totals(), fold_dimension_totals()');
  await foldDistinctBlocks(pool);
  await refreshCumulativeSketches(pool);
  const own = process.cpuUsage(ownBefore);
  const seconds = (performance.now() - began) / 1000;
  await pool.end();
  // The backends flushed their function statistics as they exited.
  const reader = new pg.Client({ connectionString: database.url });
  await reader.connect();
  await new Promise((resolve) => setTimeout(resolve, 500));
  const { rows: functions } = await reader.query<{ name: string; calls: number; self_ms: number; total_ms: number }>(
    `SELECT funcname AS name, calls::float8 AS calls, self_time AS self_ms, total_time AS total_ms FROM pg_stat_user_functions ORDER BY self_time DESC LIMIT 15`,
  );
  const { rows } = await reader.query<{ table: string; rows: number; bytes: number; hot: number }>(
    `SELECT c.relname AS table, s.n_live_tup::int AS rows, pg_total_relation_size(c.oid)::float8 AS bytes,
            CASE WHEN s.n_tup_upd > 0 THEN round(100.0 * s.n_tup_hot_upd / s.n_tup_upd) END::int AS hot
     FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid
     WHERE c.relname IN ('events', 'ingest_keys', 'rollups_hourly', 'rollups_daily', 'rollup_dimension_totals_hourly', 'rollup_dimension_totals_daily')
        OR c.relname LIKE 'events_y%'
     ORDER BY c.relname`,
  );
  await reader.end();
  const total = [...spent.values()].reduce((sum, entry) => sum + entry.ns, 0);
  console.log(`${EVENTS} events, ${CLIENTS} clients, ${seconds.toFixed(1)} s, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`Node ${((own.user + own.system) / 1e6).toFixed(1)} s (includes reading /proc per statement), PostgreSQL statements ${(total / 1e9).toFixed(1)} s`);
  console.log('| statement | calls | CPU s | us per event |');
  console.log('|---|---:|---:|---:|');
  for (const [key, entry] of [...spent].sort((a, b) => b[1].ns - a[1].ns)) {
    if (entry.ns < 0.005 * total) continue;
    console.log(`| ${key} | ${entry.calls} | ${(entry.ns / 1e9).toFixed(2)} | ${(entry.ns / 1e3 / EVENTS).toFixed(2)} |`);
  }
  console.log('');
  console.log('| function (self time, wall clock inside the backends) | calls | self s | total s | us per call (self) |');
  console.log('|---|---:|---:|---:|---:|');
  for (const f of functions) console.log(`| ${f.name} | ${f.calls} | ${(f.self_ms / 1e3).toFixed(2)} | ${(f.total_ms / 1e3).toFixed(2)} | ${((f.self_ms * 1e3) / f.calls).toFixed(1)} |`);
  console.log('');
  console.log('| table | rows | size with indexes and TOAST (MB) | updates that were heap-only (%) |');
  console.log('|---|---:|---:|---:|');
  for (const row of rows) console.log(`| ${row.table} | ${row.rows} | ${(row.bytes / 1e6).toFixed(1)} | ${row.hot ?? '-'} |`);
} finally {
  await database.drop();
}
