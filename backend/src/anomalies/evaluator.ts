import type { CatalogMetric } from '../catalog/schema.js';
import type { Pool } from '../db/pool.js';
import { withTransaction } from '../db/pool.js';
import type { Logger } from '../logger.js';
import { alignDown, HOUR_MS, WHOLE_RANGE_MS } from '../query/buckets.js';
import { isPlanError, type Plan } from '../query/planner.js';
import type { QueryService } from '../query/service.js';
import { SourceError } from '../sources/errors.js';
import type { Series } from '../sources/types.js';
import { DetectorCache } from './detector-cache.js';
import { describeFinding, evaluateChange, type Finding, type Severity } from './detectors/index.js';
import { baselineHistoryMs, baselineOptionsOf, judgeThreshold, needsCount, needsParts } from './judge.js';
import type { MetricRule, Rule } from './rules.js';
import { nextState } from './state-machine.js';
import { loadStates, recordTransition, saveState, seriesKeyOf, tryLockRule, type EvaluatedSeries } from './store.js';

const WEEK_MS = 7 * 24 * HOUR_MS;

/** Units the message formatter knows, from Grafana unit ids. */
function displayUnit(unit: string): string {
  if (unit === 'percentunit') return 'ratio';
  if (unit === 'percent') return 'percent';
  if (unit.startsWith('currency')) return unit.slice('currency'.length);
  return unit === 'short' || unit === 'none' ? '' : unit;
}

export interface EvaluationSummary {
  rule: string;
  skipped?: 'locked';
  series: number;
  transitions: number;
}

/**
 * Evaluates catalog rules for one organization at one tick: reads the metric
 * through the query service (same numbers as the dashboards), runs the rule's
 * detector per series, and applies the alert state machine in PostgreSQL.
 */
export class RuleEvaluator {
  /** Baseline detectors kept between ticks (see DetectorCache); each process has its own. */
  private readonly detectors = new DetectorCache();

  constructor(
    private readonly pool: Pool,
    private readonly service: QueryService,
    private readonly logger: Logger,
  ) {}

  private plan(metric: CatalogMetric, rule: Rule, from: number, to: number, bucketMs: number, groupBy = rule.groupBy): Plan {
    const plan = this.service.plan(
      { refId: rule.id, metric: metric.key, aggregation: metric.defaultAggregation, groupBy, filters: [], format: 'timeseries', compareToPrevious: false, live: false, hide: false },
      { from: new Date(from), to: new Date(to), intervalMs: Math.min(bucketMs, WEEK_MS), maxDataPoints: 100_000 },
    );
    if (isPlanError(plan)) throw new Error(`rule '${rule.id}': ${plan.error}`);
    return { ...plan, bucketMs };
  }

  /** One value per series over [from, to) at hour resolution. */
  private async totals(organizationId: string, metric: CatalogMetric, rule: Rule, from: number, to: number): Promise<Series[]> {
    const plan = this.plan(metric, rule, from, to, WHOLE_RANGE_MS);
    return (await this.service.series(organizationId, plan, plan.from, plan.to)).series;
  }

  /** Findings per series key for the rule at `at`. */
  async findings(organizationId: string, { metric, rule }: MetricRule, at: number, previous: Map<string, Severity>): Promise<Map<string, { labels: Record<string, string>; finding: Finding }>> {
    const out = new Map<string, { labels: Record<string, string>; finding: Finding }>();
    if (rule.type === 'threshold') {
      // The complete hours of the window: the current hour is judged once it is over, so Grafana's
      // band query (which leaves the partial hour null) and this evaluator judge the same numbers.
      const to = alignDown(at, HOUR_MS);
      const from = to - rule.window;
      const parts = needsParts(metric, rule);
      const [values, volumes, numerators, counts] = await Promise.all([
        this.totals(organizationId, metric, rule, from, to),
        parts ? this.partTotals(organizationId, metric.denominator!, rule, from, to) : undefined,
        parts ? this.partTotals(organizationId, metric.numerator!, rule, from, to) : undefined,
        needsCount(metric, rule) ? this.partTotals(organizationId, metric.key, rule, from, to, 'count') : undefined,
      ]);
      for (const series of values) {
        const key = seriesKeyOf(series.labels);
        const totals = { value: series.values[0] ?? null, numerator: numerators?.get(key) ?? 0, denominator: volumes?.get(key) ?? 0, count: counts?.get(key) ?? 0 };
        const finding = judgeThreshold(metric, rule, at, totals, previous.get(key) ?? 'healthy');
        if (finding) out.set(key, { labels: series.labels, finding });
      }
    } else if (rule.type === 'change') {
      const currentFrom = alignDown(at - rule.window, HOUR_MS);
      const previousFrom = currentFrom - rule.window;
      const [current, before] = await Promise.all([this.totals(organizationId, metric, rule, currentFrom, at), this.totals(organizationId, metric, rule, previousFrom, currentFrom)]);
      const beforeByKey = new Map(before.map((series) => [seriesKeyOf(series.labels), series.values[0] ?? null]));
      for (const series of current) {
        const key = seriesKeyOf(series.labels);
        const value = series.values[0] ?? null;
        const prior = beforeByKey.get(key) ?? null;
        if (value === null || prior === null) continue;
        out.set(key, { labels: series.labels, finding: evaluateChange(rule, at, value, prior) });
      }
    } else {
      // Judge the last complete bucket against the same bucket of the week over the last N weeks.
      const end = alignDown(at, rule.bucket);
      const from = end - baselineHistoryMs(rule);
      const plan = this.plan(metric, rule, from, end, rule.bucket);
      const { series } = await this.service.series(organizationId, plan, plan.from, plan.to);
      for (const one of series) {
        const points = one.times.flatMap((time, index) => (one.values[index] === null || one.values[index] === undefined ? [] : [{ time, value: one.values[index]! }]));
        if (points.length === 0) continue;
        const finding = this.detectors.judge(`${organizationId}\u0000${rule.id}\u0000${seriesKeyOf(one.labels)}`, points, baselineOptionsOf(rule));
        out.set(seriesKeyOf(one.labels), { labels: one.labels, finding });
      }
    }
    return out;
  }

