import type { RuleEvaluator } from './evaluator.js';
import type { MetricRule } from './rules.js';

const HOUR_MS = 3_600_000;

export interface ReplayWindow {
  from: number;
  to: number;
}

export interface ReplaySummary {
  ticks: number;
  transitions: number;
  elapsedMs: number;
}

/** Hour ticks covering the windows, each once, in time order. */
export function hourTicks(windows: ReplayWindow[]): number[] {
  const ticks = new Set<number>();
  for (const { from, to } of windows) {
    for (let at = Math.ceil(from / HOUR_MS) * HOUR_MS; at <= to; at += HOUR_MS) ticks.add(at);
  }
  return [...ticks].sort((a, b) => a - b);
}

/**
 * Evaluates the rules for one organization at every hour of the windows, in time
 * order, through the same evaluator and state machine as the scheduler, so the
 * alerts and transitions of past data end up in PostgreSQL as if the scheduler had
 * been running then. Must run before the scheduler's first tick: the store skips
 * ticks older than a series' last evaluation.
 */
export async function replayRules(evaluator: RuleEvaluator, rules: MetricRule[], organizationId: string, windows: ReplayWindow[]): Promise<ReplaySummary> {
  const started = performance.now();
  const ticks = hourTicks(windows);
  let transitions = 0;
  for (const at of ticks) {
    for (const rule of rules) transitions += (await evaluator.evaluate(organizationId, rule, at)).transitions;
  }
  return { ticks: ticks.length, transitions, elapsedMs: Math.round(performance.now() - started) };
}
