import type { AnomalyModule } from '../anomalies/module.js';
import { replayRules, type ReplayWindow } from '../anomalies/replay.js';
import type { MetricRule } from '../anomalies/rules.js';
import type { Logger } from '../logger.js';
import type { Incident } from './incidents.js';
import type { DemoResult } from './run.js';

const HOUR_MS = 3_600_000;
/** Evaluated before an incident, so its alert starts from normal. */
const BEFORE_MS = 2 * HOUR_MS;

/**
 * How long after an incident the rules still need evaluating for its alert to
 * resolve: the longest trailing window a rule judges, plus its keepFiringFor, plus an hour.
 */
export function settleMs(rules: MetricRule[]): number {
  const longest = Math.max(0, ...rules.map(({ rule }) => (rule.type === 'baseline' ? rule.bucket : rule.window) + rule.keepFiringFor));
  return longest + HOUR_MS;
}

/**
 * The windows around the organization's incidents that some catalog rule watches,
 * never past `now`: the scheduler cannot have evaluated the future, and an alert
 * stamped with a time to come would be wrong (it stays firing until the scheduler resolves it).
 */
export function incidentWindows(incidents: Incident[], organization: string, watched: Set<string>, afterMs: number, now = Date.now()): ReplayWindow[] {
  return incidents
    .filter((incident) => incident.organization === organization && incident.metrics.some((metric) => watched.has(metric)))
    .map((incident) => ({ from: Date.parse(incident.start) - BEFORE_MS, to: Math.min(Date.parse(incident.end) + afterMs, now) }))
    .filter((window) => window.from < window.to);
}

/**
 * Each rule with the windows it must be evaluated over: around the incidents in the
 * metric it watches, settling for its own window only. A rule of a metric without
 * incidents is left to the scheduler.
 */
export function replayPlan(rules: MetricRule[], incidents: Incident[], organization: string, now = Date.now()): { metricRule: MetricRule; windows: ReplayWindow[] }[] {
  return rules
    .map((metricRule) => ({ metricRule, windows: incidentWindows(incidents, organization, new Set([metricRule.metric.key]), settleMs([metricRule]), now) }))
    .filter(({ windows }) => windows.length > 0);
}

/**
 * The demo's history was never seen by the scheduler, so its incidents would not
 * show as alerts or annotations. This evaluates each catalog rule hour by hour
 * around the recorded incidents in the metric it watches, as the scheduler would
 * have then. Only around incidents, and each rule only for as long as it needs to
 * settle: every rule over every hour of 90 days would take minutes.
 */
export async function replayDemoAlerts(anomalies: Pick<AnomalyModule, 'evaluator' | 'rules'>, demo: DemoResult, logger: Logger): Promise<{ transitions: number; elapsedMs: number }> {
  const started = performance.now();
  let transitions = 0;
  for (const organization of demo.organizations.filter((one) => one.generated)) {
    let ticks = 0;
    let organizationTransitions = 0;
    for (const { metricRule, windows } of replayPlan(anomalies.rules, demo.incidents, organization.name)) {
      const summary = await replayRules(anomalies.evaluator, [metricRule], organization.id, windows);
      ticks += summary.ticks;
      organizationTransitions += summary.transitions;
    }
    transitions += organizationTransitions;
    logger.info({ organization: organization.name, ticks, transitions: organizationTransitions }, 'demo alerts replayed');
  }
  return { transitions, elapsedMs: Math.round(performance.now() - started) };
}
