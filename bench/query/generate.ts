import { ensurePartitions } from '../../backend/src/ingest/partitions.js';
import type { Pool } from '../../backend/src/db/pool.js';

/**
 * Synthetic history for the query benchmark, written set-based in SQL
 * (generate_series) because 10M events through the HTTP ingest path would take
 * longer than the benchmark itself:
 *
 * - `organizations` bench-000..bench-NNN, sized by a Zipf law (s = 1): a few
 *   large tenants and a long tail, as a SaaS has;
 * - raw `events` over `days` days up to `end`, written in time order as a
 *   live feed writes them, in the built-in types' plausible proportions, with
 *   the dimensions the catalog declares;
 * - `rollups_hourly` and `rollups_daily` aggregated from those raw rows with
 *   the same dims, count/sum/min/max and DDSketch bins ingestion writes, so
 *   rollup answers can be checked against raw-table answers exactly;
 * - distinct sketches of the message events' contactId, hourly and daily, with
 *   the entries ingestion computes (`hll_entry()`);
 * - the totals tables rebuilt from those rollups (`rebuild_rollup_totals()`,
 *   `rebuild_distinct_totals()`, and per dimension `rebuild_dimension_totals()`).
 */
export interface Generated {
  organizations: Array<{ id: string; name: string; events: number }>;
  start: number;
  end: number;
  events: number;
}

export interface GenerateOptions {
  events: number;
  organizations: number;
  days: number;
  /** Epoch ms, a whole hour: the history ends here. */
  end: number;
  log: (line: string) => void;
}

const CHUNK = 1_000_000;

/** Log-normal sample around `median`, from two uniforms (Box-Muller). */
const lognormal = (median: number, sigma: number) => `round((${median} * exp(${sigma} * sqrt(-2 * ln(1 - r1)) * cos(2 * pi() * r2)))::numeric, 2)::float8`;
const pick = (values: string[], r: string) => `(ARRAY[${values.map((value) => `'${value}'`).join(',')}])[1 + floor(${r} * ${values.length})::int]`;

const CHANNELS = ['web', 'app', 'pos', 'whatsapp'];
const MARKETS = ['de', 'fr', 'uk', 'us', 'es'];
const BOTS = ['faq', 'booking', 'support', 'sales', 'returns'];
const AGENTS = Array.from({ length: 20 }, (_, index) => `agent-${index}`);
const STATES = ['open', 'pending', 'done', 'spam', 'unsubscribe'];
/** Contacts per organization that message events name (unique_contacts counts them). */
const CONTACTS = 200_000;

/** Event type by a uniform draw, with its value and attributes (mirrors bench/ingest's mix). */
const EVENT_SQL = `
  CASE
    WHEN r_type < 0.15 THEN 'order.created'
    WHEN r_type < 0.25 THEN 'payment.succeeded'
    WHEN r_type < 0.27 THEN 'payment.failed'
    WHEN r_type < 0.42 THEN 'workflow.finished'
    WHEN r_type < 0.57 THEN 'message.sent'
    WHEN r_type < 0.71 THEN 'message.delivered'
    WHEN r_type < 0.76 THEN 'message.received'
    WHEN r_type < 0.81 THEN 'call.finished'
    WHEN r_type < 0.86 THEN 'conversation.status_changed'
    WHEN r_type < 0.96 THEN 'bot.response'
    ELSE 'invoice.paid'
  END`;

const VALUE_SQL = `
  CASE
    WHEN type IN ('order.created', 'payment.succeeded') THEN ${lognormal(60, 0.7)}
    WHEN type = 'workflow.finished' THEN ${lognormal(1200, 1)}
    WHEN type = 'call.finished' THEN ${lognormal(180, 0.8)}
    WHEN type = 'bot.response' THEN ${lognormal(350, 0.6)}
    WHEN type = 'invoice.paid' THEN ${lognormal(400, 0.9)}
  END`;