  /** A ratio's numerator or denominator metric summed over [from, to) (or a metric's number of values), per series. */
  private async partTotals(organizationId: string, partKey: string, rule: Rule, from: number, to: number, aggregation?: 'count'): Promise<Map<string, number>> {
    const part = this.service.catalog.metric(partKey)!;
    const plan = this.plan(part, rule, from, to, WHOLE_RANGE_MS);
    const { series } = await this.service.series(organizationId, { ...plan, metric: part, aggregation: aggregation ?? (part.aggregations.includes('sum') ? 'sum' : 'count') }, plan.from, plan.to);
    return new Map(series.map((one) => [seriesKeyOf(one.labels), one.values[0] ?? 0]));
  }

  /**
   * Evaluates one rule for one organization at tick `at` and stores the
   * outcome. Idempotent per tick: a retried job finds the tick already
   * evaluated, and the transition's unique key refuses a second record.
   */
  async evaluate(organizationId: string, metricRule: MetricRule, at: number): Promise<EvaluationSummary> {
    const { metric, rule } = metricRule;
    return withTransaction(this.pool, async (client) => {
      if (!(await tryLockRule(client, organizationId, rule.id))) return { rule: rule.id, skipped: 'locked', series: 0, transitions: 0 };
      const states = await loadStates(client, organizationId, rule.id);
      // A rule's hysteresis (recover) follows the last judgement: an alert kept firing through keepFiringFor while its
      // series is already clear (a quiet hour, or a value past the recovery bound) was last judged healthy, so the next
      // hour must cross the firing bound again, as Grafana's rule on the band does after its series went normal.
      const previous = new Map([...states].map(([key, state]) => [key, state.clearSince === null ? state.severity : ('healthy' as Severity)]));
      const findings = await this.findings(organizationId, metricRule, at, previous);
      // A series that vanished (no data now) is judged healthy, so its alert can resolve.
      for (const [key] of states) {
        if (!findings.has(key)) findings.set(key, { labels: JSON.parse(key) as Record<string, string>, finding: quietFinding(rule, at) });
      }
      let transitions = 0;
      for (const [seriesKey, { labels, finding }] of findings) {
        const stored = states.get(seriesKey);
        if (stored && stored.lastEvaluatedAt >= at) continue; // this tick (or a later one) is already stored
        const text = describeFinding(finding, { label: labelWith(metric.label, labels), unit: displayUnit(metric.unit) }, {
          since: stored?.state === 'firing' ? stored.firingSince ?? at : at,
          recommendation: rule.recommendation,
        });
        const series: EvaluatedSeries = {
          seriesKey,
          labels,
          severity: finding.severity,
          value: Number.isFinite(finding.observed) ? finding.observed : null,
          expected: Number.isFinite(finding.expected) ? finding.expected : null,
          message: text.message,
          recommendation: text.recommendation,
        };
        const next = nextState(stored, at, finding.severity, { forMs: rule.for, keepFiringForMs: rule.keepFiringFor });
        if (!stored && next.record.state === 'normal') continue; // healthy and never alerted: nothing to keep
        await saveState(client, organizationId, rule.id, metric.key, at, series, next.record);
        if (next.transition && (await recordTransition(client, organizationId, rule.id, metric.key, at, series, next.transition))) transitions += 1;
      }
      return { rule: rule.id, series: findings.size, transitions };
    });
  }

  /** Every rule for every organization at tick `at`; one failing rule never stops the others. */
  async evaluateAll(rules: MetricRule[], at: number): Promise<EvaluationSummary[]> {
    const organizations = await this.pool.query<{ id: string }>('SELECT id FROM organizations ORDER BY id');
    this.detectors.evictOlderThan(at - 2 * WEEK_MS);
    const summaries: EvaluationSummary[] = [];
    for (const { id } of organizations.rows) {
      for (const metricRule of rules) {
        try {
          summaries.push(await this.evaluate(id, metricRule, at));
        } catch (error) {
          // A question the source refuses for this organization (e.g. no module_user_id mapping: the
          // organization does not use that module) is its configuration, not a failure to page on each minute.
          const level = error instanceof SourceError && error.failure === 'bad_query' ? 'debug' : 'warn';
          this.logger[level]({ err: error, organizationId: id, rule: metricRule.rule.id }, 'rule evaluation failed');
        }
      }
    }
    return summaries;
  }
}

function labelWith(label: string, labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([name, value]) => `${name}=${value}`);
  return parts.length ? `${label} (${parts.join(', ')})` : label;
}

function quietFinding(rule: Rule, at: number): Finding {
  return { rule: rule.type, time: at, severity: 'healthy', observed: Number.NaN, expected: Number.NaN, bound: Number.NaN, direction: 'above', score: 0 };
}
