import type { Catalog } from '../catalog/load.js';
import type { CatalogMetric } from '../catalog/schema.js';
import type { Pool } from '../db/pool.js';
import { dimensionsOf } from '../ingest/schema.js';

/** The trailing window of a live count, sum, average or ratio unless its metric sets `liveWindowSeconds`. */
export const LIVE_WINDOW_MS = 60_000;

/** What a live value reads: which events, which dimension values, and what is measured. */
interface EventsMetricQuery {
  eventTypes: string[];
  measure: 'count' | 'value' | 'level';
  where?: Record<string, string[]>;
  liveWindowSeconds?: number;
}

/**
 * How one metric streams:
 * - count / sum: the events (or their values) of its window (60 s, or the metric's `liveWindowSeconds`);
 * - avg: distributions, the average value over the window (no events: null);
 * - ratio: numerator / denominator, each over its own window (no denominator: 0);
 * - level: the level now (every +1/-1 delta so far), not a window.
 */
type LiveMode = 'count' | 'sum' | 'avg' | 'ratio' | 'level';

export interface LiveMetric {
  key: string;
  mode: LiveMode;
  query: EventsMetricQuery;
  /** The trailing window counted (windowed modes). */
  windowMs: number;
  /** Ratios: the numerator's and denominator's own live metrics (count or sum). */
  parts?: [LiveMetric, LiveMetric];
}

export class LiveMetricError extends Error {}

function eventsQuery(catalog: Catalog, metric: CatalogMetric): EventsMetricQuery {
  if (catalog.source(metric.source)?.type !== 'events') {
    throw new LiveMetricError(`metric '${metric.key}' has no live counter: only metrics of the events source stream`);
  }
  return metric.query as unknown as EventsMetricQuery;
}

function liveMetric(catalog: Catalog, key: string): LiveMetric {
  const metric = catalog.metric(key);
  if (!metric) throw new LiveMetricError(`metric '${key}' is not in the catalog`);
  if (metric.kind === 'ratio') {
    const parts = [metric.numerator!, metric.denominator!].map((part) => liveMetric(catalog, part));
    if (parts.some((part) => part.mode !== 'count' && part.mode !== 'sum')) throw new LiveMetricError(`metric '${key}' has no live counter: its parts are not counts or sums`);
    eventsQuery(catalog, metric);
    return { key, mode: 'ratio', query: { eventTypes: [], measure: 'count' }, windowMs: 0, parts: parts as [LiveMetric, LiveMetric] };
  }
  const query = eventsQuery(catalog, metric);
  if (metric.kind === 'distinct') throw new LiveMetricError(`metric '${key}' has no live counter: distinct counts come from the rollups' sketches`);
  const windowMs = query.liveWindowSeconds === undefined ? LIVE_WINDOW_MS : query.liveWindowSeconds * 1000;
  if (query.measure === 'level') return { key, mode: 'level', query, windowMs: 0 };
  if (metric.kind === 'distribution') return { key, mode: 'avg', query, windowMs };
  return { key, mode: query.measure === 'value' ? 'sum' : 'count', query, windowMs };
}

/** Every metric of the events source streams; see LiveMode for what each kind shows. */
export function liveMetrics(catalog: Catalog, keys: string[]): LiveMetric[] {
  return keys.map((key) => liveMetric(catalog, key));
}

interface RawRow {
  event_type: string;
  value: number | null;
  attributes: Record<string, unknown>;
  at_ms: number;
}

/** One counted contribution: what the rollups would count for the row (see ingest/store.ts and ingest/derived). */
interface Counted {
  type: string;
  value: number | null;
  dims: Record<string, string>;
}

/**
 * The dedupe scopes of ingestion, as (scope, key) of a raw row: a row counts
 * in the rollups only if it holds its claim (ingest_keys holds the time of the
 * claiming event), so a repeated callback counts once here too.
 */
function claimsOf(row: RawRow): Array<{ scope: string; key: string; counts: string }> {
  const text = (name: string) => (typeof row.attributes[name] === 'string' ? String(row.attributes[name]).trim() : undefined);
  switch (row.event_type) {
    case 'message.delivered':
      return [{ scope: 'message.delivered', key: text('messageId')!, counts: 'message.delivered' }];
    case 'message.read':
      return [
        { scope: 'message.delivered', key: text('messageId')!, counts: 'message.delivered' },
        { scope: 'message.read', key: text('messageId')!, counts: 'message.read' },
      ];
    case 'bot.conversation_started':
    case 'bot.conversation_ended':
    case 'conversation.first_response':
      return [{ scope: row.event_type, key: text('conversationId')!, counts: row.event_type }];
    default:
      return [];
  }
}

const CLAIMS = `
SELECT scope, key, extract(epoch FROM occurred_at) * 1000 AS at_ms FROM ingest_keys
WHERE organization_id = $1 AND scope = ANY($2::text[]) AND key = ANY($3::text[])`;

