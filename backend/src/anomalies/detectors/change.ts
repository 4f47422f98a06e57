import type { Finding, Severity } from './types.js';

export interface ChangeRule {
  /** `above`: a rise is bad (expenses); `below`: a fall is bad (revenue, billable hours). */
  direction: 'above' | 'below' | 'both';
  /** Absolute change in percent that makes a warning, e.g. 30 for +-30%. */
  warningPercent?: number;
  criticalPercent?: number;
  /**
   * The previous period must hold at least this much (count, amount) for a percentage to mean
   * anything: with 10, going from 1 to 2 orders is not reported as +100%.
   */
  minVolume: number;
}

export function validateChangeRule(rule: ChangeRule): void {
  if (rule.warningPercent === undefined && rule.criticalPercent === undefined) {
    throw new Error('change rule needs warningPercent or criticalPercent');
  }
  for (const [name, v] of [['warningPercent', rule.warningPercent], ['criticalPercent', rule.criticalPercent]] as const) {
    if (v !== undefined && !(v > 0)) throw new Error(`change rule: ${name} must be > 0, got ${v}`);
  }
  if (rule.warningPercent !== undefined && rule.criticalPercent !== undefined && rule.warningPercent > rule.criticalPercent) {
    throw new Error(`change rule: warningPercent ${rule.warningPercent} must not exceed criticalPercent ${rule.criticalPercent}`);
  }
  if (!(rule.minVolume >= 0)) throw new Error(`change rule: minVolume must be >= 0, got ${rule.minVolume}`);
}

/** Relative change in percent; null when the previous value is 0 (no percentage exists). */
export function deltaPercent(current: number, previous: number): number | null {
  if (!Number.isFinite(current) || !Number.isFinite(previous) || previous === 0) return null;
  return ((current - previous) / Math.abs(previous)) * 100;
}

/**
 * Compare the aggregate of the current period with the aggregate of the previous period of the
 * same length (the caller sums the rollups of both). Below the minimum volume the rule stays
 * healthy with score 0: a jump from nearly nothing is the threshold or baseline rule's job.
 */
export function evaluateChange(rule: ChangeRule, time: number, current: number, previous: number): Finding {
  const delta = Math.abs(previous) >= rule.minVolume ? deltaPercent(current, previous) : null;
  const side: 'above' | 'below' = current >= previous ? 'above' : 'below';
  const firstPercent = (rule.warningPercent ?? rule.criticalPercent)!;
  const bad = delta !== null && (rule.direction === 'both' || rule.direction === side);
  const size = bad ? Math.abs(delta) : 0;
  let severity: Severity = 'healthy';
  if (rule.criticalPercent !== undefined && size >= rule.criticalPercent) severity = 'critical';
  else if (rule.warningPercent !== undefined && size >= rule.warningPercent) severity = 'warning';
  const boundPercent = severity === 'critical' ? rule.criticalPercent! : firstPercent;
  const boundSide = rule.direction === 'both' ? side : rule.direction;
  const bound = previous * (1 + ((boundSide === 'above' ? 1 : -1) * boundPercent) / 100);
  // Score reaches 0.5 at the first bound and 1 at twice the critical (or first) bound.
  const top = 2 * (rule.criticalPercent ?? firstPercent);
  const score = size < firstPercent ? (0.5 * size) / firstPercent : Math.min(1, 0.5 + (0.5 * (size - firstPercent)) / Math.max(top - firstPercent, 1e-9));
  return { rule: 'change', time, severity, observed: current, expected: previous, bound, direction: side, score, deltaPercent: delta };
}
