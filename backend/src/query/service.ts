import { confirms, type Cached, type QueryCache, type StoredText } from '../cache/query-cache.js';
import type { Catalog } from '../catalog/load.js';
import type { Aggregation, CatalogMetric } from '../catalog/schema.js';
import type { LevelHistory } from '../levels/history.js';
import type { WalPosition } from '../db/wal.js';
import type { Logger } from '../logger.js';
import { Yielder } from '../sources/cooperative.js';
import { SourceError } from '../sources/errors.js';
import type { SourceRegistry } from '../sources/registry.js';
import type { Series, SourceQuery } from '../sources/types.js';
import type { BatchToken } from '../sources/adapters/events-batch.js';
import { loadRules, type MetricRule } from '../anomalies/rules.js';
import { bandColumns, bandKeyOf, bandReadFrom, bandRule, type BandColumns } from './band.js';
import { AnswerBudget, BudgetError, type AnswerLimits } from './budget.js';
import { alignDown, bucketTimes, previousShiftMs, WHOLE_RANGE_MS } from './buckets.js';
import { framesToJsonTwice, kpiFrame, listFrame, tableFrame, timeSeriesFrames, type Frame, type FrameContext, type Kpi } from './frames.js';
import { isPlanError, planQuery, type Plan, type PlanError } from './planner.js';
import type { QueryInput, QueryRequest } from './schema.js';
import { answerQuestion, decodeAnswer, definitionOf, encodeMarkedAnswer, isStorable, type DecodedAnswer } from './stored-answers.js';
import { deltaPercent, trendOf, type SeverityFor } from './severity.js';

export interface QueryResult {
  status: number;
  error?: string;
  frames: Frame[];
  /** The frames already serialized (an answer served from the cache): written to the response as they are. */
  framesJson?: string;
}

/** A stored answer: its frames are parsed only if something other than the answer writer reads them. */
function servedAnswer(framesJson: string): QueryResult {
  let frames: Frame[] | undefined;
  return {
    status: 200,
    framesJson,
    get frames() {
      return (frames ??= JSON.parse(framesJson) as Frame[]);
    },
  };
}

interface Fetched {
  series: Series[];
  cached: boolean;
}

/**
 * Counts of empty buckets are 0; an empty bucket has no average, extreme or percentile, and a
 * ratio with an empty denominator has no rate (null, which Grafana's reduce can drop: a quiet
 * hour is not a 0 % delivery rate).
 */
function fillFor(aggregation: Aggregation): number | null {
  return aggregation === 'sum' || aggregation === 'count' || aggregation === 'distinct' ? 0 : null;
}

/** A range ending this close to now reads a level live rather than from a snapshot. */
const LIVE_TOLERANCE_MS = 60_000;
const LIVE_WINDOW_MS = 3_600_000;

const seriesKey = (groupBy: string[], labels: Record<string, string>) => JSON.stringify(groupBy.map((dimension) => labels[dimension] ?? ''));

/**
 * Puts every series on the same buckets (one value per bucket of the range,
 * empty buckets filled), sorted by labels, so answers are stable and series
 * line up. Without group-by there is always exactly one series.
 */
async function densify(series: Series[], groupBy: string[], times: number[], bucketMs: number, fill: number | null): Promise<Series[]> {
  const dense: Array<Series & { key: string }> = [];
  // Up to QUERY_MAX_CELLS cells: hand the event loop back now and then.
  const yielder = new Yielder(20_000);
  // `times` is a grid (bucketTimes): a point's bucket is its index, no lookup needed. A point outside the range is
  // dropped; of two points in one bucket the later one stands.
  const first = times[0] ?? 0;
  for (const one of series) {
    await yielder.tick(times.length);
    const values = new Array<number | null>(times.length).fill(fill);
    for (let index = 0; index < one.times.length; index += 1) {
      const slot = (alignDown(one.times[index]!, bucketMs) - first) / bucketMs;
      if (slot >= 0 && slot < values.length) values[slot] = one.values[index] ?? null;
    }
    dense.push({ labels: one.labels, times, values, key: seriesKey(groupBy, one.labels) });
  }
  if (dense.length === 0 && groupBy.length === 0) dense.push({ labels: {}, times, values: times.map(() => fill), key: '' });
  dense.sort((a, b) => (a.key < b.key ? -1 : 1));
  return dense.map(({ labels, times: grid, values }) => ({ labels, times: grid, values }));
}