const ATTRIBUTES_SQL = `
  CASE
    WHEN type = 'order.created' THEN jsonb_build_object('channel', ${pick(CHANNELS, 'r3')}, 'market', ${pick(MARKETS, 'r4')})
    WHEN type LIKE 'payment.%' THEN jsonb_build_object('market', ${pick(MARKETS, 'r4')})
    WHEN type = 'workflow.finished' THEN jsonb_build_object('status', CASE WHEN r3 < 0.9 THEN 'SUCCESS' WHEN r3 < 0.98 THEN 'FAILED' ELSE 'FAILED_SAFETY_LIMIT' END)
    WHEN type LIKE 'message.%' THEN jsonb_build_object('channel', ${pick(CHANNELS, 'r3')}, 'messageId', 'msg-' || g, 'contactId', 'c-' || floor(r5 * ${CONTACTS}))
    WHEN type = 'call.finished' THEN jsonb_build_object('direction', CASE WHEN r3 < 0.5 THEN 'inbound' ELSE 'outbound' END,
                                                        'status', CASE WHEN r4 < 0.85 THEN 'answered' ELSE 'missed' END, 'agentId', ${pick(AGENTS, 'r5')})
    WHEN type = 'conversation.status_changed' THEN jsonb_build_object('from', ${pick(STATES, 'r3')}, 'to', ${pick(STATES, 'r4')}, 'agentId', ${pick(AGENTS, 'r5')})
    WHEN type = 'bot.response' THEN jsonb_build_object('botId', ${pick(BOTS, 'r3')}, 'success', r4 < 0.95)
    ELSE jsonb_build_object('product', ${pick(['basic', 'pro', 'enterprise'], 'r3')})
  END`;

/** The rollup dims of a raw event, as ingestion derives them (bot.response status from success). */
const DIMS_SQL = `jsonb_strip_nulls(jsonb_build_object(
  'channel', attributes->>'channel',
  'status', CASE WHEN event_type = 'bot.response' THEN CASE WHEN (attributes->>'success')::boolean THEN 'success' ELSE 'error' END ELSE attributes->>'status' END,
  'direction', attributes->>'direction', 'botId', attributes->>'botId', 'agentId', attributes->>'agentId',
  'source', attributes->>'source', 'market', attributes->>'market', 'product', attributes->>'product',
  'from', attributes->>'from', 'to', attributes->>'to'))`;

function rollupSql(table: string, unit: 'hour' | 'day'): string {
  return `
    INSERT INTO ${table} (organization_id, event_type, bucket, dims, count, value_count, sum, min, max, sketch)
    SELECT organization_id, event_type, bucket, dims, sum(n), sum(vn), sum(s), min(mn), max(mx),
           jsonb_object_agg(bin, n) FILTER (WHERE bin IS NOT NULL)
    FROM (
      SELECT organization_id, event_type, date_trunc('${unit}', occurred_at) AS bucket, ${DIMS_SQL} AS dims,
             sketch_bin(value) AS bin,
             count(*) AS n, count(value) AS vn, coalesce(sum(value), 0) AS s, min(value) AS mn, max(value) AS mx
      FROM events
      GROUP BY 1, 2, 3, 4, 5
    ) per_bin
    GROUP BY 1, 2, 3, 4`;
}

/**
 * Distinct sketches of contactId per rollup row, from the raw rows with the
 * SQL twin of ingestion's hashing (hll_entry, migration 0020), then the
 * distinct totals from those (rebuild_distinct_totals()).
 */
function distinctRollupSql(table: string, unit: 'hour' | 'day'): string {
  return `
    INSERT INTO ${table} (organization_id, event_type, attribute, bucket, dims, sketch)
    SELECT organization_id, event_type, 'contactId', date_trunc('${unit}', occurred_at), ${DIMS_SQL},
           hll_normalize(ROW(array_agg(hll_entry(attributes->>'contactId')), NULL)::hll)
    FROM events
    WHERE event_type IN ('message.sent', 'message.received') AND attributes ? 'contactId'
    GROUP BY 1, 2, 3, 4, 5`;
}

