/**
 * The `band` query option: next to a metric's series, what one of its anomaly rules judges at
 * every complete bucket, computed by the same functions as the alert evaluator
 * (anomalies/judge.ts), so a Grafana alert rule on these fields fires when the backend rule does.
 *
 * - baseline rule: `expected`, `lower`, `upper` (where a single bucket starts to be a warning)
 *   and `score` (0..1, 0.5 at the warning z);
 * - threshold rule on a ratio: `lower` and `upper`, the Wilson interval of the rate over the
 *   rule's window at the rule's confidence (the raw rate when it has none).
 *
 * The current, partial bucket gets nulls: rules judge complete buckets only.
 */
import { judgedHistoryPoints } from '../anomalies/detectors/index.js';
import { BaselineReplays, type BaselineReplay } from '../anomalies/detectors/baseline-replays.js';
import { baselineHistoryMs, baselineOptionsOf, ratioBounds } from '../anomalies/judge.js';
import type { BaselineRuleConfig, MetricRule, ThresholdRuleConfig } from '../anomalies/rules.js';
import type { Series } from '../sources/types.js';
import { BAND_FIELDS, type BandField } from './band-fields.js';
import { alignDown } from './buckets.js';
import type { Plan } from './planner.js';

export { BAND_FIELDS, type BandField };
export type BandColumns = Partial<Record<BandField, Array<number | null>>>;

/** What the band needs from the query service: the metric, or a ratio's parts, per series. */
export interface BandReader {
  series(plan: Plan, from: Date, to: Date): Promise<Series[]>;
  parts(plan: Plan, from: Date, to: Date): Promise<{ numerator: Series[]; denominator: Series[] }>;
}

/** The rule named by `band`, or why it cannot give one (a per-query 400). */
export function bandRule(rules: readonly MetricRule[], plan: Plan, ruleId: string): MetricRule | string {
  const found = rules.find((one) => one.rule.id === ruleId);
  const here = rules.filter((one) => one.metric.key === plan.metric.key && (one.rule.type === 'baseline' || one.metric.kind === 'ratio')).map((one) => one.rule.id);
  const offer = here.length ? `; rules with a band on '${plan.metric.key}': ${here.join(', ')}` : `; metric '${plan.metric.key}' has no baseline rule and no ratio rule`;
  if (!found || found.metric.key !== plan.metric.key) return `band: rule '${ruleId}' is not a rule of metric '${plan.metric.key}'${offer}`;
  if (plan.format !== 'timeseries') return 'band: only time series have a band (format: timeseries)';
  if (plan.bandField && !bandFieldsOf(found).includes(plan.bandField)) return `bandField: rule '${ruleId}' has no '${plan.bandField}' (it has ${bandFieldsOf(found).join(', ')})`;
  const rule = found.rule;
  if (rule.type === 'change' || (rule.type === 'threshold' && found.metric.kind !== 'ratio')) return `band: rule '${ruleId}' is a ${rule.type} rule on a ${found.metric.kind}; bands exist for baseline rules and for threshold rules on ratios${offer}`;
  // A rolling window is one exact range: what a ratio rule judges over it needs no buckets, a seasonal baseline does.
  if (plan.rolling) return rule.type === 'threshold' ? found : `band: rule '${ruleId}' judges whole ${rule.bucket / 3_600_000} h buckets against its seasonal baseline; turn off rolling to read its band`;
  const step = rule.type === 'baseline' ? rule.bucket : 3_600_000;
  if (plan.bucketMs !== step) return `band: rule '${ruleId}' judges ${step / 3_600_000} h buckets but this query has ${plan.bucketMs / 3_600_000} h buckets; set the interval (or max data points) so buckets are ${step / 3_600_000} h`;
  return found;
}

/** The columns a rule's band has: all four for a baseline rule, the interval for a ratio rule. */
export const bandFieldsOf = ({ rule }: MetricRule): readonly BandField[] => (rule.type === 'baseline' ? BAND_FIELDS : ['lower', 'upper']);

/**
 * Where a rule's band starts reading its series (to the plan's `to`), so every bucket shown is judged with its full
 * history: a baseline's seasons and error windows, a ratio's window before the first bucket. A rolling window reads
 * the plan's own range. The range holds the plan's, on the same grid (whole buckets before it).
 */
export function bandReadFrom(plan: Plan, rule: MetricRule['rule']): Date {
  if (plan.rolling) return plan.from;
  const start = alignDown(plan.from.getTime(), plan.bucketMs);
  if (rule.type === 'baseline') return new Date(start - baselineHistoryMs(rule));
  // Whole buckets: the window of the first bucket in range starts `window` before its end.
  return new Date(start - (rule as ThresholdRuleConfig).window + plan.bucketMs);
}

const keyOf = (labels: Record<string, string>) => JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));

/** Band columns per series (by labels), aligned with `times`. */
export async function bandColumns(reader: BandReader, plan: Plan, { metric, rule }: MetricRule, times: number[], now: number): Promise<Map<string, BandColumns>> {
  // A bucket still open at `to` (or now) is partial: an alert rule replayed at a past time sees what it would have seen then.
  const end = Math.min(now, plan.to.getTime());
  const complete = (time: number) => time + plan.bucketMs <= end;
  if (plan.rolling && rule.type === 'threshold') return rollingRatioBand(reader, plan, rule);
  if (rule.type === 'baseline') return baselineBand(reader, plan, rule, times, complete);
  if (rule.type === 'threshold' && metric.kind === 'ratio') return ratioBand(reader, plan, rule, times, complete);
  return new Map();
}

/** Baseline replays kept between answers (baseline-replays.ts): most cold answers follow writes that left the history as it was. */
const replays = new BaselineReplays();

