import type { ThresholdRuleConfig } from '../../backend/src/anomalies/rules.js';

/**
 * Where a KPI turns orange and red: the metric's threshold anomaly rule in the
 * catalog. KPI colours, graph limit lines, the provisioned Grafana alert rules
 * and the backend's own anomaly alerts all read the same numbers.
 */
export interface Severity {
  /** `above`: bad when the value rises past the limits; `below`: bad when it falls under them. */
  bad: 'above' | 'below';
  warning?: number;
  critical?: number;
  rule: ThresholdRuleConfig;
}

export function severityOf(rule: ThresholdRuleConfig): Severity {
  return { bad: rule.direction, warning: rule.warning, critical: rule.critical, rule };
}

/** Grafana threshold steps (ascending) for a severity: green, orange, red in the bad direction. */
export function thresholdSteps(severity: Severity): Array<{ value: number | null; color: string }> {
  const { warning, critical } = severity;
  if (severity.bad === 'above') {
    return [
      { value: null, color: 'green' },
      ...(warning !== undefined ? [{ value: warning, color: 'orange' }] : []),
      ...(critical !== undefined ? [{ value: critical, color: 'red' }] : []),
    ];
  }
  // Below: a value under `critical` is red, under `warning` orange; steps start at the lowest.
  const steps: Array<{ value: number | null; color: string }> = [{ value: null, color: critical !== undefined ? 'red' : 'orange' }];
  if (critical !== undefined && warning !== undefined) steps.push({ value: critical, color: 'orange' });
  steps.push({ value: warning ?? critical!, color: 'green' });
  return steps;
}
