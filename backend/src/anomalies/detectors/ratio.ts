import { evaluateThreshold, type ThresholdRule } from './threshold.js';
import type { Finding, Severity } from './types.js';

/**
 * Value of a ratio metric (failure rate = failed / total, delivery rate = delivered / sent).
 * An empty or missing denominator gives 0, never NaN or Infinity; `hasVolume` tells the caller
 * the 0 carries no information so no rule may alert on it.
 */
export interface RatioValue {
  value: number;
  numerator: number;
  denominator: number;
  hasVolume: boolean;
}

export function ratio(numerator: number, denominator: number): RatioValue {
  const num = Number.isFinite(numerator) ? numerator : 0;
  const den = Number.isFinite(denominator) ? denominator : 0;
  if (den <= 0) return { value: 0, numerator: num, denominator: den, hasVolume: false };
  return { value: num / den, numerator: num, denominator: den, hasVolume: true };
}

/** Ratio of sums over buckets, e.g. hourly failed and total counts of a day. */
export function ratioOfSums(numerators: readonly number[], denominators: readonly number[]): RatioValue {
  const sum = (xs: readonly number[]) => xs.reduce((acc, x) => acc + (Number.isFinite(x) ? x : 0), 0);
  return ratio(sum(numerators), sum(denominators));
}

/**
 * Wilson score interval of a proportion (failed / total, delivered / sent): where the true rate
 * lies with the confidence of `z` (1.96 for 95%). Unlike the raw ratio it knows that 2 failures
 * in 10 runs say much less than 200 in 1,000. No volume gives the whole [0, 1].
 */
export function wilsonInterval(successes: number, trials: number, z = 1.96): { lower: number; upper: number } {
  if (!(trials > 0) || !Number.isFinite(successes)) return { lower: 0, upper: 1 };
  const p = Math.min(1, Math.max(0, successes / trials));
  const z2 = z * z;
  const denominator = 1 + z2 / trials;
  const center = (p + z2 / (2 * trials)) / denominator;
  const half = (z * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials))) / denominator;
  return { lower: Math.max(0, center - half), upper: Math.min(1, center + half) };
}

export interface RatioRule extends ThresholdRule {
  /** Fewer than this in the denominator (runs, messages) says nothing: the rule keeps its state. */
  minDenominator?: number;
  /**
   * For proportions, judge the edge of the Wilson interval nearest to normal instead of the raw
   * ratio, with this z (1.96 = 95%): the alert needs evidence, not one unlucky hour. 0 judges the
   * raw ratio, as does any ratio whose numerator exceeds its denominator (an average rating).
   */
  confidenceZ?: number;
}

/**
 * Evaluate a ratio metric from its numerator and denominator sums. An empty or too small
 * denominator never alerts and never yields NaN: the previous severity is kept, so a quiet night
 * neither opens nor closes an alert. The finding reports the raw ratio as `observed`.
 */
export function evaluateRatio(rule: RatioRule, time: number, numerator: number, denominator: number, previous: Severity = 'healthy'): Finding {
  const r = ratio(numerator, denominator);
  const base = evaluateThreshold(rule, { time, value: r.value }, previous);
  if (!r.hasVolume || r.denominator < (rule.minDenominator ?? 1)) {
    return { ...base, severity: previous, score: 0 };
  }
  const z = rule.confidenceZ ?? 1.96;
  // An average (rating sum / review count) is not a proportion; a confidence interval of one would be nonsense.
  const proportion = r.numerator >= 0 && r.numerator <= r.denominator;
  if (z <= 0 || !proportion) return base;
  const { lower, upper } = wilsonInterval(r.numerator, r.denominator, z);
  const judged = evaluateThreshold(rule, { time, value: rule.direction === 'above' ? lower : upper }, previous);
  return { ...base, severity: judged.severity, bound: judged.bound, score: judged.score };
}
