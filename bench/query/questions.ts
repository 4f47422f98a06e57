import type { Pool } from '../../backend/src/db/pool.js';
import type { Frame } from '../../backend/src/query/frames.js';
import type { QueryRequest } from '../../backend/src/query/schema.js';

/**
 * The single questions of the query benchmark: each as the one-query request
 * the plugin sends, the SQL a user would run on the raw `events` table for
 * the same answer (the peer it is timed against), and a check of the rollup
 * answer against the raw rows, run before anything is timed.
 */
export interface Question {
  key: string;
  title: string;
  body: QueryRequest;
  /** The raw-table peer, parameters $1 organization, $2 from, $3 to. */
  rawSql: string;
  /** Throws when the rollup answer differs from the raw rows; else says how close it is. */
  check(frames: Frame[], raw: RawReader): Promise<string>;
}

export type RawReader = (sql: string) => Promise<Array<Record<string, unknown>>>;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const Q95 = 0.95;

/** The raw table's hour of an event, in epoch ms. */
const HOUR_SQL = 'floor(extract(epoch FROM occurred_at) / 3600) * 3600000';
const range = 'organization_id = $1 AND occurred_at >= $2 AND occurred_at < $3';
/**
 * The value at the rank DDSketch answers (index floor(q * (n - 1)) of the
 * sorted values): the exact value a sketch quantile is within 0.5 % of.
 * percentile_cont interpolates between neighbours, which for the 10-20 values
 * of one bot's hour is not what any rank-based sketch estimates.
 */
const rankValue = (q: number) => `(array_agg(value ORDER BY value))[floor(${q} * (count(value) - 1))::int + 1]`;

/** (time, labels) -> value of every frame of a timeseries answer, skipping empty buckets. */
function points(frames: Frame[], dimension?: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const frame of frames) {
    const valueField = frame.schema.fields.find((field) => field.name === 'value');
    const label = dimension ? (valueField?.labels?.[dimension] ?? '') : '';
    const [times, values] = frame.data.values as [number[], Array<number | null>];
    times.forEach((t, index) => {
      const value = values[index];
      if (value !== null && value !== undefined && value !== 0) out.set(`${t}|${label}`, value);
    });
  }
  return out;
}

/** Group value -> value of a table answer with one group-by column. */
function tableRows(frames: Frame[]): Map<string, number> {
  const [groups, values] = frames[0]!.data.values as [string[], number[]];
  return new Map(groups.map((group, index) => [`|${group}`, values[index]!]));
}

function compareExact(name: string, rollup: Map<string, number>, raw: Map<string, number>): string {
  const keys = new Set([...rollup.keys(), ...raw.keys()]);
  const differ = [...keys].filter((key) => rollup.get(key) !== raw.get(key));
  if (differ.length > 0) throw new Error(`${name}: rollups and raw rows differ in ${differ.length} of ${keys.size} points, e.g. ${differ[0]}: ${rollup.get(differ[0]!)} vs ${raw.get(differ[0]!)}`);
  return `${keys.size} points equal to the raw rows`;
}

function compareRelative(name: string, rollup: Map<string, number>, raw: Map<string, number>, tolerance: number, exact = 'the value at the rank DDSketch answers'): string {
  const keys = new Set([...rollup.keys(), ...raw.keys()]);
  let worst = 0;
  for (const key of keys) {
    const a = rollup.get(key);
    const b = raw.get(key);
    if (a === undefined || b === undefined) throw new Error(`${name}: ${key} is in one answer only (rollups ${a}, raw ${b})`);
    worst = Math.max(worst, Math.abs(a - b) / Math.abs(b));
  }
  if (worst > tolerance) throw new Error(`${name}: worst relative error ${(worst * 100).toFixed(3)} % over ${keys.size} points (at most ${tolerance * 100} %)`);
  return `${keys.size} points within ${(worst * 100).toFixed(3)} % of ${exact} (at most ${tolerance * 100} %)`;
}

