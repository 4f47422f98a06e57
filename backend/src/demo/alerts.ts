import type { AnomalyModule } from '../anomalies/module.js';
import { replayRules, type ReplayWindow } from '../anomalies/replay.js';
import type { Logger } from '../logger.js';
import type { Incident } from './incidents.js';
import type { DemoResult } from './run.js';

const HOUR_MS = 3_600_000;
/** Hours evaluated before an incident (the alert starts from normal) and after it (so it can resolve). */
const BEFORE_HOURS = 2;
const AFTER_HOURS = 3;

/** The windows around the organization's incidents that some catalog rule watches. */
export function incidentWindows(incidents: Incident[], organization: string, watched: Set<string>): ReplayWindow[] {
  return incidents
    .filter((incident) => incident.organization === organization && incident.metrics.some((metric) => watched.has(metric)))
    .map((incident) => ({ from: Date.parse(incident.start) - BEFORE_HOURS * HOUR_MS, to: Date.parse(incident.end) + AFTER_HOURS * HOUR_MS }));
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
    const windows = incidentWindows(demo.incidents, organization.name, watched);
    const summary = await replayRules(anomalies.evaluator, anomalies.rules, organization.id, windows);
    transitions += summary.transitions;
    logger.info({ organization: organization.name, ticks: summary.ticks, transitions: summary.transitions, elapsedMs: summary.elapsedMs }, 'demo alerts replayed');
  }
  return { transitions, elapsedMs: Math.round(performance.now() - started) };
}
