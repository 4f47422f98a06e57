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
import { foldCadence } from '../../backend/src/jobs/fold-totals.js';
import { createLogger } from '../../backend/src/logger.js';
import { createTestDatabase } from '../../backend/test/support/databases.js';
import { eventAt, mulberry32 } from './events.js';

/**
 * Where a batch's PostgreSQL time goes, write by write: ingests the first `--events` of run.ts's stream (4 clients,
 * folds every 2 s), then `--sample` more batches one at a time, each statement of which is first run under
 * `EXPLAIN (ANALYZE, WAL, BUFFERS)` inside a savepoint that is rolled back, then for real. Prints per event of the
 * sampled batches: each write (ModifyTable node) of the statements with its time and WAL (in the last statement a
 * step's own share: its inclusive cost less the step before it, which it ran), and the backend CPU
 * (/proc/<pid>/schedstat) of each statement for real, of the last statement's parameters' input alone and of each
 * of its parameters alone, and of the raw events' JSON parsed alone (bench/README.md, issue 20, step 26). A profiling
 * aid: EXPLAIN's timing adds its own cost to every node.
 *
 *   DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/postgres node --import tsx bench/ingest/explain.ts [--events 300000] [--sample 40]
 */
const { values: flags } = parseArgs({
  options: { events: { type: 'string', default: '300000' }, sample: { type: 'string', default: '40' }, total: { type: 'string', default: '1000000' } },
});
const EVENTS = Number(flags.events);
const SAMPLE = Number(flags.sample);
const TOTAL = Number(flags.total);
const BATCH = 1000;
const SPAN_MS = 30 * 86_400_000;

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Function Name'?: string;
  'CTE Name'?: string;
  'Subplan Name'?: string;
  'Actual Total Time': number;
  'Actual Loops': number;
  'WAL Records'?: number;
  'WAL FPI'?: number;
  'WAL Bytes'?: number;
  Plans?: PlanNode[];
}

type Usage = { ms: number; records: number; fpi: number; bytes: number };
const steps = new Map<string, Usage>();
let sampling = false;
let sampledEvents = 0;

const usage = (n: PlanNode): Usage => ({ ms: n['Actual Total Time'] * n['Actual Loops'], records: n['WAL Records'] ?? 0, fpi: n['WAL FPI'] ?? 0, bytes: n['WAL Bytes'] ?? 0 });
function add(key: string, u: Usage): void {
  const entry = steps.get(key) ?? { ms: 0, records: 0, fpi: 0, bytes: 0 };
  steps.set(key, { ms: entry.ms + u.ms, records: entry.records + u.records, fpi: entry.fpi + u.fpi, bytes: entry.bytes + u.bytes });
}

/** Every write (ModifyTable node) of a plan with its CTE, and what it spent including its input. */
function writes(node: PlanNode, cte: string, out: Array<{ key: string; u: Usage }>): void {
  const name = node['Subplan Name']?.startsWith('CTE ') ? node['Subplan Name'].slice(4) : cte;
  if (node['Node Type'] === 'ModifyTable') out.push({ key: `${name} (${node['Relation Name']})`, u: usage(node) });
  for (const child of node.Plans ?? []) writes(child, name, out);
}

/**
 * Steps chained by inSequence (store.ts) each run the step before them inside their own node (the count that makes
 * them wait), so in the chain's order a step's own cost is its inclusive cost less the one before it.
 */
function account(statement: string, plan: PlanNode, executionMs: number): void {
  const out: Array<{ key: string; u: Usage }> = [];
  writes(plan, 'main', out);
  out.sort((a, b) => a.u.ms - b.u.ms);
  const chained = statement === 'last';
  let before: Usage = { ms: 0, records: 0, fpi: 0, bytes: 0 };
  for (const { key, u } of out) {
    add(`${statement}: ${key}`, chained ? { ms: u.ms - before.ms, records: u.records - before.records, fpi: u.fpi - before.fpi, bytes: u.bytes - before.bytes } : u);
    if (chained) before = u;
  }
  const top = usage(plan);
  add(`${statement}: whole statement (execution time)`, { ...top, ms: executionMs });
}

