import { parseArgs } from 'node:util';
import { loadConfig } from '../../backend/src/config/env.js';
import { migrateUp } from '../../backend/src/db/migrate.js';
import { createLogger } from '../../backend/src/logger.js';
import { createQueryModule } from '../../backend/src/query/module.js';
import type { QueryRequest } from '../../backend/src/query/schema.js';
import { buildContext } from '../../backend/src/server.js';
import { createTestDatabase } from '../../backend/test/support/databases.js';
import { generate } from './generate.js';

/**
 * What a rolling window (the `rolling` query option, read from raw events) costs next to the
 * hourly rollups it replaces in alert rules, for the largest organization of a synthetic
 * history (generate.ts), on a fresh database dropped afterwards. Each question is asked with a
 * new `to` every run (as an alert rule evaluated every minute does), so no answer comes from the
 * cache: (a) rolling, with the BRIN index on events.occurred_at (migration 0140); (b) rolling
 * without it (the index dropped: the monthly partition is scanned); (c) hourly rollups.
 * Questions: orders of the last 30 minutes, the bot p95 of the last 2 hours, the workflow
 * failure rule's Wilson bound over the last 3 hours (the provisioned rules' windows).
 *
 *   node --import tsx bench/query/rolling.ts [--events 2000000] [--organizations 10] [--days 31]
 */
const { values: flags } = parseArgs({
  options: {
    events: { type: 'string', default: '2000000' },
    organizations: { type: 'string', default: '10' },
    days: { type: 'string', default: '31' },
    iterations: { type: 'string', default: '30' },
  },
});
const EVENTS = Number(flags.events);
const ORGS = Number(flags.organizations);
const DAYS = Number(flags.days);
const ITERATIONS = Number(flags.iterations);
for (const [name, value] of Object.entries({ events: EVENTS, organizations: ORGS, days: DAYS, iterations: ITERATIONS })) {
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive whole number`);
}
process.env.DATABASE_URL ??= 'postgres://postgres:postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/13';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const log = (line: string) => process.stderr.write(`${line}\n`);
const median = (samples: number[]) => [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)]!;

const database = await createTestDatabase('bench_rolling');
const logger = createLogger('silent');
try {
  await migrateUp(database.url, logger);
  const config = loadConfig({ DATABASE_URL: database.url, REDIS_URL, LOG_LEVEL: 'silent' });
  const context = await buildContext(config, logger, database.url);
  try {
    const end = Math.floor(Date.now() / HOUR) * HOUR;
    log(`generating ${EVENTS} events over ${DAYS} days for ${ORGS} organizations`);
    const data = await generate(context.pool, { events: EVENTS, organizations: ORGS, days: DAYS, end, log });
    await context.pool.query('ANALYZE events');
    const org = data.organizations[0]!;
    const { service } = await createQueryModule(context);
    const base = { groupBy: [] as string[], filters: [], compareToPrevious: false, live: false, hide: false, format: 'timeseries' as const };
    const questions: Array<[string, number, QueryRequest['queries'][number]]> = [
      ['orders_created, last 30 min', 30 * MINUTE, { ...base, refId: 'A', metric: 'orders_created', aggregation: 'count' }],
      ['bot_response_time_ms p95, last 2 h', 2 * HOUR, { ...base, refId: 'A', metric: 'bot_response_time_ms', aggregation: 'p95' }],
      ['workflow failure band, last 3 h', 3 * HOUR, { ...base, refId: 'A', metric: 'workflow_failure_rate', band: 'workflow_failure_rate_high', bandField: 'lower' }],
    ];
    let shift = 0;
    const ask = async (span: number, query: QueryRequest['queries'][number], rolling: boolean) => {
      // A new minute every run: a new question, as a rule evaluated every minute asks.
      shift += 1;
      const to = new Date(end - 30 * MINUTE - shift * 1000);
      const request: QueryRequest = { from: new Date(to.getTime() - span), to, intervalMs: rolling ? 1000 : HOUR, maxDataPoints: rolling ? 43_200 : 1000, queries: [{ ...query, rolling }] };
      const started = performance.now();
      const result = (await service.query(org.id, request)).results.A!;
      if (result.status !== 200) throw new Error(`${query.metric}: ${result.error}`);
      return performance.now() - started;
    };
    const runs = async (span: number, query: QueryRequest['queries'][number], rolling: boolean) => {
      for (let index = 0; index < 3; index += 1) await ask(span, query, rolling);
      const samples: number[] = [];
      for (let index = 0; index < ITERATIONS; index += 1) samples.push(await ask(span, query, rolling));
      return median(samples);
    };
    const table: Array<[string, number, number, number]> = [];
    const withIndex = new Map<string, number>();
    const rollups = new Map<string, number>();
    for (const [name, span, query] of questions) {
      withIndex.set(name, await runs(span, query, true));
      rollups.set(name, await runs(span, query, false));
    }
    await context.pool.query('DROP INDEX events_occurred_at_brin');
    for (const [name, span, query] of questions) table.push([name, withIndex.get(name)!, await runs(span, query, true), rollups.get(name)!]);
    console.log(`\nRolling windows: ${EVENTS.toLocaleString('en')} events, ${DAYS} days, ${ORGS} organizations; largest organization ${org.name} with ${org.events.toLocaleString('en')} events; median of ${ITERATIONS} uncached runs\n`);
    console.log('| question | (a) rolling, BRIN ms | (b) rolling, no index ms | (c) hourly rollups ms |');
    console.log('|---|---:|---:|---:|');
    for (const [name, a, b, c] of table) console.log(`| ${name} | ${a.toFixed(1)} | ${b.toFixed(1)} | ${c.toFixed(1)} |`);
  } finally {
    for (const hook of [...context.onClose].reverse()) await hook().catch(() => undefined);
  }
} finally {
  await database.drop();
}
