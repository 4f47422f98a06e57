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
import { createLogger } from '../../backend/src/logger.js';
import { eventAt, mulberry32 } from './events.js';

/**
 * The per-dimension fold alone (`fold_dimension_totals()`, what `run.ts --fold`
 * spends most of its fold time in), timed by its backend's CPU
 * (/proc/<pid>/schedstat) in rolled-back transactions, so every round folds
 * the same pending rows.
 *
 *   --prepare: creates DATABASE (dropped first if it exists), migrates it and
 *     ingests the first EVENTS of the `run.ts` stream of --of events (4
 *     clients, no fold), as a 30-second fold of a 1M run finds them; with
 *     --folded-first N the first N of them are ingested and folded before.
 *   then, on DATABASE: --functions a,b,... (functions of that database returning
 *     bigint, e.g. the current fold and a variant created by hand from a .sql
 *     file with --sql) alternating for --rounds rounds, median CPU ms each.
 *   --drop: drops DATABASE instead (it is kept between runs so that variants can
 *     be timed on the same pending rows; run it under flock /work/bench.lock).
 *
 *   DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/postgres node --import tsx bench/ingest/fold-dimensions.ts \
 *     --database fold_bench --prepare --events 600000 [--sql variant.sql] --functions fold_dimension_totals --rounds 5
 */
const { values: flags } = parseArgs({
  options: {
    database: { type: 'string', default: 'fold_dimensions_bench' },
    prepare: { type: 'boolean', default: false },
    events: { type: 'string', default: '600000' },
    of: { type: 'string', default: '1000000' },
    'folded-first': { type: 'string', default: '0' },
    sql: { type: 'string', multiple: true, default: [] },
    functions: { type: 'string', default: 'fold_dimension_totals' },
    rounds: { type: 'string', default: '5' },
    drop: { type: 'boolean', default: false },
  },
});
const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/postgres';
const url = new URL(adminUrl);
url.pathname = `/${flags.database}`;
const silent = createLogger('silent');

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function prepare(): Promise<void> {
  const total = Number(flags.of);
  const events = Number(flags.events);
  const foldedFirst = Number(flags['folded-first']);
  await admin(async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(flags.database)} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(flags.database)}`);
  });
  await migrateUp(url.toString(), silent);
  const pool = createPool(url.toString(), 4, silent);
  try {
    const distinct = distinctAttributesOf(loadCatalog());
    const organizationId = (await createOrganization(pool, 'bench-fold')).id;
    const end = Date.now();
    const start = end - 30 * 86_400_000;
    const ingestUpTo = async (upTo: number, from: number) => {
      let next = from;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (next < upTo) {
            const at = next;
            next = Math.min(upTo, next + 1000);
            // The batches of run.ts (seed 2): the same events.
            const random = mulberry32(2 * 1_000_003 + at);
            const batch = [];
            for (let i = at; i < next; i++) batch.push(eventAt(i, total, start, 30 * 86_400_000, random));
            await ingestEvents(pool, organizationId, batch, { now: () => end, distinct });
          }
        }),
      );
    };
    await ingestUpTo(foldedFirst, 0);
    if (foldedFirst > 0) await pool.query('SELECT fold_dimension_totals()');
    await ingestUpTo(events, foldedFirst);
    await pool.query('VACUUM ANALYZE');
  } finally {
    await pool.end();
  }
}

function backendNs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
}

async function time(): Promise<void> {
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    for (const file of flags.sql) await client.query(readFileSync(file, 'utf8'));
    const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const names = flags.functions.split(',');
    const spent = new Map<string, number[]>(names.map((name) => [name, []]));
    const rows = new Map<string, string>();
    for (let round = 0; round < Number(flags.rounds); round += 1) {
      for (const name of round % 2 === 0 ? names : [...names].reverse()) {
        await client.query('BEGIN');
        const before = backendNs(pid);
        const { rows: result } = await client.query<{ n: string }>(`SELECT ${client.escapeIdentifier(name)}() AS n`);
        spent.get(name)!.push((backendNs(pid) - before) / 1e6);
        rows.set(name, result[0]!.n);
        await client.query('ROLLBACK');
        // The rolled-back rows would otherwise pile up in the tables' pages and indexes.
        await client.query('VACUUM rollup_dimension_totals_hourly, rollup_dimension_totals_daily, rollup_dimension_totals_hourly_pending');
      }
    }
    const { rows: pending } = await client.query<{ n: string }>('SELECT count(*) AS n FROM rollup_dimension_totals_hourly_pending');
    console.log(`${flags.database}: ${pending[0]!.n} pending hourly rows; ${flags.rounds} rounds, alternating; load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    console.log('| function | rows changed | median CPU ms | all rounds (ms) |');
    console.log('|---|---:|---:|---|');
    for (const [name, ms] of spent) {
      const sorted = [...ms].sort((a, b) => a - b);
      console.log(`| ${name} | ${rows.get(name)} | ${sorted[Math.floor(sorted.length / 2)]!.toFixed(0)} | ${ms.map((m) => m.toFixed(0)).join(', ')} |`);
    }
  } finally {
    await client.end();
  }
}

if (flags.prepare) await prepare();
if (!flags.drop) await time();
else await admin((client) => client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(flags.database)} WITH (FORCE)`));