export async function generate(pool: Pool, options: GenerateOptions): Promise<Generated> {
  const { events, days, end, log } = options;
  const spanMs = days * 86_400_000;
  const start = end - spanMs;
  const weights = Array.from({ length: options.organizations }, (_, index) => 1 / (index + 1));
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  let running = 0;
  const thresholds = weights.slice(0, -1).map((weight) => (running += weight / total));

  const client = await pool.connect();
  try {
    // Day buckets in UTC, whatever the server's time zone.
    await client.query(`SET TIME ZONE 'UTC'`);
    const orgs = await client.query<{ id: string; name: string }>(
      `INSERT INTO organizations (name) SELECT 'bench-' || lpad(i::text, 3, '0') FROM generate_series(0, $1::int - 1) i
       ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id, name`,
      [options.organizations],
    );
    const ids = orgs.rows.sort((a, b) => (a.name < b.name ? -1 : 1)).map((row) => row.id);
    const months: number[] = [];
    for (let t = start; t <= end; t += 86_400_000) months.push(t);
    await ensurePartitions(pool, months, end);

    for (let lo = 0; lo < events; lo += CHUNK) {
      const hi = Math.min(events, lo + CHUNK) - 1;
      const started = performance.now();
      await client.query(
        `INSERT INTO events (organization_id, occurred_at, event_id, event_type, value, attributes, received_at)
         SELECT ($1::uuid[])[1 + width_bucket(r_org, $2::float8[])], ts, 'bench-' || g, type, ${VALUE_SQL}, ${ATTRIBUTES_SQL}, ts
         FROM (
           SELECT g, r_org, ts, r1, r2, r3, r4, r5, ${EVENT_SQL} AS type
           FROM (
             SELECT g, random() AS r_org, random() AS r_type, random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5,
                    to_timestamp(($3::float8 + (g + random()) / $7::float8 * $4::float8) / 1000) AS ts
             FROM generate_series($5::bigint, $6::bigint) g
           ) draws
         ) typed`,
        [ids, thresholds, start, spanMs, lo, hi, events],
      );
      log(`  raw events ${hi + 1}/${events} (${Math.round(performance.now() - started)} ms)`);
    }
    for (const [table, unit] of [
      ['rollups_hourly', 'hour'],
      ['rollups_daily', 'day'],
    ] as const) {
      const started = performance.now();
      await client.query(rollupSql(table, unit));
      log(`  ${table} from raw events (${Math.round(performance.now() - started)} ms)`);
    }
    for (const [table, unit] of [
      ['rollups_distinct_hourly', 'hour'],
      ['rollups_distinct_daily', 'day'],
    ] as const) {
      const started = performance.now();
      await client.query(distinctRollupSql(table, unit));
      log(`  ${table} from raw events (${Math.round(performance.now() - started)} ms)`);
    }
    const started = performance.now();
    await client.query('SELECT rebuild_rollup_totals()');
    await client.query('SELECT rebuild_distinct_totals()');
    // Per dimension (migration 0160) from the same dimensioned rollups.
    await client.query('SELECT rebuild_dimension_totals()');
    log(`  rollup totals from the rollups (${Math.round(performance.now() - started)} ms)`);
    await client.query('ANALYZE events');
    await client.query('ANALYZE rollups_hourly');
    await client.query('ANALYZE rollups_daily');
    await client.query('ANALYZE rollup_totals_hourly');
    await client.query('ANALYZE rollup_totals_daily');
    await client.query('ANALYZE rollup_dimension_totals_hourly');
    await client.query('ANALYZE rollup_dimension_totals_daily');
    for (const table of ['rollups_distinct_hourly', 'rollups_distinct_daily', 'rollup_totals_distinct_hourly', 'rollup_totals_distinct_daily']) await client.query(`ANALYZE ${table}`);
    const counts = await client.query<{ id: string; events: number }>('SELECT organization_id AS id, count(*)::int AS events FROM events GROUP BY 1');
    const byId = new Map(counts.rows.map((row) => [row.id, row.events]));
    return {
      organizations: orgs.rows.map((row) => ({ ...row, events: byId.get(row.id) ?? 0 })).sort((a, b) => b.events - a.events),
      start,
      end,
      events,
    };
  } finally {
    client.release();
  }
}
