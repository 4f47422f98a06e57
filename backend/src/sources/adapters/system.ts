import { z } from 'zod';
import type { AppContext } from '../../context.js';
import { bucketStart } from '../points.js';
import type { AdapterType, HealthStatus, Series, SourceAdapter, SourceQuery } from '../types.js';

/**
 * Metrics Hub's view of its own sources, as a source, so a Grafana table can
 * list every source of the catalog with its state: one row per source, value
 * 1 when up and 0 otherwise, the state in string dimensions.
 */

export const systemSourceSchema = z.object({ id: z.string(), timeoutMs: z.number() }).passthrough();

export const systemMetricQuerySchema = z
  .object({
    report: z.literal('sources', { error: "must be 'sources' (one row per catalog source)" }),
  })
  .strict();

/** The dimensions a `report: sources` metric may declare. */
export const SOURCE_REPORT_DIMENSIONS = ['source', 'label', 'type', 'status', 'lastSuccess', 'lastError'] as const;

class SystemAdapter implements SourceAdapter {
  readonly type = 'system';

  constructor(
    private readonly source: z.infer<typeof systemSourceSchema>,
    private readonly context: AppContext,
  ) {}

  get id(): string {
    return this.source.id;
  }

  async initialize(): Promise<void> {}

  async query(query: SourceQuery): Promise<Series[]> {
    const time = bucketStart(query.from.getTime(), query.bucketMs);
    const statuses = (this.context.sourceStatuses?.() ?? []).filter((status) => status.id !== this.id);
    return statuses.map((status) => {
      const all: Record<(typeof SOURCE_REPORT_DIMENSIONS)[number], string> = {
        source: status.id,
        label: status.label,
        type: status.type,
        status: status.status,
        lastSuccess: status.lastSuccessAt ?? '',
        lastError: status.lastError ?? '',
      };
      const labels = Object.fromEntries(query.groupBy.map((dimension) => [dimension, all[dimension as keyof typeof all] ?? '']));
      return { labels, times: [time], values: [status.status === 'up' ? 1 : 0] };
    });
  }

  async healthCheck(): Promise<HealthStatus> {
    return { ok: true, detail: 'in process' };
  }

  async close(): Promise<void> {}
}

export const systemAdapterType: AdapterType<typeof systemSourceSchema, typeof systemMetricQuerySchema> = {
  type: 'system',
  sourceSchema: systemSourceSchema,
  metricQuerySchema: systemMetricQuerySchema,
  checkMetric: (_source, metric) =>
    metric.dimensions
      .filter((dimension) => !(SOURCE_REPORT_DIMENSIONS as readonly string[]).includes(dimension))
      .map((dimension) => ({ path: [], message: `dimension '${dimension}' is not reported for sources (available: ${SOURCE_REPORT_DIMENSIONS.join(', ')})` })),
  create: (source, context) => new SystemAdapter(source, context),
};
