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
 * The demo's history was never seen by the scheduler, so its incidents would not
 * show as alerts or annotations. This evaluates the catalog's rules hour by hour
 * around each recorded incident that a rule watches, as the scheduler would have
 * then. Only around incidents: every hour of 90 days would take minutes.
 */
export async function replayDemoAlerts(anomalies: Pick<AnomalyModule, 'evaluator' | 'rules'>, demo: DemoResult, logger: Logger): Promise<{ transitions: number; elapsedMs: number }> {
  const started = performance.now();
  const watched = new Set(anomalies.rules.map(({ metric }) => metric.key));
  let transitions = 0;
  for (const organization of demo.organizations.filter((one) => one.generated)) {
    const windows = incidentWindows(demo.incidents, organization.name, watched, settleMs(anomalies.rules));
    const summary = await replayRules(anomalies.evaluator, anomalies.rules, organization.id, windows);
    transitions += summary.transitions;
    logger.info({ organization: organization.name, ticks: summary.ticks, transitions: summary.transitions, elapsedMs: summary.elapsedMs }, 'demo alerts replayed');
  }
  return { transitions, elapsedMs: Math.round(performance.now() - started) };
}
