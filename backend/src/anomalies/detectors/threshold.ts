import type { Finding, Point, Severity } from './types.js';

export interface ThresholdRule {
  /** `above`: high values are bad (failure rate); `below`: low values are bad (delivery rate). */
  direction: 'above' | 'below';
  warning?: number;
  critical?: number;
  /**
   * How far a value must recede past a bound before the severity drops, in the metric's unit.
   * Without it a value hovering at the bound flaps between states on every evaluation.
   * Default: 5% of the bound's magnitude.
   */
  hysteresis?: number;
}

export function validateThresholdRule(rule: ThresholdRule): void {
  if (rule.warning === undefined && rule.critical === undefined) {
    throw new Error('threshold rule needs a warning or a critical bound');
  }
  if (rule.warning !== undefined && rule.critical !== undefined) {
    const ordered = rule.direction === 'above' ? rule.warning <= rule.critical : rule.warning >= rule.critical;
    if (!ordered) {
      throw new Error(
        `threshold rule: warning bound ${rule.warning} must be ${rule.direction === 'above' ? 'below' : 'above'} the critical bound ${rule.critical} for direction '${rule.direction}'`,
      );
    }
  }
  if (rule.hysteresis !== undefined && !(rule.hysteresis >= 0)) {
    throw new Error(`threshold rule: hysteresis must be >= 0, got ${rule.hysteresis}`);
  }
}

function margin(rule: ThresholdRule, bound: number): number {
  return rule.hysteresis ?? Math.abs(bound) * 0.05;
}

/** True when `value` is past `bound` on the bad side, counting the hysteresis band when `holding`. */
function beyond(rule: ThresholdRule, value: number, bound: number, holding: boolean): boolean {
  const slack = holding ? margin(rule, bound) : 0;
  return rule.direction === 'above' ? value >= bound - slack : value <= bound + slack;
}

/**
 * Severity of `value` given the severity of the previous evaluation. A level is entered when the
 * value reaches its bound and is kept until the value moves back past the bound by the hysteresis
 * margin: 5.0 -> 4.9 -> 5.0 around a bound of 5 stays `warning` instead of flapping.
 */
export function thresholdSeverity(rule: ThresholdRule, value: number, previous: Severity = 'healthy'): Severity {
  if (!Number.isFinite(value)) return 'healthy';
  if (rule.critical !== undefined && beyond(rule, value, rule.critical, previous === 'critical')) return 'critical';
  if (rule.warning !== undefined && beyond(rule, value, rule.warning, previous !== 'healthy')) return 'warning';
  return 'healthy';
}

/** Evaluate one point. `previous` is the severity the alert had before (for hysteresis). */
export function evaluateThreshold(rule: ThresholdRule, point: Point, previous: Severity = 'healthy'): Finding {
  const severity = thresholdSeverity(rule, point.value, previous);
  const firstBound = (rule.warning ?? rule.critical)!;
  const bound = severity === 'critical' ? rule.critical! : firstBound;
  return {
    rule: 'threshold',
    time: point.time,
    severity,
    observed: point.value,
    expected: firstBound,
    bound,
    direction: rule.direction,
    score: thresholdScore(rule, point.value),
  };
}

/**
 * 0 on the good side of the first bound, rising linearly to 1 at the critical bound (or at twice
 * the distance from zero to a lone bound), so scores are comparable across threshold rules.
 */
function thresholdScore(rule: ThresholdRule, value: number): number {
  if (!Number.isFinite(value)) return 0;
  const sign = rule.direction === 'above' ? 1 : -1;
  const low = rule.warning ?? rule.critical!;
  const high = rule.critical !== undefined && rule.critical !== low ? rule.critical : low + sign * Math.max(Math.abs(low), 1e-9);
  const past = sign * (value - low);
  if (past < 0) return 0;
  const span = Math.abs(high - low);
  return Math.min(1, 0.5 + (0.5 * past) / span);
}
