import type { QueryCache } from '../cache/query-cache.js';
import type { Catalog } from '../catalog/load.js';
import type { Aggregation, CatalogMetric } from '../catalog/schema.js';
import type { Logger } from '../logger.js';
import { SourceError } from '../sources/errors.js';
import type { SourceRegistry } from '../sources/registry.js';
import type { Series, SourceQuery } from '../sources/types.js';
import { alignDown, bucketTimes, WHOLE_RANGE_MS } from './buckets.js';
import { kpiFrame, listFrame, tableFrame, timeSeriesFrames, type Frame, type FrameContext, type Kpi } from './frames.js';
import { isPlanError, planQuery, type Plan, type PlanError } from './planner.js';
import type { QueryInput, QueryRequest } from './schema.js';
import { deltaPercent, trendOf, type SeverityFor } from './severity.js';

export interface QueryResult {
  status: number;
  error?: string;
  frames: Frame[];
}

interface Fetched {
  series: Series[];
  cached: boolean;
}

/** Counts and ratios of empty buckets are 0; an empty bucket has no average, extreme or percentile. */
function fillFor(aggregation: Aggregation): number | null {
  return aggregation === 'sum' || aggregation === 'count' || aggregation === 'rate' ? 0 : null;
}

const seriesKey = (groupBy: string[], labels: Record<string, string>) => JSON.stringify(groupBy.map((dimension) => labels[dimension] ?? ''));

/**
 * Puts every series on the same buckets (one value per bucket of the range,
 * empty buckets filled), sorted by labels, so answers are stable and series
 * line up. Without group-by there is always exactly one series.
 */
function densify(series: Series[], groupBy: string[], times: number[], bucketMs: number, fill: number | null): Series[] {
  const dense = series.map((one) => {
    const byTime = new Map<number, number | null>();
    one.times.forEach((time, index) => byTime.set(alignDown(time, bucketMs), one.values[index] ?? null));
    return { labels: one.labels, times, values: times.map((time) => (byTime.has(time) ? byTime.get(time)! : fill)) };
  });
  if (dense.length === 0 && groupBy.length === 0) dense.push({ labels: {}, times, values: times.map(() => fill) });
  return dense.sort((a, b) => (seriesKey(groupBy, a.labels) < seriesKey(groupBy, b.labels) ? -1 : 1));
}

/** rate = sum(numerator) / sum(denominator) per bucket and labels; an empty denominator gives 0. */
function ratio(numerator: Series[], denominator: Series[], groupBy: string[]): Series[] {
  const byKey = new Map<string, { labels: Record<string, string>; times: number[]; num?: Series; den?: Series }>();
  for (const [part, list] of [['num', numerator], ['den', denominator]] as const) {
    for (const one of list) {
      const key = seriesKey(groupBy, one.labels);
      const entry = byKey.get(key) ?? { labels: one.labels, times: one.times };
      entry[part] = one;
      byKey.set(key, entry);
    }
  }
  return [...byKey.values()].map(({ labels, times, num, den }) => ({
    labels,
    times,
    values: times.map((_, index) => {
      const over = den?.values[index] ?? 0;
      return over === 0 ? 0 : (num?.values[index] ?? 0) / over;
    }),
  }));
}

/**
 * Runs planned queries: each against its source through the cache, all of a
 * request in parallel, each failing alone. Ratios are computed here from
 * their numerator's and denominator's sums over the same buckets and labels.
 */
export class QueryService {
  constructor(
    readonly catalog: Catalog,
    readonly registry: SourceRegistry,
    private readonly cache: QueryCache,
    private readonly options: { maxRangeDays: number; severityFor: SeverityFor; logger: Logger },
  ) {}

  plan(query: QueryInput, request: Pick<QueryRequest, 'from' | 'to' | 'intervalMs' | 'maxDataPoints'>): Plan | PlanError {
    const plan = planQuery(query, { catalog: this.catalog, ...request, maxRangeDays: this.options.maxRangeDays });
    // A KPI is one row over everything the filters keep.
    if (!isPlanError(plan) && plan.format === 'kpi') plan.groupBy = [];
    return plan;
  }

  async query(organizationId: string, request: QueryRequest): Promise<{ results: Record<string, QueryResult> }> {
    const queries = request.queries.filter((query) => !query.hide);
    const settled = await Promise.allSettled(
      queries.map(async (query): Promise<QueryResult> => {
        const plan = this.plan(query, request);
        if (isPlanError(plan)) return { status: plan.status, error: plan.error, frames: [] };
        return { status: 200, frames: await this.frames(organizationId, plan) };
      }),
    );
    const results: Record<string, QueryResult> = {};
    settled.forEach((outcome, index) => {
      results[queries[index]!.refId] = outcome.status === 'fulfilled' ? outcome.value : this.failure(outcome.reason, queries[index]!.refId);
    });
    return { results };
  }

  /** A source's own failure keeps its status and message; anything else is logged, not shown. */
  failure(error: unknown, refId: string): QueryResult {
    if (error instanceof SourceError) return { status: error.status, error: error.message, frames: [] };
    this.options.logger.error({ err: error, refId }, 'query failed');
    return { status: 500, error: 'internal error while answering this query; see the server log', frames: [] };
  }