/** rate = sum(numerator) / sum(denominator) per bucket and labels; an empty denominator gives null. */
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
      return over === 0 ? null : (num?.values[index] ?? 0) / over;
    }),
  }));
}

/**
 * How many source questions a lone plan's answer asks at once, where that is plain: one for a series or table of one
 * metric, two for a KPI (its period and the one before); undefined for anything else (ratios, bands, previous periods,
 * rolling windows, lists, levels). The events source then sends its statement as soon as they are in instead of a
 * turn later (events-batch.ts); a wrong count would only split or delay a statement, never change an answer.
 */
function questionsAtOnce(plan: Plan, levels: boolean): number | undefined {
  if (plan.metric.kind === 'ratio' || (plan.metric.level && levels) || plan.band || plan.bandField || plan.compareToPrevious || plan.rolling || plan.list) return undefined;
  return plan.format === 'kpi' ? 2 : 1;
}

/** Sees how many series a source answered, before they are densified; throws to refuse them. */
export type SeriesGuard = (series: number) => void;

/** A guard that grows a query's reservation when its source answers more series than estimated. */
function growWithin(budget: AnswerBudget, plan: Plan, estimated: number): SeriesGuard & { known(): number } {
  let known = Math.max(1, estimated);
  const guard = (series: number) => {
    if (series <= known) return;
    budget.checkSeries(plan, series);
    budget.reserve(plan, series - known);
    known = series;
  };
  return Object.assign(guard, { known: () => known });
}

/**
 * Top-N of a table: rows sorted by `orderBy` (empty values last, whatever the
 * direction; ties in label order, so answers are stable), then the first `limit`.
 */