const keyed = (rows: Array<Record<string, unknown>>, value: string) => new Map(rows.map((row) => [`${row.t ?? ''}|${row.g ?? ''}`, Number(row[value])]));

export function questions(end: number): Question[] {
  // The last 30 days, on whole hours but not whole days (as "now-30d" is).
  const from = new Date(end - 30 * DAY);
  const to = new Date(end);
  const base = { groupBy: [] as string[], filters: [] as QueryRequest['queries'][number]['filters'], compareToPrevious: false, live: false, hide: false };
  const request = (query: Omit<QueryRequest['queries'][number], 'refId' | keyof typeof base> & Partial<typeof base>): QueryRequest => ({
    from,
    to,
    intervalMs: HOUR,
    maxDataPoints: 1000,
    queries: [{ ...base, ...query, refId: 'A' }],
  });
  return [
    {
      key: 'series',
      title: '30 d hourly `orders_created`',
      body: request({ metric: 'orders_created', aggregation: 'sum', format: 'timeseries' }),
      rawSql: `SELECT ${HOUR_SQL} AS t, count(*)::float8 AS n FROM events WHERE ${range} AND event_type = 'order.created' GROUP BY 1`,
      check: async (frames, raw) => compareExact('series', points(frames), keyed(await raw(`SELECT ${HOUR_SQL} AS t, count(*)::float8 AS n FROM events WHERE ${range} AND event_type = 'order.created' GROUP BY 1`), 'n')),
    },
    {
      key: 'p95',
      title: '30 d `bot_response_time_ms` p95',
      body: request({ metric: 'bot_response_time_ms', aggregation: 'p95', format: 'table' }),
      rawSql: `SELECT percentile_cont(${Q95}) WITHIN GROUP (ORDER BY value) AS p95 FROM events WHERE ${range} AND event_type = 'bot.response'`,
      check: async (frames, raw) =>
        compareRelative('p95', new Map([['|', (frames[0]!.data.values[0] as number[])[0]!]]), keyed(await raw(`SELECT ${rankValue(Q95)} AS v FROM events WHERE ${range} AND event_type = 'bot.response'`), 'v'), 0.01),
    },
    {
      key: 'series-by-channel',
      title: '30 d hourly `orders_created` by `channel`',
      body: request({ metric: 'orders_created', aggregation: 'sum', format: 'timeseries', groupBy: ['channel'] }),
      rawSql: `SELECT ${HOUR_SQL} AS t, attributes->>'channel' AS g, count(*)::float8 AS n FROM events WHERE ${range} AND event_type = 'order.created' GROUP BY 1, 2`,
      check: async (frames, raw) =>
        compareExact('series by channel', points(frames, 'channel'), keyed(await raw(`SELECT ${HOUR_SQL} AS t, attributes->>'channel' AS g, count(*)::float8 AS n FROM events WHERE ${range} AND event_type = 'order.created' GROUP BY 1, 2`), 'n')),
    },
    {
      key: 'series-filtered',
      title: '30 d hourly `orders_created`, `channel = web`',
      body: request({ metric: 'orders_created', aggregation: 'sum', format: 'timeseries', filters: [{ dimension: 'channel', op: 'eq', value: 'web' }] }),
      rawSql: `SELECT ${HOUR_SQL} AS t, count(*)::float8 AS n FROM events WHERE ${range} AND event_type = 'order.created' AND attributes->>'channel' = 'web' GROUP BY 1`,
      check: async (frames, raw) =>
        compareExact('filtered series', points(frames), keyed(await raw(`SELECT ${HOUR_SQL} AS t, count(*)::float8 AS n FROM events WHERE ${range} AND event_type = 'order.created' AND attributes->>'channel' = 'web' GROUP BY 1`), 'n')),
    },
    {
      key: 'p95-hourly-by-bot',
      title: '30 d hourly p95 by `botId`',
      body: request({ metric: 'bot_response_time_ms', aggregation: 'p95', format: 'timeseries', groupBy: ['botId'] }),
      rawSql: `SELECT ${HOUR_SQL} AS t, attributes->>'botId' AS g, percentile_cont(${Q95}) WITHIN GROUP (ORDER BY value) AS p95 FROM events WHERE ${range} AND event_type = 'bot.response' GROUP BY 1, 2`,
      check: async (frames, raw) =>
        compareRelative('hourly p95 by botId', points(frames, 'botId'), keyed(await raw(`SELECT ${HOUR_SQL} AS t, attributes->>'botId' AS g, ${rankValue(Q95)} AS v FROM events WHERE ${range} AND event_type = 'bot.response' GROUP BY 1, 2`), 'v'), 0.01),
    },
    {
      key: 'p95-by-bot-table',
      title: '30 d p95 by `botId`, table',
      body: request({ metric: 'bot_response_time_ms', aggregation: 'p95', format: 'table', groupBy: ['botId'] }),
      rawSql: `SELECT attributes->>'botId' AS g, percentile_cont(${Q95}) WITHIN GROUP (ORDER BY value) AS p95 FROM events WHERE ${range} AND event_type = 'bot.response' GROUP BY 1`,
      check: async (frames, raw) =>
        compareRelative('p95 by botId', tableRows(frames), keyed(await raw(`SELECT attributes->>'botId' AS g, ${rankValue(Q95)} AS v FROM events WHERE ${range} AND event_type = 'bot.response' GROUP BY 1`), 'v'), 0.01),
    },
    {
      key: 'distinct',
      title: '30 d `unique_contacts` (distinct count)',
      body: request({ metric: 'unique_contacts', aggregation: 'distinct', format: 'table' }),
      rawSql: `SELECT count(DISTINCT attributes->>'contactId') AS n FROM events WHERE ${range} AND event_type IN ('message.sent', 'message.received')`,
      check: async (frames, raw) =>
        compareRelative(
          'unique_contacts',
          new Map([['|', (frames[0]!.data.values[0] as number[])[0]!]]),
          keyed(await raw(`SELECT count(DISTINCT attributes->>'contactId') AS n FROM events WHERE ${range} AND event_type IN ('message.sent', 'message.received')`), 'n'),
          0.02,
          'COUNT(DISTINCT)',
        ),
    },
  ];
}

