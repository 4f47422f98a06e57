/** One sample of a metric: `time` in epoch milliseconds. */
export interface Point {
  time: number;
  value: number;
}

export type Severity = 'healthy' | 'warning' | 'critical';

export type RuleType = 'threshold' | 'change' | 'baseline';

/** Which side of the expected value is bad. */
export type Direction = 'above' | 'below' | 'both';

/**
 * What a detector concluded about one point. Every detector returns this shape so the
 * evaluator, the alert state machine and the message formatter treat all rule types alike.
 */
export interface Finding {
  rule: RuleType;
  time: number;
  severity: Severity;
  observed: number;
  /** What the value should have been: the baseline median or the previous period's value;
   *  for a threshold, the first (warning) bound, the edge of normal. */
  expected: number;
  /** The bound that applies: for a threshold the one crossed (critical when critical), for the
   *  change and baseline rules the value where a warning starts. */
  bound: number;
  /** Side on which `observed` departs from `expected`. */
  direction: 'above' | 'below';
  /** Anomaly score in [0, 1]: 0 is normal, 1 is as abnormal as the detector can say. */
  score: number;
  /** Change rule only: the relative change in percent (null when it is not defined). */
  deltaPercent?: number | null;
  /** Baseline rule only: the robust z-score. */
  z?: number;
}

export const SEVERITY_RANK: Record<Severity, number> = { healthy: 0, warning: 1, critical: 2 };
