import { z } from 'zod';
import type { AppContext } from '../../context.js';
import { bucketStart } from '../points.js';
import type { AdapterType, HealthStatus, Series, SourceAdapter, SourceQuery } from '../types.js';

/**
 * Metrics Hub's view of its own sources, as a source, so a Grafana table can
 * list every source of the catalog with its state and headline:
 * - `report: sources`: one row per source, value 1 when up and 0 otherwise,
 *   the state in string dimensions;
 * - `report: headlines`: the same rows and state, plus the source's headline
 *   metric (label, key, unit), the value being that metric over the range for
 *   the key's organization (null when the source failed or has none).
 */

export const systemSourceSchema = z.object({ id: z.string(), timeoutMs: z.number() }).passthrough();

export const systemMetricQuerySchema = z
  .object({
    report: z.enum(['sources', 'headlines'], { error: "must be 'sources' (state) or 'headlines' (headline metric), one row per catalog source" }),
  })
  .strict();

/** The dimensions each report may declare. */
export const SOURCE_REPORT_DIMENSIONS = ['source', 'label', 'type', 'status', 'lastSuccess', 'lastError'] as const;
export const HEADLINE_REPORT_DIMENSIONS = [...SOURCE_REPORT_DIMENSIONS, 'headline', 'metric', 'unit'] as const;
const REPORT_DIMENSIONS: Record<z.infer<typeof systemMetricQuerySchema>['report'], readonly string[]> = { sources: SOURCE_REPORT_DIMENSIONS, headlines: HEADLINE_REPORT_DIMENSIONS };

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
    const labelsOf = (all: Record<string, string>) => Object.fromEntries(query.groupBy.map((dimension) => [dimension, all[dimension] ?? '']));
    const headlines = (query.metric.query as z.infer<typeof systemMetricQuerySchema>).report === 'headlines'
      ? new Map(((await this.context.sourceHeadlines?.(query.organizationId, query.from, query.to)) ?? []).map((headline) => [headline.source, headline]))
      : undefined;
    return statuses.map((status) => {
      const all: Record<(typeof SOURCE_REPORT_DIMENSIONS)[number], string> = {
        source: status.id,
        label: status.label,
        type: status.type,
        status: status.status,
        lastSuccess: status.lastSuccessAt ?? '',
        lastError: status.lastError ?? '',
      };
      if (!headlines) return { labels: labelsOf(all), times: [time], values: [status.status === 'up' ? 1 : 0] };
      // A source without a headline metric keeps its row, with empty headline columns.
      const headline = headlines.get(status.id);
      return { labels: labelsOf({ ...all, headline: headline?.metricLabel ?? '', metric: headline?.metric ?? '', unit: headline?.unit ?? '' }), times: [time], values: [headline?.value ?? null] };
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
  checkMetric: (_source, metric) => {
    const query = systemMetricQuerySchema.safeParse(metric.query);
    // A bad report is the query schema's problem, reported there.
    if (!query.success) return [];
    const available = REPORT_DIMENSIONS[query.data.report];
    return metric.dimensions
      .filter((dimension) => !available.includes(dimension))
      .map((dimension) => ({ path: [], message: `dimension '${dimension}' is not reported by report '${query.data.report}' (available: ${available.join(', ')})` }));
  },
  create: (source, context) => new SystemAdapter(source, context),
};