/**
 * The indexes the raw-table peer gets: the one the issue names, which every
 * question's range scan uses, and the expression indexes a user adds for the
 * grouped and filtered questions (one per dimension they filter or group by).
 */
export const RAW_INDEXES: Array<{ name: string; sql: string }> = [
  { name: 'bench_events_org_type_time', sql: 'CREATE INDEX IF NOT EXISTS bench_events_org_type_time ON events (organization_id, event_type, occurred_at) INCLUDE (value)' },
  { name: 'bench_events_org_type_channel_time', sql: `CREATE INDEX IF NOT EXISTS bench_events_org_type_channel_time ON events (organization_id, event_type, (attributes->>'channel'), occurred_at) INCLUDE (value)` },
  { name: 'bench_events_org_type_bot_time', sql: `CREATE INDEX IF NOT EXISTS bench_events_org_type_bot_time ON events (organization_id, event_type, (attributes->>'botId'), occurred_at) INCLUDE (value)` },
];

export async function createRawIndexes(pool: Pool, log: (line: string) => void): Promise<void> {
  for (const index of RAW_INDEXES) {
    const started = performance.now();
    await pool.query(index.sql);
    log(`  index ${index.name}: ${Math.round(performance.now() - started)} ms`);
  }
  // As autovacuum leaves a settled table: the visibility map set, so the peer gets index-only scans where it can.
  const started = performance.now();
  await pool.query('VACUUM (ANALYZE) events');
  log(`  VACUUM (ANALYZE) events: ${Math.round(performance.now() - started)} ms`);
}