  async frames(organizationId: string, plan: Plan): Promise<Frame[]> {
    const context = (cached: boolean): FrameContext => ({ refId: plan.refId, metric: plan.metric, source: plan.source, cached });
    if (plan.format === 'kpi') {
      const { kpi, cached } = await this.kpi(organizationId, plan);
      return [kpiFrame(context(cached), kpi)];
    }
    if (plan.list) {
      const { value, cached } = await this.list(organizationId, plan, plan.list);
      return [listFrame(context(cached), plan.list.columns, value)];
    }
    if (plan.format === 'table') {
      const current = await this.series(organizationId, plan, plan.from, plan.to);
      return [tableFrame(context(current.cached), plan.groupBy, current.series)];
    }
    // The previous period is shifted by whole buckets so its points line up with the current ones.
    const span = plan.to.getTime() - plan.from.getTime();
    const shift = Math.ceil(span / plan.bucketMs) * plan.bucketMs;
    const [current, previous] = await Promise.all([
      this.series(organizationId, plan, plan.from, plan.to),
      plan.compareToPrevious ? this.series(organizationId, plan, new Date(plan.from.getTime() - shift), new Date(plan.to.getTime() - shift)) : undefined,
    ]);
    const frames = timeSeriesFrames(context(current.cached), current.series);
    if (previous) {
      const shifted = previous.series.map((one) => ({ ...one, times: one.times.map((time) => time + shift) }));
      frames.push(...timeSeriesFrames(context(previous.cached), shifted, { previous: true }));
    }
    return frames;
  }

  /** The newest raw events of the plan's metric, through the cache like every answer. */
  private list(organizationId: string, plan: Plan, options: { limit: number; columns: string[] }) {
    const { metric, filters, from, to } = plan;
    const query = { organizationId, metric, filters, from, to, ...options };
    const question = { list: metric.key, definition: metric.query, filters, from, to, ...options };
    return this.cache.getOrCompute(organizationId, metric.source, question, this.registry.cacheTtlSeconds(metric.source), () => this.registry.list(metric.source, query));
  }

  /** The value over [from, to) and over the period of equal length just before it. */
  async kpi(organizationId: string, plan: Plan): Promise<{ kpi: Kpi; cached: boolean }> {
    const span = plan.to.getTime() - plan.from.getTime();
    const whole = { ...plan, groupBy: [], bucketMs: WHOLE_RANGE_MS };
    const [current, previous] = await Promise.all([
      this.series(organizationId, whole, plan.from, plan.to),
      this.series(organizationId, whole, new Date(plan.from.getTime() - span), plan.from),
    ]);
    const value = current.series[0]?.values[0] ?? null;
    const before = previous.series[0]?.values[0] ?? null;
    const volume = plan.metric.kind === 'ratio' ? await this.denominatorTotal(organizationId, whole) : undefined;
    return {
      kpi: {
        value,
        previous: before,
        deltaPercent: deltaPercent(value, before),
        trend: trendOf(value, before),
        severity: this.options.severityFor(plan.metric, value, volume),
      },
      cached: current.cached && previous.cached,
    };
  }

  /** A ratio's denominator summed over the plan's range (the same cached question its value was computed from). */
  private async denominatorTotal(organizationId: string, plan: Plan): Promise<number> {
    const { series } = await this.ratioPart(organizationId, plan, plan.metric.denominator!, plan.from, plan.to);
    return series.reduce((total, one) => total + one.values.reduce<number>((sum, value) => sum + (value ?? 0), 0), 0);
  }

  private ratioPart(organizationId: string, plan: Plan, key: string, from: Date, to: Date): Promise<Fetched> {
    const partMetric = this.catalog.metric(key)!;
    return this.fetch(organizationId, plan, partMetric, partMetric.aggregations.includes('sum') ? 'sum' : 'count', from, to);
  }

  /** Dense, sorted series of the plan's metric over [from, to) in the plan's buckets. */
  async series(organizationId: string, plan: Plan, from: Date, to: Date): Promise<Fetched> {
    const times = bucketTimes(from.getTime(), to.getTime(), plan.bucketMs);
    const metric = plan.metric;
    if (metric.kind !== 'ratio') {
      const fetched = await this.fetch(organizationId, plan, metric, plan.aggregation as SourceQuery['aggregation'], from, to);
      return { series: densify(fetched.series, plan.groupBy, times, plan.bucketMs, fillFor(plan.aggregation)), cached: fetched.cached };
    }
    const [numerator, denominator] = await Promise.all([
      this.ratioPart(organizationId, plan, metric.numerator!, from, to),
      this.ratioPart(organizationId, plan, metric.denominator!, from, to),
    ]);
    const dense = (series: Series[]) => densify(series, plan.groupBy, times, plan.bucketMs, 0);
    return {
      series: densify(ratio(dense(numerator.series), dense(denominator.series), plan.groupBy), plan.groupBy, times, plan.bucketMs, 0),
      cached: numerator.cached && denominator.cached,
    };
  }

  /** One source question, through the cache; the organization is part of every key. */
  private async fetch(organizationId: string, plan: Plan, metric: CatalogMetric, aggregation: SourceQuery['aggregation'], from: Date, to: Date): Promise<Fetched> {
    const query: SourceQuery = { organizationId, metric, aggregation, groupBy: plan.groupBy, filters: plan.filters, from, to, bucketMs: plan.bucketMs };
    const question = { metric: metric.key, definition: metric.query, kind: metric.kind, aggregation, groupBy: plan.groupBy, filters: plan.filters, from, to, bucketMs: plan.bucketMs };
    const { value, cached } = await this.cache.getOrCompute(organizationId, metric.source, question, this.registry.cacheTtlSeconds(metric.source), () =>
      this.registry.query(metric.source, query),
    );
    return { series: value, cached };
  }
}
