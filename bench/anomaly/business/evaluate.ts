/**
 * Runs a rule over a series as the scheduler would (point by point, in time order) and counts
 * alerts against labelled incidents.
 */
import { BaselineDetector, evaluateChange, evaluateRatio, thresholdSeverity, type BaselineOptions, type ChangeRule, type RatioRule, type Severity, type ThresholdRule } from '../../../backend/src/anomalies/detectors/index.js';

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

export type Shape = 'spike' | 'drop' | 'level shift' | 'slow drift';

export interface Incident {
  shape: Shape;
  /** Index of the first affected point and of the last point where a detection still counts. */
  start: number;
  end: number;
}

/** One evaluation step: the metric's value, and for ratio metrics the counts behind it. */
export interface Sample {
  time: number;
  value: number;
  numerator?: number;
  denominator?: number;
}

export type Rule =
  | { type: 'baseline'; options: BaselineOptions }
  | { type: 'threshold'; rule: ThresholdRule }
  | { type: 'ratio'; rule: RatioRule; windowPoints: number }
  | { type: 'change'; rule: ChangeRule; periodPoints: number };

export interface Scenario {
  name: string;
  samples: Sample[];
  incidents: Incident[];
  rules: Rule[];
}

/** Severity of every sample under one rule, evaluated as the scheduler would: in time order. */
export function evaluate(rule: Rule, samples: Sample[]): Severity[] {
  switch (rule.type) {
    case 'baseline': {
      const detector = new BaselineDetector(rule.options);
      return samples.map((s) => detector.push(s).severity);
    }
    case 'threshold': {
      let previous: Severity = 'healthy';
      return samples.map((s) => (previous = thresholdSeverity(rule.rule, s.value, previous)));
    }
    case 'ratio': {
      let previous: Severity = 'healthy';
      return samples.map((s, i) => {
        const window = samples.slice(Math.max(0, i + 1 - rule.windowPoints), i + 1);
        const sum = (pick: (x: Sample) => number | undefined) => window.reduce((acc, x) => acc + (pick(x) ?? 0), 0);
        return (previous = evaluateRatio(rule.rule, s.time, sum((x) => x.numerator), sum((x) => x.denominator), previous).severity);
      });
    }
    case 'change': {
      const n = rule.periodPoints;
      const sum = (from: number, to: number) => samples.slice(Math.max(0, from), to).reduce((acc, s) => acc + s.value, 0);
      return samples.map((s, i) => (i + 1 < 2 * n ? 'healthy' : evaluateChange(rule.rule, s.time, sum(i + 1 - n, i + 1), sum(i + 1 - 2 * n, i + 1 - n)).severity));
    }
  }
}

export interface Tally {
  incidents: number;
  detected: number;
  truePositives: number;
  falsePositives: number;
  /** Alerts while a level shift or drift from the last week persists: the same problem again. */
  repeats: number;
  delays: number[];
}

export const emptyTally = (): Tally => ({ incidents: 0, detected: 0, truePositives: 0, falsePositives: 0, repeats: 0, delays: [] });

/**
 * The first 35% of every series is the history a deployment starts with (the evaluator reads
 * weeks of rollups); alerts there are not counted, as NAB does not score its probation period.
 * Incidents all lie in the second half.
 */
const warmUp = (points: number) => Math.floor(points * 0.35);

/**
 * How long alerts after a level shift or drift count as repeats of it rather than false alarms.
 * For fixed bounds (threshold, ratio) the shifted level stays beyond the bound for good, so every
 * later alert is still true; a baseline or change rule should have learnt the new normal within a week.
 */
export function persistencePoints(ruleType: Rule['type'], perDay: number): number {
  return ruleType === 'threshold' || ruleType === 'ratio' ? Infinity : 7 * perDay;
}

/**
 * Alerts are runs of non-healthy evaluations (gaps of up to 3 points merged, as a
 * `keepFiringFor` would). An alert that starts inside an incident's window is a true positive;
 * one that starts while an earlier level shift or drift still persists (see `persistencePoints`)
 * is a repeat; any other
 * is a false positive. An incident is detected when some evaluation inside its window is not
 * healthy; the first such evaluation gives the detection delay.
 */
export function score(severities: Severity[], incidents: Incident[], persistence: number, shapeTally: (shape: Shape) => Tally, total: Tally) {
  const starts: number[] = [];
  let lastBad = -Infinity;
  severities.forEach((s, i) => {
    if (s === 'healthy') return;
    if (i - lastBad > 3) starts.push(i);
    lastBad = i;
  });
  for (const start of starts) {
    if (start < warmUp(severities.length)) continue;
    if (incidents.some((inc) => start >= inc.start && start <= inc.end)) total.truePositives++;
    else if (incidents.some((inc) => (inc.shape === 'level shift' || inc.shape === 'slow drift') && start > inc.start && start <= inc.start + persistence)) total.repeats++;
    else total.falsePositives++;
  }
  for (const inc of incidents) {
    const t = shapeTally(inc.shape);
    t.incidents++;
    total.incidents++;
    const first = severities.findIndex((s, i) => i >= inc.start && i <= inc.end && s !== 'healthy');
    if (first < 0) continue;
    for (const tally of [t, total]) {
      tally.detected++;
      tally.delays.push(first - inc.start);
    }
  }
}

export function row(label: string, t: Tally, unit: string, withAlerts: boolean): string {
  const alerts = t.truePositives + t.falsePositives;
  const precision = alerts === 0 ? 1 : t.truePositives / alerts;
  const recall = t.incidents === 0 ? 1 : t.detected / t.incidents;
  const sorted = [...t.delays].sort((a, b) => a - b);
  const med = sorted.length === 0 ? '-' : `${sorted[Math.floor((sorted.length - 1) / 2)]}${unit ? ` ${unit}` : ''}`;
  const cells = withAlerts
    ? [t.truePositives, t.falsePositives, t.repeats, precision.toFixed(2)]
    : ['', '', '', ''];
  return `${label.padEnd(36)}${String(t.incidents).padStart(10)}${String(t.detected).padStart(9)}${cells.map((c, k) => String(c).padStart(k === 3 ? 11 : 7)).join('')}${recall.toFixed(2).padStart(8)}${med.padStart(14)}`;
}