export function topRows(series: Series[], plan: Pick<Plan, 'groupBy' | 'orderBy' | 'limit'>): Series[] {
  let rows = series;
  if (plan.orderBy) {
    const { by, direction } = plan.orderBy;
    const sign = direction === 'asc' ? 1 : -1;
    const sortKey = (one: Series): number | string | null => (by === 'value' ? (one.values[0] ?? null) : (one.labels[by] ?? null));
    rows = [...series].sort((a, b) => {
      const [x, y] = [sortKey(a), sortKey(b)];
      if (x === null || y === null || x === '' || y === '') {
        const [xEmpty, yEmpty] = [x === null || x === '', y === null || y === ''];
        if (xEmpty !== yEmpty) return xEmpty ? 1 : -1;
      } else if (x !== y) {
        return (x < y ? -1 : 1) * sign;
      }
      return seriesKey(plan.groupBy, a.labels) < seriesKey(plan.groupBy, b.labels) ? -1 : 1;
    });
  }
  return plan.limit === undefined ? rows : rows.slice(0, plan.limit);
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
    private readonly options: { maxRangeDays: number; severityFor: SeverityFor; logger: Logger; limits: AnswerLimits; catalogVersion?: string; levels?: LevelHistory | undefined },
  ) {}

  /** The catalog's anomaly rules, for the `band` option (validated at start by the anomalies module). */
  private get rules(): MetricRule[] {
    this.loadedRules ??= loadRules(this.catalog);
    return this.loadedRules;
  }
  private loadedRules: MetricRule[] | undefined;

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
    // The request's source questions may be read together (one statement for a KPI's two periods, a ratio's parts).
    const lone = plans.length === 1 ? plans[0]! : undefined;
    const questions = lone === undefined || isPlanError(lone) ? undefined : questionsAtOnce(lone, this.options.levels !== undefined);
    const batch: BatchToken = questions === undefined ? {} : { questions };
    for (const plan of plans) if (!isPlanError(plan)) plan.batch = batch;
    // Whole answers are looked up first: a stored one needs no estimate and no source.
    const stored = await Promise.all(plans.map((plan) => (isPlanError(plan) ? undefined : this.lookupAnswer(organizationId, plan))));
    const estimates = await Promise.allSettled(
      plans.map((plan, index) => {
        if (isPlanError(plan)) return Promise.resolve(0);
        const { found, slot } = stored[index] ?? {};
        return found ? Promise.resolve(found.series) : this.estimateSeries(organizationId, plan, slot);
      }),
    );
    const settled = await Promise.allSettled(
      plans.map(async (plan, index): Promise<QueryResult> => {
        if (isPlanError(plan)) return { status: plan.status, error: plan.error, frames: [] };
        const { found, confirm } = stored[index] ?? {};
        let { slot } = stored[index] ?? {};
        let storing = false;
        try {
          const bandProblem = plan.band ? bandRule(this.rules, plan, plan.band) : plan.bandField ? 'bandField: needs band (the id of the rule whose band it is)' : undefined;
          if (typeof bandProblem === 'string') return { status: 400, error: bandProblem, frames: [] };
          const estimate = estimates[index]!;
          if (estimate.status === 'rejected') throw estimate.reason;
          budget.reserve(plan, estimate.value);
          if (found) return servedAnswer(found.framesJson);
          const guard = growWithin(budget, plan, estimate.value);
          let frames: Frame[];
          if (confirm && slot) {
            // Started before its lookup returned (QueryCache.lookupTextAhead): kept only if the lookup says it may be.
            const ahead = this.frames(organizationId, plan, guard, slot);
            // It may fail before the lookup returns (a database restart): awaited below, not an unhandled rejection.
            ahead.catch(() => undefined);
            const confirmed = await confirm;
            const storedAnswer = confirmed?.text === undefined ? undefined : decodeAnswer(confirmed.text);
            if (!storedAnswer && confirms(slot, confirmed)) {
              frames = await ahead;
            } else {
              // Set aside: its failure, if any, is not this answer's.
              this.cache.release(slot);
              if (storedAnswer) return servedAnswer(storedAnswer.framesJson);
              // Under the lookup's versions; a lookup that failed leaves none, and the answer is not stored.
              slot = confirmed;
              frames = await this.frames(organizationId, plan, guard, slot);
            }
          } else {
            frames = await this.frames(organizationId, plan, guard, slot);
          }
          if (!slot) return { status: 200, frames };
          // Serialized once: the response's text and, marked cached, the stored answer's, written after the response.
          const { text: framesJson, marked } = framesToJsonTwice(frames);
          this.cache.storeTextLater(slot, encodeMarkedAnswer(marked, guard.known()), this.registry.cacheTtlSeconds(plan.metric.source));
          storing = true;
          return { status: 200, frames, framesJson };
        } finally {
          // Not stored (refused or failed): the flights of its parts end now, not at its write.
          if (slot && !storing) this.cache.release(slot);
        }
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
  async estimateSeries(organizationId: string, plan: Plan, within?: StoredText): Promise<number> {
    if (plan.groupBy.length === 0 || plan.format === 'kpi') return 1;
    const metric = plan.metric.kind === 'ratio' ? this.catalog.metric(plan.metric.denominator!)! : plan.metric;
    const limit = this.options.limits.maxSeries + 1;
    const query: SourceQuery = { organizationId, metric, aggregation: 'count', groupBy: plan.groupBy, filters: plan.filters, from: plan.from, to: plan.to, bucketMs: plan.bucketMs };
    const question = { catalog: this.options.catalogVersion, estimate: 'series', metric: metric.key, definition: definitionOf(metric), groupBy: plan.groupBy, filters: plan.filters, from: plan.from, to: plan.to, limit };
    const { value } = await this.cached(organizationId, metric.source, question, within, async (readAfter) => (await this.registry.estimateSeries(metric.source, { ...query, readAfter }, limit)) ?? 1);
    return value;
  }

  /**
   * A source's answer through the cache: looked up and stored in Redis on its
   * own, or, while a stored whole answer of the same source is being
   * computed (`within`, its missed lookup), under that lookup's version with
   * no round trip of its own: the whole answer is what gets stored.
   */
  private async cached<T>(organizationId: string, source: string, question: unknown, within: StoredText | undefined, compute: (readAfter: WalPosition | undefined) => Promise<T>): Promise<Cached<T>> {
    if (within?.scope === source) return { value: await this.cache.computeWithin(within, organizationId, question, compute), cached: false };
    return this.cache.getOrCompute(organizationId, source, question, this.registry.cacheTtlSeconds(source), compute);
  }

  /**
   * The stored whole answer of a plan that can have one (`found`), or where
   * to store the one about to be computed (`slot`); neither when the plan's
   * answer is not stored whole or the cache cannot be read. Concurrent
   * identical questions still read their source once: the source's series
   * are cached and shared underneath (fetch), only the framing repeats.
   */
  private async lookupAnswer(organizationId: string, plan: Plan): Promise<{ found?: DecodedAnswer; slot?: StoredText; confirm?: Promise<StoredText | undefined> } | undefined> {
    if (!isStorable(plan, this.catalog, Date.now())) return undefined;
    try {
      const question = answerQuestion(plan, this.catalog, this.options.catalogVersion);
      // Only where the answer's series count needs no read of its own (its estimate is 1): that read would be redone too.
      const ahead = plan.groupBy.length === 0 || plan.format === 'kpi' ? this.cache.lookupTextAhead(organizationId, plan.metric.source, question) : undefined;
      if (ahead) return { slot: ahead.provisional, confirm: ahead.confirmed };
      const slot = await this.cache.lookupText(organizationId, plan.metric.source, question);
      const found = slot.text === undefined ? undefined : decodeAnswer(slot.text);
      return found ? { found } : { slot };
    } catch (error) {
      this.options.logger.debug({ err: error }, 'stored answer lookup failed');
      return undefined;
    }
  }

  /** A source's own failure keeps its status and message; anything else is logged, not shown. */
  failure(error: unknown, refId: string): QueryResult {
    if (error instanceof SourceError || error instanceof BudgetError) return { status: error.status, error: error.message, frames: [] };
    this.options.logger.error({ err: error, refId }, 'query failed');
    return { status: 500, error: 'internal error while answering this query; see the server log', frames: [] };
  }

  /** `within`: the missed lookup of this plan's stored answer, when it has one (see `cached`). */
  async frames(organizationId: string, plan: Plan, onSeries?: SeriesGuard, within?: StoredText): Promise<Frame[]> {
    const context = (cached: boolean): FrameContext => ({ refId: plan.refId, metric: plan.metric, aggregation: plan.aggregation, source: plan.source, cached });
    if (plan.format === 'kpi') {
      const { kpi, cached } = await this.kpi(organizationId, plan, within);
      return [kpiFrame(context(cached), kpi)];
    }
    if (plan.list) {
      const { value, cached } = await this.list(organizationId, plan, plan.list, within);
      return [listFrame(context(cached), plan.list.columns, value)];
    }
    if (plan.format === 'table') {
      const current = await this.series(organizationId, plan, plan.from, plan.to, onSeries, within);
      return [tableFrame(context(current.cached), plan.groupBy, topRows(current.series, plan))];
    }
    // The previous period is shifted by whole buckets so its points line up with the current ones (a rolling window by its length).
    const shift = previousShiftMs(plan.from.getTime(), plan.to.getTime(), plan.bucketMs, plan.rolling ?? false);
    const [{ current, band }, previous] = await Promise.all([
      plan.band ? this.withBand(organizationId, plan, onSeries, within) : this.series(organizationId, plan, plan.from, plan.to, onSeries, within).then((series) => ({ current: series, band: undefined })),
      plan.compareToPrevious ? this.series(organizationId, plan, new Date(plan.from.getTime() - shift), new Date(plan.to.getTime() - shift), onSeries, within) : undefined,
    ]);
    // A rolling window's one point stands at its end: the value as of `to`.
    if (plan.rolling) for (const one of current.series) one.times = [plan.to.getTime()];
    const frames = timeSeriesFrames(context(current.cached), current.series, { band: band && ((labels) => band.get(bandKeyOf(labels))), ...(plan.bandField && { only: plan.bandField }) });
    if (previous) {
      const shifted = previous.series.map((one) => ({ ...one, times: plan.rolling ? [plan.to.getTime()] : one.times.map((time) => time + shift) }));
      frames.push(...timeSeriesFrames(context(previous.cached), shifted, { previous: true }));
    }
    return frames;
  }

  /**
   * The plan's series and what its `band` rule judges at every bucket of the range, per series. Without group-by, the
   * series is read once, over the band's longer range (`bandReadFrom`): the plan's range is its last buckets, the same
   * rollup rows on the same grid, so a band panel sends one source question (a ratio's two parts) instead of two. A
   * group-by reads both: a series with rows only before the plan's range is no series of the answer.
   */
  private async withBand(organizationId: string, plan: Plan, onSeries: SeriesGuard | undefined, within: StoredText | undefined): Promise<{ current: Fetched; band: Map<string, BandColumns> }> {
    const rule = bandRule(this.rules, plan, plan.band!) as MetricRule;
    const now = Date.now();
    if (plan.rolling || plan.groupBy.length > 0) {
      const current = await this.series(organizationId, plan, plan.from, plan.to, onSeries, within);
      const reader = {
        series: async (p: Plan, from: Date, to: Date) => (await this.series(organizationId, p, from, to, undefined, within)).series,
        parts: async (p: Plan, from: Date, to: Date) => this.denseParts(organizationId, p, from, to, within),
      };
      return { current, band: await bandColumns(reader, plan, rule, current.series[0]?.times ?? [], now) };
    }
    const from = bandReadFrom(plan, rule.rule);
    const times = bucketTimes(plan.from.getTime(), plan.to.getTime(), plan.bucketMs);
    const skip = (alignDown(plan.from.getTime(), plan.bucketMs) - alignDown(from.getTime(), plan.bucketMs)) / plan.bucketMs;
    const tail = (series: Series[]): Series[] => series.map((one) => ({ labels: one.labels, times, values: one.values.slice(skip) }));
    const unread = () => Promise.reject(new Error('band: read once, over its range'));
    if (rule.rule.type === 'baseline') {
      const whole = await this.series(organizationId, plan, from, plan.to, onSeries, within);
      const band = await bandColumns({ series: async () => whole.series, parts: unread }, plan, rule, times, now);
      return { current: { series: tail(whole.series), cached: whole.cached }, band };
    }
    const parts = await this.denseParts(organizationId, plan, from, plan.to, within, onSeries);
    const band = await bandColumns({ series: unread, parts: async () => parts }, plan, rule, times, now);
    const rates = await densify(ratio(tail(parts.numerator), tail(parts.denominator), plan.groupBy), plan.groupBy, times, plan.bucketMs, null);
    return { current: { series: rates, cached: parts.cached }, band };
  }

  /**
   * A ratio's numerator and denominator over [from, to), each dense on the plan's buckets (an empty bucket 0).
   * `onSeries` sees how many series the source answered before any bucket is filled.
   */
  private async denseParts(organizationId: string, plan: Plan, from: Date, to: Date, within: StoredText | undefined, onSeries?: SeriesGuard): Promise<{ numerator: Series[]; denominator: Series[]; cached: boolean }> {
    const [numerator, denominator] = await Promise.all([
      this.ratioPart(organizationId, plan, plan.metric.numerator!, from, to, within),
      this.ratioPart(organizationId, plan, plan.metric.denominator!, from, to, within),
    ]);
    onSeries?.(Math.max(numerator.series.length, denominator.series.length));
    const times = bucketTimes(from.getTime(), to.getTime(), plan.bucketMs);
    const dense = (series: Series[]) => densify(series, plan.groupBy, times, plan.bucketMs, 0);
    return { numerator: await dense(numerator.series), denominator: await dense(denominator.series), cached: numerator.cached && denominator.cached };
  }

  /** The newest raw events of the plan's metric, through the cache like every answer. */
  private list(organizationId: string, plan: Plan, options: { limit: number; columns: string[] }, within: StoredText | undefined) {
    const { metric, filters, from, to } = plan;
    const query = { organizationId, metric, filters, from, to, ...options };
    const question = { catalog: this.options.catalogVersion, list: metric.key, definition: definitionOf(metric), filters, from, to, ...options };
    return this.cached(organizationId, metric.source, question, within, (readAfter) => this.registry.list(metric.source, { ...query, readAfter }));
  }

  /** The value over [from, to) and over the period of equal length just before it. */
  async kpi(organizationId: string, plan: Plan, within?: StoredText): Promise<{ kpi: Kpi; cached: boolean }> {
    if (plan.metric.level && this.options.levels) return this.levelKpi(organizationId, plan, this.options.levels);
    const span = plan.to.getTime() - plan.from.getTime();
    const whole = { ...plan, groupBy: [], bucketMs: WHOLE_RANGE_MS };
    const [current, previous] = await Promise.all([
      this.series(organizationId, whole, plan.from, plan.to, undefined, within),
      this.series(organizationId, whole, new Date(plan.from.getTime() - span), plan.from, undefined, within),
    ]);
    const value = current.series[0]?.values[0] ?? null;
    const before = previous.series[0]?.values[0] ?? null;
    const volume = plan.metric.kind === 'ratio' ? await this.denominatorTotal(organizationId, whole, within) : undefined;
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

  /**
   * A level's KPI: the level at the end of the range (live when the range
   * reaches now, else the snapshot) against the level at its start (a
   * snapshot). Until a snapshot exists there is no previous value, and the
   * KPI says it shows the current value, not a change.
   */
  private async levelKpi(organizationId: string, plan: Plan, levels: LevelHistory): Promise<{ kpi: Kpi; cached: boolean }> {
    const now = Date.now();
    let value: number | null = null;
    let cached = false;
    if (plan.to.getTime() >= now - LIVE_TOLERANCE_MS) {
      const live = await this.liveLevel(organizationId, plan, now);
      value = live.value;
      cached = live.cached;
    } else {
      value = (await levels.at(organizationId, plan.metric.key, plan.to, plan.filters))?.value ?? null;
    }
    const before = await levels.at(organizationId, plan.metric.key, plan.from, plan.filters);
    const previous = before?.value ?? null;
    return {
      kpi: {
        value,
        previous,
        deltaPercent: deltaPercent(value, previous),
        trend: trendOf(value, previous),
        severity: this.options.severityFor(plan.metric, value),
        ...(!before && {
          note: `current value: no snapshot of '${plan.metric.key}' at ${plan.from.toISOString()} to compare with yet (levels are snapshotted daily)`,
        }),
      },
      cached,
    };
  }

  /** A level now, straight from its source (the SQL answers the current state). */
  private async liveLevel(organizationId: string, plan: Plan, now: number): Promise<{ value: number | null; cached: boolean }> {
    // A minute-aligned window keeps the question, and so its cache entry, stable for a minute.
    const minute = Math.floor(now / 60_000) * 60_000;
    const fetched = await this.fetch(organizationId, { ...plan, groupBy: [], bucketMs: WHOLE_RANGE_MS }, plan.metric, 'sum', new Date(minute - LIVE_WINDOW_MS), new Date(minute + LIVE_WINDOW_MS));
    const values = fetched.series.flatMap((one) => one.values).filter((entry): entry is number => entry !== null);
    return { value: values.reduce((total, entry) => total + entry, 0), cached: fetched.cached };
  }

  /** Snapshots per bucket; the bucket holding now gets the live value. Buckets with neither stay empty. */
  private async levelSeries(organizationId: string, plan: Plan, levels: LevelHistory, from: Date, to: Date): Promise<Fetched> {
    const now = Date.now();
    const coversNow = from.getTime() <= now && now < to.getTime();
    const [history, live] = await Promise.all([
      levels.series(organizationId, plan.metric.key, { from, to, bucketMs: plan.bucketMs }, plan.groupBy, plan.filters),
      coversNow ? this.fetch(organizationId, plan, plan.metric, 'sum', from, to) : undefined,
    ]);
    const merged = new Map(history.map((one) => [seriesKey(plan.groupBy, one.labels), one]));
    for (const one of live?.series ?? []) {
      const key = seriesKey(plan.groupBy, one.labels);
      const entry = merged.get(key) ?? { labels: one.labels, times: [], values: [] };
      const byTime = new Map(entry.times.map((time, index) => [time, entry.values[index] ?? null]));
      one.times.forEach((time, index) => byTime.set(alignDown(time, plan.bucketMs), one.values[index] ?? null));
      const times = [...byTime.keys()].sort((a, b) => a - b);
      merged.set(key, { labels: entry.labels, times, values: times.map((time) => byTime.get(time) ?? null) });
    }
    return { series: [...merged.values()], cached: live?.cached ?? false };
  }

  /** A ratio's denominator summed over the plan's range (the same cached question its value was computed from). */
  private async denominatorTotal(organizationId: string, plan: Plan, within: StoredText | undefined): Promise<number> {
    const { series } = await this.ratioPart(organizationId, plan, plan.metric.denominator!, plan.from, plan.to, within);
    return series.reduce((total, one) => total + one.values.reduce<number>((sum, value) => sum + (value ?? 0), 0), 0);
  }

  private ratioPart(organizationId: string, plan: Plan, key: string, from: Date, to: Date, within?: StoredText): Promise<Fetched> {
    const partMetric = this.catalog.metric(key)!;
    return this.fetch(organizationId, plan, partMetric, partMetric.aggregations.includes('sum') ? 'sum' : 'count', from, to, within);
  }

  /**
   * Dense, sorted series of the plan's metric over [from, to) in the plan's
   * buckets. `onSeries` sees the number of series the source answered before
   * any bucket is filled, and may refuse it (answer budgets).
   */
  async series(organizationId: string, plan: Plan, from: Date, to: Date, onSeries?: SeriesGuard, within?: StoredText): Promise<Fetched> {
    const metric = plan.metric;
    if (metric.level && this.options.levels) {
      const fetched = await this.levelSeries(organizationId, plan, this.options.levels, from, to);
      onSeries?.(fetched.series.length);
      const times = bucketTimes(from.getTime(), to.getTime(), plan.bucketMs);
      return { series: await densify(fetched.series, plan.groupBy, times, plan.bucketMs, null), cached: fetched.cached };
    }
    if (metric.kind !== 'ratio') {
      const fetched = await this.fetch(organizationId, plan, metric, plan.aggregation as SourceQuery['aggregation'], from, to, within);
      onSeries?.(fetched.series.length);
      const times = bucketTimes(from.getTime(), to.getTime(), plan.bucketMs);
      return { series: await densify(fetched.series, plan.groupBy, times, plan.bucketMs, fillFor(plan.aggregation)), cached: fetched.cached };
    }
    const parts = await this.denseParts(organizationId, plan, from, to, within, onSeries);
    const times = bucketTimes(from.getTime(), to.getTime(), plan.bucketMs);
    return { series: await densify(ratio(parts.numerator, parts.denominator, plan.groupBy), plan.groupBy, times, plan.bucketMs, null), cached: parts.cached };
  }

  /** One source question, through the cache; the organization is part of every key. */
  private async fetch(organizationId: string, plan: Plan, metric: CatalogMetric, aggregation: SourceQuery['aggregation'], from: Date, to: Date, within?: StoredText): Promise<Fetched> {
    const query: SourceQuery = { organizationId, metric, aggregation, groupBy: plan.groupBy, filters: plan.filters, from, to, bucketMs: plan.bucketMs, batch: plan.batch };
    // The catalog version keeps answers of a replaced catalog from being served for a changed metric.
    const question = { catalog: this.options.catalogVersion, metric: metric.key, definition: definitionOf(metric), kind: metric.kind, aggregation, groupBy: plan.groupBy, filters: plan.filters, from, to, bucketMs: plan.bucketMs, rolling: plan.rolling ?? false };
    const { value, cached } = await this.cached(organizationId, metric.source, question, within, (readAfter) =>
      plan.rolling ? this.registry.window(metric.source, { ...query, readAfter }) : this.registry.query(metric.source, { ...query, readAfter }),
    );
    return { series: value, cached };
  }
}
