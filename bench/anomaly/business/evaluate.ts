/**
 * Runs a catalog rule over a series as the scheduler would (bucket by bucket, in time order,
 * through the same judging functions as the alert evaluator) and counts its alerts against
 * labelled incidents.
 */
import { BaselineDetector, evaluateChange, type Severity } from '../../../backend/src/anomalies/detectors/index.js';
import { baselineOptionsOf, judgeThreshold } from '../../../backend/src/anomalies/judge.js';
import type { MetricRule } from '../../../backend/src/anomalies/rules.js';
import { aggregate, DAY, resample, type Bucket, type Incident, type MetricSeries, type Shape } from './series.js';

/** One evaluation: the bucket judged (its start) and the rule's severity then. */
export interface Evaluation {
  bucket: number;
  severity: Severity;
}

/** The step a rule is evaluated at on a series, or why it cannot be. */
export function ruleStep({ rule }: MetricRule, series: MetricSeries): number | string {
  const span = rule.type === 'baseline' ? rule.bucket : rule.window;
  if (span % series.stepMs !== 0) return `the rule's ${rule.type === 'baseline' ? 'bucket' : 'window'} is not a whole number of the series' ${series.stepMs / 3_600_000} h steps`;
  return rule.type === 'baseline' ? rule.bucket : series.stepMs;
}

/** Severity after every complete bucket, as the evaluator would judge it at that bucket's end. */
export function evaluate(metricRule: MetricRule, original: MetricSeries): Evaluation[] {
  const { metric, rule } = metricRule;
  const aggregation = metric.defaultAggregation;
  if (rule.type === 'baseline') {
    const series = resample(original, rule.bucket);
    const detector = new BaselineDetector(baselineOptionsOf(rule));
    return series.buckets.map((b) => {
      const value = aggregate([b], aggregation);
      return { bucket: b.time, severity: value === null ? 'healthy' : detector.push({ time: b.time, value }).severity };
    });
  }
  const k = rule.window / original.stepMs;
  const buckets = original.buckets;
  const windowAt = (end: number): Bucket[] => buckets.slice(Math.max(0, end - k + 1), end + 1);
  if (rule.type === 'change') {
    return buckets.map((b, i) => {
      if (i + 1 < 2 * k) return { bucket: b.time, severity: 'healthy' };
      const current = aggregate(windowAt(i), aggregation);
      const prior = aggregate(windowAt(i - k), aggregation);
      const severity = current === null || prior === null ? 'healthy' : evaluateChange(rule, b.time + original.stepMs, current, prior).severity;
      return { bucket: b.time, severity };
    });
  }
  let previous: Severity = 'healthy';
  return buckets.map((b, i) => {
    const window = windowAt(i);
    const totals = {
      value: aggregate(window, aggregation),
      numerator: window.reduce((acc, x) => acc + (x.numerator ?? 0), 0),
      denominator: window.reduce((acc, x) => acc + (x.denominator ?? 0), 0),
      count: window.reduce((acc, x) => acc + x.count, 0),
    };
    previous = judgeThreshold(metric, rule, b.time + original.stepMs, totals, previous)?.severity ?? 'healthy';
    return { bucket: b.time, severity: previous };
  });
}

export interface Tally {
  incidents: number;
  detected: number;
  truePositives: number;
  falsePositives: number;
  /** Alerts while a level shift or drift from the last week persists: the same problem again. */
  repeats: number;
  /** Hours from an incident's start to the end of the first bucket that caught it. */
  delays: number[];
}

export const emptyTally = (): Tally => ({ incidents: 0, detected: 0, truePositives: 0, falsePositives: 0, repeats: 0, delays: [] });

/**
 * The first 35% of every series is the history a deployment starts with (the evaluator reads
 * weeks of rollups); alerts there are not counted, as NAB does not score its probation period.
 * Incidents all lie later.
 */
const WARM_UP = 0.35;

/**
 * How long alerts after a level shift or drift count as repeats of it rather than false alarms:
 * a fixed bound stays crossed by a shifted level for good; a baseline or change rule should have
 * learnt the new normal within a week.
 */
