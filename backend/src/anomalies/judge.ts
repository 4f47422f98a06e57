/**
 * What a catalog rule judges, as pure functions of the numbers it reads. The alert evaluator,
 * the band query (`band` on /api/v1/query) and the business benchmark all call these, so the
 * rule that is measured is the rule that alerts and the rule that Grafana sees.
 */
import type { CatalogMetric } from '../catalog/schema.js';
import { evaluateRatio, evaluateThreshold, historyPoints, wilsonInterval, type BaselineOptions, type Finding, type Severity } from './detectors/index.js';
import type { BaselineRuleConfig, ThresholdRuleConfig } from './rules.js';

/** The detector settings of a baseline rule (alert rules never use stream-scoring options). */
export function baselineOptionsOf(rule: BaselineRuleConfig): BaselineOptions {
  return {
    intervalMs: rule.bucket,
    seasons: rule.seasons,
    direction: rule.direction,
    warningZ: rule.warningZ,
    criticalZ: rule.criticalZ,
    minVolume: rule.minVolume,
    transform: rule.transform,
    runBuckets: rule.runBuckets,
  };
}

/** How far before the judged bucket a baseline rule reads, in milliseconds. */
export const baselineHistoryMs = (rule: BaselineRuleConfig): number => historyPoints(rule.bucket, rule.seasons) * rule.bucket;

/**
 * A metric over a threshold rule's window; for ratios also the sums behind the rate, for
 * distributions (percentiles) the number of values.
 */
export interface WindowTotals {
  value: number | null;
  numerator?: number;
  denominator?: number;
  count?: number;
}

/** Whether a threshold rule needs the ratio's numerator and denominator, not only its rate. */
export const needsParts = (metric: CatalogMetric, rule: ThresholdRuleConfig): boolean => metric.kind === 'ratio' && (rule.minVolume > 0 || rule.confidence > 0);

/**
 * Whether a threshold rule needs how many values its value was computed from: a p95 of two
 * responses says nothing, nor does an average rating of one review. Distributions, and metrics
 * judged as an average that can also count their values.
 */
export const needsCount = (metric: CatalogMetric, rule: ThresholdRuleConfig): boolean =>
  rule.minVolume > 0 && (metric.kind === 'distribution' || (metric.defaultAggregation === 'avg' && metric.aggregations.includes('count')));

/**
 * A threshold rule on its window's totals. Null when there is nothing to judge: no value, or
 * less volume than `minVolume` (a ratio's denominator, the number of values of a distribution or average), so a
 * quiet hour neither opens nor keeps an alert.
 */
export function judgeThreshold(metric: CatalogMetric, rule: ThresholdRuleConfig, at: number, totals: WindowTotals, previous: Severity): Finding | null {
  if (totals.value === null || !Number.isFinite(totals.value)) return null;
  if (needsParts(metric, rule) && (totals.denominator ?? 0) < rule.minVolume) return null;
  if (needsCount(metric, rule) && (totals.count ?? 0) < rule.minVolume) return null;
  if (metric.kind === 'ratio' && rule.confidence > 0) {
    return evaluateRatio({ ...rule, confidenceZ: rule.confidence, minDenominator: Math.max(1, rule.minVolume) }, at, totals.numerator ?? 0, totals.denominator ?? 0, previous);
  }
  return evaluateThreshold(rule, { time: at, value: totals.value }, previous);
}

/**
 * The interval a ratio rule judges: Wilson bounds at the rule's confidence (the raw rate on both
 * sides when the rule has none), null without volume. A rule `below` alerts when `upper` is under
 * its bound, a rule `above` when `lower` is over it.
 */
export function ratioBounds(rule: ThresholdRuleConfig, numerator: number, denominator: number): { lower: number; upper: number } | null {
  if (!(denominator > 0) || denominator < rule.minVolume) return null;
  if (rule.confidence > 0 && numerator >= 0 && numerator <= denominator) return wilsonInterval(numerator, denominator, rule.confidence);
  const rate = numerator / denominator;
  return { lower: rate, upper: rate };
}
