import { z } from 'zod';
import { thresholdSeverity } from '../anomalies/detectors/threshold.js';
import type { Severity } from '../anomalies/detectors/types.js';
import type { CatalogMetric } from '../catalog/schema.js';

export type { Severity };
export type Trend = 'up' | 'down' | 'flat';

/**
 * Severity of a KPI value; `volume` is a ratio's denominator over the same
 * range. The anomaly engine may supply a richer one (see QueryHooks).
 */
export type SeverityFor = (metric: CatalogMetric, value: number | null, volume?: number) => Severity;

const thresholdRuleSchema = z.object({
  type: z.literal('threshold'),
  direction: z.enum(['above', 'below']),
  warning: z.number().optional(),
  critical: z.number().optional(),
  hysteresis: z.number().optional(),
  minVolume: z.number().optional(),
});

/**
 * The worst severity any static threshold rule of the metric gives the value;
 * healthy without rules or value. A rule whose minVolume the denominator does
 * not reach says nothing, as it does for alerts (1 failure in 2 runs is no trend).
 */
export const severityFor: SeverityFor = (metric, value, volume) => {
  if (value === null) return 'healthy';
  let worst: Severity = 'healthy';
  for (const rule of metric.rules) {
    const threshold = thresholdRuleSchema.safeParse(rule);
    if (!threshold.success) continue;
    if (volume !== undefined && volume < (threshold.data.minVolume ?? 0)) continue;
    const severity = thresholdSeverity(threshold.data, value);
    if (severity === 'critical') return severity;
    if (severity === 'warning') worst = severity;
  }
  return worst;
};

/** Change vs. the previous period in percent; null when the previous period had nothing to compare with. */
export function deltaPercent(value: number | null, previous: number | null): number | null {
  if (value === null || previous === null) return null;
  if (previous === 0) return value === 0 ? 0 : null;
  return ((value - previous) / Math.abs(previous)) * 100;
}

/** Below 1% of change a KPI reads as flat. */
export function trendOf(value: number | null, previous: number | null): Trend {
  if (value === null || previous === null || value === previous) return 'flat';
  const delta = deltaPercent(value, previous);
  if (delta !== null && Math.abs(delta) < 1) return 'flat';
  return value > previous ? 'up' : 'down';
}