export const persistenceMs = (ruleType: MetricRule['rule']['type']): number => (ruleType === 'threshold' ? Infinity : 7 * DAY);

/**
 * Alerts as the state machine makes them: a run of non-healthy evaluations fires once it has
 * lasted the rule's `for`, and gaps no longer than `keepFiringFor` keep it firing. An alert whose
 * first evaluation judged data of an incident (its bucket, or its window) is a true positive; one that starts while an
 * earlier level shift or drift persists is a repeat; any other is a false positive. An incident
 * is detected when an alert's breach covers a bucket inside it; the first gives the delay.
 */
export function score(evaluations: Evaluation[], stepMs: number, { rule }: MetricRule, incidents: Incident[], shapeTally: (shape: Shape) => Tally, total: Tally): void {
  const runs: Array<{ start: number; end: number; breached: number[] }> = [];
  for (const e of evaluations) {
    if (e.severity === 'healthy') continue;
    const last = runs[runs.length - 1];
    if (last && e.bucket - (last.end + stepMs) <= rule.keepFiringFor) {
      last.end = e.bucket;
      last.breached.push(e.bucket);
    } else runs.push({ start: e.bucket, end: e.bucket, breached: [e.bucket] });
  }
  // A breach shorter than `for` never fires; one that lasts fires `for` after its first bucket was judged.
  const alerts = runs.filter((run) => run.end + stepMs - run.start > rule.for).map((run) => ({ ...run, firesAt: run.start + stepMs + rule.for }));
  // What an evaluation judged: its bucket, or for threshold and change rules the window ending with it,
  // so an alert raised while the window still holds incident hours belongs to that incident.
  const judged = rule.type === 'baseline' ? stepMs : rule.window;
  const overlaps = (bucket: number, inc: Incident) => bucket + stepMs > inc.start && bucket + stepMs - judged < inc.end;
  const first = evaluations[0]?.bucket ?? 0;
  const last = evaluations[evaluations.length - 1]?.bucket ?? 0;
  const counted = first + (last - first) * WARM_UP;
  const persistence = persistenceMs(rule.type);
  for (const alert of alerts) {
    if (alert.start < counted) continue;
    if (incidents.some((inc) => overlaps(alert.start, inc))) total.truePositives++;
    else if (incidents.some((inc) => (inc.shape === 'level shift' || inc.shape === 'slow drift') && alert.start > inc.start && alert.start <= inc.start + persistence)) total.repeats++;
    else total.falsePositives++;
  }
  for (const inc of incidents) {
    const t = shapeTally(inc.shape);
    t.incidents++;
    total.incidents++;
    const caught = alerts.flatMap((alert) => alert.breached.filter((bucket) => overlaps(bucket, inc)).map((bucket) => Math.max(bucket + stepMs, alert.firesAt)));
    if (caught.length === 0) continue;
    for (const tally of [t, total]) {
      tally.detected++;
      tally.delays.push(Math.max(0, Math.min(...caught) - inc.start) / 3_600_000);
    }
  }
}

export function row(label: string, t: Tally, withAlerts: boolean): string {
  const alerts = t.truePositives + t.falsePositives;
  const precision = alerts === 0 ? 1 : t.truePositives / alerts;
  const recall = t.incidents === 0 ? 1 : t.detected / t.incidents;
  const sorted = [...t.delays].sort((a, b) => a - b);
  const med = sorted.length === 0 ? '-' : `${Math.round(sorted[Math.floor((sorted.length - 1) / 2)]!)} h`;
  const cells = withAlerts ? [t.truePositives, t.falsePositives, t.repeats, precision.toFixed(2)] : ['', '', '', ''];
  return `${label.padEnd(44)}${String(t.incidents).padStart(10)}${String(t.detected).padStart(9)}${cells.map((c, k) => String(c).padStart(k === 3 ? 11 : 7)).join('')}${recall.toFixed(2).padStart(8)}${med.padStart(14)}`;
}