async function countedRows(pool: Pool, organizationId: string, rows: RawRow[]): Promise<Counted[]> {
  const wanted = rows.flatMap(claimsOf);
  const claimTimes = new Map<string, number>();
  if (wanted.length > 0) {
    const claims = await pool.query<{ scope: string; key: string; at_ms: number }>(CLAIMS, [organizationId, [...new Set(wanted.map((w) => w.scope))], [...new Set(wanted.map((w) => w.key))]]);
    for (const claim of claims.rows) claimTimes.set(JSON.stringify([claim.scope, claim.key]), Number(claim.at_ms));
  }
  const counted: Counted[] = [];
  const used = new Set<string>();
  for (const row of rows) {
    const derived = dimensionsOf(row.event_type, row.attributes);
    const dims = 'dims' in derived ? derived.dims : {};
    const claims = claimsOf(row);
    if (claims.length === 0) {
      counted.push({ type: row.event_type, value: row.value, dims });
      continue;
    }
    for (const claim of claims) {
      const id = JSON.stringify([claim.scope, claim.key]);
      // The claiming event is the first (in arrival order) at the claim's time; later callbacks count nothing.
      if (used.has(id) || claimTimes.get(id) !== row.at_ms) continue;
      used.add(id);
      counted.push({ type: claim.counts, value: row.value, dims });
    }
  }
  return counted;
}

const matches = (query: EventsMetricQuery, row: Counted) =>
  query.eventTypes.includes(row.type) && Object.entries(query.where ?? {}).every(([dimension, allowed]) => row.dims[dimension] !== undefined && allowed.includes(row.dims[dimension]!));

function windowValue(metric: LiveMetric, rows: Counted[]): number | null {
  let count = 0;
  let sum = 0;
  let withValue = 0;
  for (const row of rows) {
    if (!matches(metric.query, row)) continue;
    count += 1;
    if (row.value !== null) {
      sum += row.value;
      withValue += 1;
    }
  }
  if (metric.mode === 'count') return count;
  if (metric.mode === 'sum') return sum;
  return withValue === 0 ? null : sum / withValue;
}

/** A level now: every delta so far, from the daily rollups (written in the same transaction as the events). */
async function levelNow(pool: Pool, organizationId: string, query: EventsMetricQuery): Promise<number> {
  const values: unknown[] = [organizationId, query.eventTypes];
  const conditions = Object.entries(query.where ?? {}).map(([dimension, allowed]) => {
    values.push(dimension, allowed);
    return `dims->>$${values.length - 1}::text = ANY($${values.length}::text[])`;
  });
  const result = await pool.query<{ level: number }>(
    `SELECT coalesce(sum(sum), 0)::float8 AS level FROM rollups_daily WHERE organization_id = $1 AND event_type = ANY($2::text[])${conditions.map((c) => ` AND ${c}`).join('')}`,
    values,
  );
  return Number(result.rows[0]!.level);
}

/** The counted events of one trailing window, for the event types its metrics read. */
async function windowRows(pool: Pool, organizationId: string, metrics: LiveMetric[], windowMs: number, now: number): Promise<Counted[]> {
  const counts = new Set(metrics.flatMap((metric) => metric.query.eventTypes));
  // Rows that can count as a type: a read callback also counts as a delivery.
  const types = [...counts, ...(counts.has('message.delivered') ? ['message.read'] : [])];
  if (types.length === 0) return [];
  const raw = await pool.query<RawRow>(
    `SELECT event_type, value, attributes, extract(epoch FROM occurred_at) * 1000 AS at_ms FROM events
     WHERE organization_id = $1 AND event_type = ANY($2::text[]) AND occurred_at >= $3 AND occurred_at < $4
     ORDER BY received_at, event_id`,
    [organizationId, [...new Set(types)], new Date(now - windowMs), new Date(now + 1)],
  );
  return countedRows(pool, organizationId, raw.rows.map((row) => ({ ...row, at_ms: Number(row.at_ms) })));
}

/**
 * Each metric's live value: counts, sums, averages and ratios over the events
 * that occurred in their trailing window (60 s unless the metric sets
 * `liveWindowSeconds`), levels as they are now. Reads what every backend
 * process shares (raw events, claims, rollups), so the values are the same
 * whichever process a viewer is connected to, and counts what the rollups
 * count: a repeated delivery or bot-conversation callback once.
 */
export async function readLiveCounters(pool: Pool, organizationId: string, metrics: LiveMetric[], now = Date.now()): Promise<Record<string, number | null>> {
  const windowed = metrics.flatMap((metric) => (metric.mode === 'level' ? [] : metric.parts ?? [metric]));
  // One read per window length: the 60-s metrics do not pay for an hour-long one.
  const windows = new Map<number, LiveMetric[]>();
  for (const metric of windowed) windows.set(metric.windowMs, [...(windows.get(metric.windowMs) ?? []), metric]);
  const rows = new Map<number, Counted[]>();
  for (const [windowMs, group] of windows) rows.set(windowMs, await windowRows(pool, organizationId, group, windowMs, now));
  const valueOf = (metric: LiveMetric) => windowValue(metric, rows.get(metric.windowMs) ?? []);
  const values: Record<string, number | null> = {};
  for (const metric of metrics) {
    if (metric.mode === 'level') values[metric.key] = await levelNow(pool, organizationId, metric.query);
    else if (metric.parts) {
      const [numerator, denominator] = metric.parts.map((part) => valueOf(part) ?? 0) as [number, number];
      values[metric.key] = denominator === 0 ? 0 : numerator / denominator;
    } else values[metric.key] = valueOf(metric);
  }
  return values;
}