async function explained(client: pg.Client, statement: string, text: string, values?: unknown[]): Promise<void> {
  await run(client, 'SAVEPOINT explained');
  const result = (await run(client, { text: `EXPLAIN (ANALYZE, WAL, BUFFERS, FORMAT JSON) ${text}`, values })) as pg.QueryResult<{ 'QUERY PLAN': Array<{ Plan: PlanNode; 'Execution Time': number; 'Planning Time'?: number }> }>;
  await run(client, 'ROLLBACK TO SAVEPOINT explained');
  const plan = result.rows[0]!['QUERY PLAN'][0]!;
  account(statement, plan.Plan, plan['Execution Time']);
  // EXPLAIN EXECUTE counts the parameters' input (EvaluateParams) in its planning time.
  add(`${statement}: planning (with the parameters' input)`, { ms: plan['Planning Time'] ?? 0, records: 0, fpi: 0, bytes: 0 });
}

function backendNs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
}

/** Backend CPU of `text` on `client`, in ms. */
async function cpuOf(client: pg.Client & { processID?: number }, text: string): Promise<number> {
  const before = backendNs(client.processID!);
  await run(client, text);
  return (backendNs(client.processID!) - before) / 1e6;
}

const query = pg.Client.prototype.query;
/** A statement on `client` through pg's own query(), past the wrapper below. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const run = (client: pg.Client, ...args: unknown[]): Promise<any> => (query as (...a: unknown[]) => Promise<unknown>).call(client, ...args);
const paramsOnly = new WeakSet<pg.Client>();
const onePrepared = new WeakSet<pg.Client>();
pg.Client.prototype.query = function (this: pg.Client, config: unknown, ...rest: unknown[]) {
  if (!sampling) return (query as (...args: unknown[]) => unknown).call(this, config, ...rest);
  return (async () => {
    if (typeof config === 'string' && config.startsWith('EXECUTE ingest_rollups')) {
      const execute = config.slice(0, config.lastIndexOf(';\nCOMMIT;'));
      await explained(this, 'last', execute);
      // The same literals coerced to the same parameter types, for a statement that does nothing with them.
      const literals = execute.slice(execute.indexOf('('));
      const self = this as pg.Client & { processID?: number };
      const statementName = /^EXECUTE (\w+)/.exec(execute)![1]!;
      const typesOf = (await run(self, `SELECT array_to_string(parameter_types, ', ') AS types FROM pg_prepared_statements WHERE name = '${statementName}'`)).rows[0]!.types;
      if (!paramsOnly.has(self)) {
        await run(self, `PREPARE params_only (${typesOf}) AS SELECT 1`);
        paramsOnly.add(self);
      }
      add('last: parameters lexed and parsed alone (backend CPU)', { ms: await cpuOf(self, `EXECUTE params_only${literals}`), records: 0, fpi: 0, bytes: 0 });
      const types = typesOf.split(', ');
      const parts = literals.slice(1, -1).split(/(?<=\$mh\d*\$), (?=\$mh)/);
      if (!onePrepared.has(self)) {
        for (const [i, type] of types.entries()) await run(self, `PREPARE one_${i} (${type}) AS SELECT 1`);
        onePrepared.add(self);
      }
      for (const [i, part] of parts.entries()) {
        add(`last: parameter $${i + 1} (${types[i]}) parsed alone (backend CPU; bytes = characters)`, { ms: await cpuOf(self, `EXECUTE one_${i}(${part})`), records: 0, fpi: 0, bytes: part.length });
      }
      const before = backendNs(self.processID!);
      const answer = await run(this, config, ...rest);
      add('last: EXECUTE + COMMIT for real (backend CPU)', { ms: (backendNs(self.processID!) - before) / 1e6, records: 0, fpi: 0, bytes: 0 });
      add('last: literal characters (per event = chars / 1000)', { ms: literals.length / 1000, records: 0, fpi: 0, bytes: 0 });
      return answer;
    } else if (typeof config === 'object' && config !== null && 'name' in config && 'text' in config) {
      const named = config as { name: string; text: string; values?: unknown[] };
      if (named.name.startsWith('ingest_')) {
        await explained(this, named.name, named.text, named.values);
        const self = this as pg.Client & { processID?: number };
        if (named.name === 'ingest_events_v3') {
          const b0 = backendNs(self.processID!);
          await run(this, { name: 'events_param_only', text: 'SELECT $1::jsonb IS NULL', values: [named.values![1]] });
          add('ingest_events_v3: events JSON parsed alone (backend CPU; bytes = characters)', { ms: (backendNs(self.processID!) - b0) / 1e6, records: 0, fpi: 0, bytes: String(named.values![1]).length });
          const b1 = backendNs(self.processID!);
          await run(this, { name: 'events_param_only_json', text: 'SELECT $1::json IS NULL', values: [named.values![1]] });
          add('ingest_events_v3: events JSON as json alone (backend CPU)', { ms: (backendNs(self.processID!) - b1) / 1e6, records: 0, fpi: 0, bytes: 0 });
        }
        const before = backendNs(self.processID!);
        const answer = await run(this, config, ...rest);
        add(`${named.name}: for real (backend CPU)`, { ms: (backendNs(self.processID!) - before) / 1e6, records: 0, fpi: 0, bytes: 0 });
        return answer;
      }
    }
    return run(this, config, ...rest);
  })();
} as typeof pg.Client.prototype.query;

const silent = createLogger('silent');
const database = await createTestDatabase('bench_ingest_explain');
try {
  await migrateUp(database.url, silent);
  const pool = createPool(database.url, 5, silent);
  const distinct = distinctAttributesOf(loadCatalog());
  const organizationId = (await createOrganization(pool, 'bench-explain')).id;
  const end = Date.now();
  const start = end - SPAN_MS;
  const batchAt = (from: number) => {
    const random = mulberry32(2 * 1_000_003 + from);
    const batch = [];
    for (let i = from; i < Math.min(TOTAL, from + BATCH); i++) batch.push(eventAt(i, TOTAL, start, SPAN_MS, random));
    return batch;
  };
  let next = 0;
  const tick = foldCadence(pool);
  let lastFold = performance.now();
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < EVENTS) {
        const from = next;
        next += BATCH;
        await ingestEvents(pool, organizationId, batchAt(from), { now: () => end, distinct });
        if (performance.now() - lastFold > 2000) {
          lastFold = performance.now();
          await tick();
        }
      }
    }),
  );
  await pool.query('SELECT fold_rollup_totals(), fold_distinct_totals(), fold_dimension_totals()');
  await pool.query('CHECKPOINT');
  sampling = true;
  for (let from = EVENTS; from < EVENTS + SAMPLE * BATCH; from += BATCH) {
    const result = await ingestEvents(pool, organizationId, batchAt(from), { now: () => end, distinct });
    sampledEvents += result.accepted ?? BATCH;
  }
  sampling = false;
  await pool.end();
  console.log(`${SAMPLE} batches after ${EVENTS} events, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log('| statement: node | us per event (self) | WAL records per event | FPI per 1000 events | WAL bytes per event |');
  console.log('|---|---:|---:|---:|---:|');
  for (const [key, entry] of steps) {
    console.log(`| ${key} | ${((entry.ms * 1000) / sampledEvents).toFixed(2)} | ${(entry.records / sampledEvents).toFixed(2)} | ${((entry.fpi * 1000) / sampledEvents).toFixed(1)} | ${(entry.bytes / sampledEvents).toFixed(0)} |`);
  }
} finally {
  await database.drop();
}
