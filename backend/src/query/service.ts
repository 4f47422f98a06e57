import type { QueryCache } from '../cache/query-cache.js';
import type { Catalog } from '../catalog/load.js';
import type { Aggregation, CatalogMetric } from '../catalog/schema.js';
import type { Logger } from '../logger.js';
import { Yielder } from '../sources/cooperative.js';
import { SourceError } from '../sources/errors.js';
import type { SourceRegistry } from '../sources/registry.js';
import type { Series, SourceQuery } from '../sources/types.js';
import { AnswerBudget, BudgetError, type AnswerLimits } from './budget.js';
import { alignDown, bucketTimes, WHOLE_RANGE_MS } from './buckets.js';
import { kpiFrame, tableFrame, timeSeriesFrames, type Frame, type FrameContext, type Kpi } from './frames.js';
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
async function densify(series: Series[], groupBy: string[], times: number[], bucketMs: number, fill: number | null): Promise<Series[]> {
  const dense: Series[] = [];
  // Up to QUERY_MAX_CELLS cells: hand the event loop back now and then.
  const yielder = new Yielder(20_000);
  for (const one of series) {
    await yielder.tick(times.length);
    const byTime = new Map<number, number | null>();
    one.times.forEach((time, index) => byTime.set(alignDown(time, bucketMs), one.values[index] ?? null));
    dense.push({ labels: one.labels, times, values: times.map((time) => (byTime.has(time) ? byTime.get(time)! : fill)) });
  }
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

/** Sees how many series a source answered, before they are densified; throws to refuse them. */
export type SeriesGuard = (series: number) => void;

/** A guard that grows a query's reservation when its source answers more series than estimated. */
function growWithin(budget: AnswerBudget, plan: Plan, estimated: number): SeriesGuard {
  let known = Math.max(1, estimated);
  return (series) => {
    if (series <= known) return;
    budget.checkSeries(plan, series);
    budget.reserve(plan, series - known);
    known = series;
  };
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
    private readonly options: { maxRangeDays: number; severityFor: SeverityFor; logger: Logger; limits: AnswerLimits },
  ) {}

  plan(query: QueryInput, request: Pick<QueryRequest, 'from' | 'to' | 'intervalMs' | 'maxDataPoints'>): Plan | PlanError {
    const plan = planQuery(query, { catalog: this.catalog, ...request, maxRangeDays: this.options.maxRangeDays });
    // A KPI is one row over everything the filters keep.
    if (!isPlanError(plan) && plan.format === 'kpi') plan.groupBy = [];
    return plan;
  }

  get limits(): AnswerLimits {
    return this.options.limits;
  }

  /**
   * Answers a request within its budget: every query's size is estimated
   * (from the rollups, before its buckets are read) and reserved in request
   * order; a query that does not fit gets its own 422 naming the limit.
   * Results are keyed in a null-prototype object, so any refId is kept.
   */
  async query(organizationId: string, request: QueryRequest): Promise<{ results: Record<string, QueryResult> }> {
    const queries = request.queries.filter((query) => !query.hide);
    const budget = new AnswerBudget(this.options.limits);
    const plans = queries.map((query) => this.plan(query, request));
    const estimates = await Promise.allSettled(plans.map((plan) => (isPlanError(plan) ? Promise.resolve(0) : this.estimateSeries(organizationId, plan))));
    const settled = await Promise.allSettled(
      plans.map(async (plan, index): Promise<QueryResult> => {
        if (isPlanError(plan)) return { status: plan.status, error: plan.error, frames: [] };
        const estimate = estimates[index]!;
        if (estimate.status === 'rejected') throw estimate.reason;
        budget.reserve(plan, estimate.value);
        return { status: 200, frames: await this.frames(organizationId, plan, growWithin(budget, plan, estimate.value)) };
      }),
    );
    const results: Record<string, QueryResult> = Object.create(null);
    settled.forEach((outcome, index) => {
      results[queries[index]!.refId] = outcome.status === 'fulfilled' ? outcome.value : this.failure(outcome.reason, queries[index]!.refId);
    });
    return { results };
  }

  /**
   * Series a plan will answer, counted by its source up to one over the
   * limit (through the cache, like the answer itself); 1 without group-by or
   * when the source cannot tell (its actual answer is checked instead).
   */
  async estimateSeries(organizationId: string, plan: Plan): Promise<number> {
    if (plan.groupBy.length === 0 || plan.format === 'kpi') return 1;
    const metric = plan.metric.kind === 'ratio' ? this.catalog.metric(plan.metric.denominator!)! : plan.metric;
    const limit = this.options.limits.maxSeries + 1;
    const query: SourceQuery = { organizationId, metric, aggregation: 'count', groupBy: plan.groupBy, filters: plan.filters, from: plan.from, to: plan.to, bucketMs: plan.bucketMs };
    const question = { estimate: 'series', metric: metric.key, definition: metric.query, groupBy: plan.groupBy, filters: plan.filters, from: plan.from, to: plan.to, limit };
    const { value } = await this.cache.getOrCompute(organizationId, metric.source, question, this.registry.cacheTtlSeconds(metric.source), async () =>
      (await this.registry.estimateSeries(metric.source, query, limit)) ?? 1,
    );
    return value;
  }

  /** A source's own failure keeps its status and message; anything else is logged, not shown. */
  failure(error: unknown, refId: string): QueryResult {
    if (error instanceof SourceError || error instanceof BudgetError) return { status: error.status, error: error.message, frames: [] };
    this.options.logger.error({ err: error, refId }, 'query failed');
    return { status: 500, error: 'internal error while answering this query; see the server log', frames: [] };
  }

  async frames(organizationId: string, plan: Plan, onSeries?: SeriesGuard): Promise<Frame[]> {
    const context = (cached: boolean): FrameContext => ({ refId: plan.refId, metric: plan.metric, source: plan.source, cached });
    if (plan.format === 'kpi') {
      const { kpi, cached } = await this.kpi(organizationId, plan);
      return [kpiFrame(context(cached), kpi)];
    }
    if (plan.format === 'table') {
      const current = await this.series(organizationId, plan, plan.from, plan.to, onSeries);
      return [tableFrame(context(current.cached), plan.groupBy, current.series)];
    }
    // The previous period is shifted by whole buckets so its points line up with the current ones.
    const span = plan.to.getTime() - plan.from.getTime();
    const shift = Math.ceil(span / plan.bucketMs) * plan.bucketMs;
    const [current, previous] = await Promise.all([
      this.series(organizationId, plan, plan.from, plan.to, onSeries),
      plan.compareToPrevious ? this.series(organizationId, plan, new Date(plan.from.getTime() - shift), new Date(plan.to.getTime() - shift), onSeries) : undefined,
    ]);
    const frames = timeSeriesFrames(context(current.cached), current.series);
    if (previous) {
      const shifted = previous.series.map((one) => ({ ...one, times: one.times.map((time) => time + shift) }));
      frames.push(...timeSeriesFrames(context(previous.cached), shifted, { previous: true }));
    }
    return frames;
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
  /**
   * Dense, sorted series of the plan's metric over [from, to) in the plan's
   * buckets. `onSeries` sees the number of series the source answered before
   * any bucket is filled, and may refuse it (answer budgets).
   */
  async series(organizationId: string, plan: Plan, from: Date, to: Date, onSeries?: SeriesGuard): Promise<Fetched> {
    const metric = plan.metric;
    if (metric.kind !== 'ratio') {
      const fetched = await this.fetch(organizationId, plan, metric, plan.aggregation as SourceQuery['aggregation'], from, to);
      onSeries?.(fetched.series.length);
      const times = bucketTimes(from.getTime(), to.getTime(), plan.bucketMs);
      return { series: await densify(fetched.series, plan.groupBy, times, plan.bucketMs, fillFor(plan.aggregation)), cached: fetched.cached };
    }
    const [numerator, denominator] = await Promise.all([
      this.ratioPart(organizationId, plan, metric.numerator!, from, to),
      this.ratioPart(organizationId, plan, metric.denominator!, from, to),
    ]);
    onSeries?.(Math.max(numerator.series.length, denominator.series.length));
    const times = bucketTimes(from.getTime(), to.getTime(), plan.bucketMs);
    const dense = (series: Series[]) => densify(series, plan.groupBy, times, plan.bucketMs, 0);
    return {
      series: await densify(ratio(await dense(numerator.series), await dense(denominator.series), plan.groupBy), plan.groupBy, times, plan.bucketMs, 0),
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
