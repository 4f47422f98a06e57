import type { Catalog } from '../catalog/load.js';
import type { CatalogMetric } from '../catalog/schema.js';
import type { Pool } from '../db/pool.js';
import { dimensionsOf } from '../ingest/schema.js';

export const LIVE_WINDOW_MS = 60_000;

/** What a live counter reads from raw events: which types, which dimension values, count or sum. */
interface EventsMetricQuery {
  eventTypes: string[];
  measure: 'count' | 'value';
  where?: Record<string, string[]>;
}

export class LiveMetricError extends Error {}

/** Live counters exist for event metrics that are counts or sums (not ratios, percentiles or distinct counts). */
export function liveMetrics(catalog: Catalog, keys: string[]): CatalogMetric[] {
  return keys.map((key) => {
    const metric = catalog.metric(key);
    if (!metric) throw new LiveMetricError(`metric '${key}' is not in the catalog`);
    if (catalog.source(metric.source)?.type !== 'events' || metric.kind === 'ratio' || metric.kind === 'distribution' || metric.kind === 'distinct') {
      throw new LiveMetricError(`metric '${key}' has no live counter: only counters and gauges of the events source stream`);
    }
    return metric;
  });
}

/**
 * Each metric's count (or sum of values) over the events that occurred in the
 * last 60 seconds. Reads raw events, which every backend process shares, so the
 * counters are the same whichever process a viewer is connected to.
 */
export async function readLiveCounters(pool: Pool, organizationId: string, metrics: CatalogMetric[], now = Date.now()): Promise<Record<string, number>> {
  const queries = metrics.map((metric) => ({ key: metric.key, query: metric.query as unknown as EventsMetricQuery }));
  const types = [...new Set(queries.flatMap(({ query }) => query.eventTypes))];
  const values: Record<string, number> = Object.fromEntries(queries.map(({ key }) => [key, 0]));
  if (types.length === 0) return values;
  const rows = await pool.query<{ event_type: string; value: number | null; attributes: Record<string, unknown> }>(
    `SELECT event_type, value, attributes FROM events
     WHERE organization_id = $1 AND event_type = ANY($2::text[]) AND occurred_at >= $3 AND occurred_at < $4`,
    [organizationId, types, new Date(now - LIVE_WINDOW_MS), new Date(now + 1)],
  );
  for (const row of rows.rows) {
    const derived = dimensionsOf(row.event_type, row.attributes);
    const dims = 'dims' in derived ? derived.dims : {};
    for (const { key, query } of queries) {
      if (!query.eventTypes.includes(row.event_type)) continue;
      const matches = Object.entries(query.where ?? {}).every(([dimension, allowed]) => dims[dimension] !== undefined && allowed.includes(dims[dimension]!));
      if (!matches) continue;
      values[key]! += query.measure === 'value' ? (row.value ?? 0) : 1;
    }
  }
  return values;
}
