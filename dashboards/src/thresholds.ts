/**
 * Where a KPI turns orange and red. The KPI colours of the dashboards and the
 * provisioned alert rules read the same numbers, so a red stat and a firing
 * alert always mean the same thing.
 */
export interface Severity {
  /** `above`: bad when the value rises past the limits; `below`: bad when it falls under them. */
  bad: 'above' | 'below';
  warning: number;
  critical: number;
}

export const SEVERITY: Record<string, Severity> = {
  workflow_failure_rate: { bad: 'above', warning: 0.1, critical: 0.2 },
  payment_success_rate: { bad: 'below', warning: 0.95, critical: 0.9 },
  delivery_rate: { bad: 'below', warning: 0.95, critical: 0.9 },
  bot_error_rate: { bad: 'above', warning: 0.05, critical: 0.1 },
  /** p95 of bot_response_time_ms, in milliseconds. */
  bot_response_time_ms: { bad: 'above', warning: 1500, critical: 3000 },
};

/** Grafana threshold steps (ascending) for a severity: green, orange, red in the bad direction. */
export function thresholdSteps(severity: Severity): Array<{ value: number | null; color: string }> {
  return severity.bad === 'above'
    ? [
        { value: null, color: 'green' },
        { value: severity.warning, color: 'orange' },
        { value: severity.critical, color: 'red' },
      ]
    : [
        { value: null, color: 'red' },
        { value: severity.critical, color: 'orange' },
        { value: severity.warning, color: 'green' },
      ];
}
