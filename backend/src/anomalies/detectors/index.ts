/**
 * Anomaly detection core: pure functions and one streaming detector, no I/O. The evaluator,
 * the `detect` CLI and the benchmarks all go through these exports.
 */
export type { Direction, Finding, Point, RuleType, Severity } from './types.js';
export { SEVERITY_RANK } from './types.js';
export { evaluateThreshold, thresholdSeverity, validateThresholdRule, type ThresholdRule } from './threshold.js';
export { deltaPercent, evaluateChange, validateChangeRule, type ChangeRule } from './change.js';
export {
  BaselineDetector,
  evaluateBaseline,
  historyPoints,
  judgedHistoryPoints,
  replay,
  seasonLengths,
  STREAM_SCORING,
  zToScore,
  type BaselineFinding,
  type BaselineModel,
  type BaselineOptions,
} from './baseline.js';
export { evaluateRatio, ratio, ratioOfSums, wilsonInterval, type RatioRule, type RatioValue } from './ratio.js';
export { MAD_TO_SIGMA, mad, median, robustStats, type RobustStats } from './robust.js';
export { describeFinding, formatValue, type FindingText, type MessageContext, type MetricDisplay } from './messages.js';
