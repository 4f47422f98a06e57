import fs from 'node:fs';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createQueryModule } from '../../backend/src/query/module.js';
import { DASHBOARDS, dashboardRequests } from './dashboards.js';
import { openServiceContext } from './service-context.js';

/**
 * Every SQL statement one cold load of a dashboard sends, by panel, ranked by
 * PostgreSQL's CPU for it: each statement is run again `--runs` times on one
 * connection (prepared under its own name when it has one, so past the fifth
 * run with the plan a pooled connection keeps), and the backend's CPU is
 * read from /proc/<pid>/schedstat (nanoseconds).
 *
 *   node --import tsx bench/query/statements.ts --database bench_q_10m_x --dashboard bots.json [--runs 50]
 */
const { values: flags } = parseArgs({
  options: {
    database: { type: 'string' },
    dashboard: { type: 'string' },
    runs: { type: 'string', default: '50' },
    /** plan_cache_mode of the measuring connection: auto (PostgreSQL's choice, as the pool), force_custom_plan, force_generic_plan. */
    plans: { type: 'string', default: 'auto' },
    /** EXPLAIN (ANALYZE, BUFFERS) of the N statements that cost PostgreSQL most, as the measuring connection runs them. */
    explain: { type: 'string', default: '0' },
  },
});
if (!flags.database || !flags.dashboard) throw new Error('usage: --database NAME --dashboard FILE');
const runs = Number(flags.runs);
const { context, org, end, close } = await openServiceContext(flags.database);
/** A value as node-pg sends it: dates as ISO text, arrays as array literals. */
function prepared(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return `{${value.map((entry) => `"${String(entry).replace(/(["\\])/g, '\\$1')}"`).join(',')}}`;
  return String(value);
}
type Config = { text: string; values?: unknown[]; name?: string };
const sent: Array<{ panel: string; config: Config }> = [];
try {
  const panels = dashboardRequests(DASHBOARDS.find((board) => board.file === flags.dashboard)?.file ?? flags.dashboard, end);
  const { service } = await createQueryModule(context);
  let panel = '';
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const [first, second] = args as [string | Config, unknown[] | undefined];
    const config = typeof first === 'string' ? { text: first, values: Array.isArray(second) ? second : undefined } : first;
    if (!/pg_stat_activity|pg_cancel_backend/.test(config.text)) sent.push({ panel, config: { text: config.text, values: config.values, name: config.name } });
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  await context.cacheVersions.bump(org);
  for (const one of panels) {
    panel = one.title;
    await service.query(org, one.body);
  }
  pg.Client.prototype.query = original;
} finally {
  await close();
}
const url = new URL(process.env.DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/postgres');
url.pathname = `/${flags.database}`;
const client = new pg.Client({ connectionString: url.toString() });
await client.connect();
await client.query(`SET plan_cache_mode = ${pg.escapeIdentifier(flags.plans!)}`);
const pid = (client as unknown as { processID: number }).processID;
const cpuNs = () => Number(fs.readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
const results: Array<{ panel: string; text: string; config: Config; plans: string; rows: number; pgMs: number; wallMs: number }> = [];
for (const { panel, config } of sent) {
  const run = () => client.query({ ...config, types: { getTypeParser: () => (text: string) => text } } as pg.QueryConfig);
  let rows = 0;
  for (let index = 0; index < 6; index += 1) rows = (await run()).rowCount ?? 0;
  const before = cpuNs();
  const started = performance.now();
  for (let index = 0; index < runs; index += 1) await run();
  const pgMs = (cpuNs() - before) / 1e6 / runs;
  const wallMs = (performance.now() - started) / runs;
  const plans = config.name ? (await client.query<{ g: string; c: string }>('SELECT generic_plans AS g, custom_plans AS c FROM pg_prepared_statements WHERE name = $1', [config.name])).rows[0] : undefined;
  results.push({ panel, text: config.text, config, plans: plans ? `${plans.g} / ${plans.c}` : 'unnamed', rows, pgMs, wallMs });
}
results.sort((a, b) => b.pgMs - a.pgMs);
for (const { panel, config } of results.slice(0, Number(flags.explain))) {
  // A named statement is EXECUTEd as prepared (its plan as the connection keeps it); its values as literals.
  const literal = (value: unknown) => (value === null || value === undefined ? 'NULL' : client.escapeLiteral(prepared(value)));
  const sql = config.name ? `EXECUTE ${config.name}(${(config.values ?? []).map(literal).join(', ')})` : config.text;
  const { rows } = await client.query<{ 'QUERY PLAN': string }>({ text: `EXPLAIN (ANALYZE, BUFFERS) ${sql}`, values: config.name ? [] : config.values });
  console.log(`\n### ${panel}\n${config.text}\n${JSON.stringify(config.values)}\n${rows.map((row) => row['QUERY PLAN']).join('\n')}`);
}
await client.end();
const total = results.reduce((sum, one) => sum + one.pgMs, 0);
console.log(`${results.length} statements, PostgreSQL CPU ${total.toFixed(2)} ms per load when each runs alone (${runs} runs each, plan_cache_mode ${flags.plans})`);
console.log('| PostgreSQL CPU ms | wall ms | rows | plans generic / custom | panel | statement |\n|---:|---:|---:|---|---|---|');
for (const one of results) console.log(`| ${one.pgMs.toFixed(3)} | ${one.wallMs.toFixed(3)} | ${one.rows} | ${one.plans} | ${one.panel} | ${one.text.slice(0, 90).replace(/\s+/g, ' ').replace(/\|/g, '/')} |`);