async function baselineBand(reader: BandReader, plan: Plan, rule: BaselineRuleConfig, times: number[], complete: (t: number) => boolean): Promise<Map<string, BandColumns>> {
  const start = alignDown(plan.from.getTime(), plan.bucketMs);
  const readFrom = bandReadFrom(plan, rule).getTime();
  const options = baselineOptionsOf(rule);
  const out = new Map<string, BandColumns>();
  for (const one of await reader.series(plan, new Date(readFrom), plan.to)) {
    const pointTimes: number[] = [];
    const pointValues: number[] = [];
    one.times.forEach((time, index) => {
      const value = one.values[index];
      if (value !== null && value !== undefined && complete(time)) {
        pointTimes.push(time);
        pointValues.push(value);
      }
    });
    // As the evaluator's cold start (`replay`): history long before the first bucket shown only fills the seasons.
    const firstShown = pointTimes.findIndex((time) => time >= start);
    const seedUntil = (firstShown === -1 ? pointTimes.length : firstShown) + 1 - judgedHistoryPoints(rule.bucket);
    const labels = keyOf(one.labels);
    const key = `${plan.metric.key}\u0000${labels}\u0000${JSON.stringify(plan.filters)}\u0000${readFrom}\u0000${plan.bucketMs}`;
    const replay = replays.replay(key, options, pointTimes, pointValues, seedUntil);
    const at = judgedIndexes(replay, times);
    const column = (judged: readonly number[]) =>
      at.map((index) => {
        const value = index < 0 ? Number.NaN : judged[index]!;
        return Number.isFinite(value) ? value : null;
      });
    out.set(labels, { expected: column(replay.expected), lower: column(replay.lower), upper: column(replay.upper), score: column(replay.score) });
  }
  return out;
}

/** For each of `times`, the index of its finding in the replay's judged arrays, or -1 (not a judged point). */
function judgedIndexes(replay: BaselineReplay, times: number[]): number[] {
  const points = replay.times;
  for (let index = 1; index < points.length; index += 1) {
    if (!(points[index]! > points[index - 1]!)) {
      // Not in time order (no source should answer so): look each time up.
      const byTime = new Map(points.map((time, at) => [time, at - replay.judgedFrom]));
      return times.map((time) => {
        const at = byTime.get(time);
        return at === undefined || at < 0 ? -1 : at;
      });
    }
  }
  return times.map((time) => {
    const at = firstIndex(points, replay.judgedFrom, (one) => one < time);
    return at < points.length && points[at] === time ? at - replay.judgedFrom : -1;
  });
}

/** The first index from `low` of ascending `sorted` whose time is not `before`, by binary search. */
function firstIndex(sorted: readonly number[], low: number, before: (time: number) => boolean): number {
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (before(sorted[middle]!)) low = middle + 1;
    else high = middle;
  }
  return low;
}

async function ratioBand(reader: BandReader, plan: Plan, rule: ThresholdRuleConfig, times: number[], complete: (t: number) => boolean): Promise<Map<string, BandColumns>> {
  const { numerator, denominator } = await reader.parts(plan, bandReadFrom(plan, rule), plan.to);
  const numerators = new Map(numerator.map((one) => [keyOf(one.labels), one]));
  const out = new Map<string, BandColumns>();
  for (const den of denominator) {
    const num = numerators.get(keyOf(den.labels));
    const sums = (series: Series | undefined, end: number) => windowSum(series, end - rule.window, end);
    const bounds = times.map((time) => (complete(time) ? ratioBounds(rule, sums(num, alignDown(time, plan.bucketMs)), sums(den, alignDown(time, plan.bucketMs))) : null));
    out.set(keyOf(den.labels), { lower: bounds.map((b) => b?.lower ?? null), upper: bounds.map((b) => b?.upper ?? null) });
  }
  return out;
}

/**
 * The sum of a series' values at times in (after, until], added in the series' order as a scan of
 * every point would (so the same double). Series come in time order: the window's points are one
 * run, found by binary search (each bucket's window scanned the whole series, 0.4 ms of Node per
 * Business overview load); a series out of order is scanned whole.
 */
function windowSum(series: Series | undefined, after: number, until: number): number {
  if (!series) return 0;
  const { times, values } = series;
  let total = 0;
  if (!inTimeOrder(series)) {
    times.forEach((time, index) => {
      if (time > after && time <= until) total += values[index] ?? 0;
    });
    return total;
  }
  for (let index = firstIndex(times, 0, (time) => time <= after); index < times.length && times[index]! <= until; index += 1) total += values[index] ?? 0;
  return total;
}

/** Whether a series' times ascend, remembered per series (a band reads each part once per bucket shown). */
const ordered = new WeakMap<Series, boolean>();
function inTimeOrder(series: Series): boolean {
  let known = ordered.get(series);
  if (known === undefined) {
    known = series.times.every((time, index) => index === 0 || time > series.times[index - 1]!);
    ordered.set(series, known);
  }
  return known;
}

/** A rolling window's band: the rule's interval over exactly [from, to), the window the query itself names. */
async function rollingRatioBand(reader: BandReader, plan: Plan, rule: ThresholdRuleConfig): Promise<Map<string, BandColumns>> {
  const { numerator, denominator } = await reader.parts(plan, plan.from, plan.to);
  const numerators = new Map(numerator.map((one) => [keyOf(one.labels), one.values[0] ?? 0]));
  const out = new Map<string, BandColumns>();
  for (const den of denominator) {
    const bounds = ratioBounds(rule, numerators.get(keyOf(den.labels)) ?? 0, den.values[0] ?? 0);
    out.set(keyOf(den.labels), { lower: [bounds?.lower ?? null], upper: [bounds?.upper ?? null] });
  }
  return out;
}

export { keyOf as bandKeyOf };
