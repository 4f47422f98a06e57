import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { EVALUATE_JOB } from '../src/anomalies/module.js';
import { runDemo } from '../src/demo/run.js';
import { runGoTest } from './support/go-test.js';
import { startTestServer } from './support/server.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** The rules the provisioned Grafana rules read through their band (provisioning/alerting/rules.yaml). */
const BAND_RULES = ['workflow_failure_rate_high', 'delivery_rate_low', 'orders_unusual'];

/** How far back a `now` drawn at random may lie: a week of hours, so every hour of the day and day of the week comes up. */
const RANDOM_NOW_HOURS = 7 * 24;

/**
 * The demo's `now`: ALERT_REPLAY_NOW (an ISO time on the hour, e.g. 2026-11-30T09:00:00Z) replays
 * a given run; without it an hour drawn at random from the last week, so runs keep covering
 * different data (the demo's incidents and noise depend on it). Every failure message names it.
 */
function replayNow(): number {
  const given = process.env.ALERT_REPLAY_NOW;
  if (given === undefined || given === '') return (Math.floor(Date.now() / HOUR) - Math.floor(Math.random() * RANDOM_NOW_HOURS)) * HOUR;
  const now = Date.parse(given);
  if (!Number.isFinite(now) || now % HOUR !== 0 || now > Date.now()) {
    throw new Error(`ALERT_REPLAY_NOW='${given}': give an ISO time on the hour and not in the future, e.g. 2026-11-30T09:00:00Z`);
  }
  return now;
}

/**
 * The demo history replayed hour by hour: after every complete hour the backend evaluates its
 * rules (the alert job at that tick) and the Go component answers each provisioned Grafana rule
 * that reads a band, with Grafana's expression semantics (alertreplay_test.go). Both must be in
 * breach in exactly the same hours, over hours that hold the demo's workflow failure and
 * delivery incidents of both organizations.
 */
test('each provisioned band rule and its backend rule are in breach in the same replayed hours of the demo', { timeout: 600_000 }, async () => {
  // No wall-clock evaluations: the scheduler's own tick (every minute by default) would evaluate the
  // rules at the real time in the middle of the replay, and the store then skips every replayed tick
  // older than that state, so the backend would seem to miss the hours after it (a flake that
  // depended on when the timer fired). A day never comes during the replay.
  const server = await startTestServer('alert_replay', { REDIS_URL: undefined, ALERT_EVALUATION_INTERVAL_SECONDS: String(24 * 60 * 60) });
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'mh-replay-'));
  try {
    const now = replayNow();
    const replay = `replay with ALERT_REPLAY_NOW=${new Date(now).toISOString()}`;
    console.log(`alert replay: demo now ${new Date(now).toISOString()} (${replay})`);
    const demo = await runDemo(server.running.context, { days: 21, now: new Date(now), progress: false });
    const incidents = demo.incidents.filter((incident) => incident.kind === 'workflow_failure_spike' || incident.kind === 'delivery_rate_drop');
    const first = Math.min(...incidents.map((incident) => Date.parse(incident.start))) - 6 * HOUR;
    const last = Math.min(now, Math.max(...incidents.map((incident) => Date.parse(incident.end))) + 12 * HOUR);
    // One tick a minute after every hour: the backend judges the hour just completed.
    const ticks: number[] = [];
    for (let hour = first; hour <= last; hour += HOUR) ticks.push(hour + MINUTE);

    const breach = new Map(demo.organizations.map((org) => [org.id, Object.fromEntries(BAND_RULES.map((rule) => [rule, [] as boolean[]]))]));
    for (const at of ticks) {
      await server.running.context.jobs!.runNow(EVALUATE_JOB, new Date(at));
      // In breach at this tick: not healthy, and not an alert kept firing through `keepFiringFor` while already clear.
      const { rows } = await server.running.context.pool.query<{ organization_id: string; rule_id: string; severity: string }>(
        'SELECT organization_id, rule_id, severity FROM alert_states WHERE rule_id = ANY($1) AND last_evaluated_at = $2 AND clear_since IS NULL',
        [BAND_RULES, new Date(at)],
      );
      for (const [organization, byRule] of breach) {
        for (const rule of BAND_RULES) {
          byRule[rule]!.push(rows.some((row) => row.organization_id === organization && row.rule_id === rule && row.severity !== 'healthy'));
        }
      }
    }
    const replayFile = path.join(directory, 'replay.json');
    await fs.writeFile(
      replayFile,
      JSON.stringify({ ticks, organizations: demo.organizations.map((org) => ({ name: org.name, key: org.apiKey, breach: breach.get(org.id) })) }),
    );
    // Every state the backend holds comes from a replayed tick, none from a wall-clock evaluation.
    const stamps = await server.running.context.pool.query<{ at: Date }>('SELECT DISTINCT last_evaluated_at AS at FROM alert_states');
    const foreign = stamps.rows.map((row) => row.at.getTime()).filter((at) => !ticks.includes(at));
    assert.deepEqual(foreign.map((at) => new Date(at).toISOString()), [], `alert states evaluated outside the replayed ticks (${replay})`);
    const hoursInBreach = [...breach.values()].flatMap((byRule) => Object.values(byRule).flat()).filter(Boolean).length;
    assert.ok(hoursInBreach > 0, `the replayed hours hold incidents the backend rules catch (${replay})`);

    const result = await runGoTest('TestProvisionedBandRulesFireInTheHoursTheirBackendRulesDo', { METRICSHUB_E2E_URL: server.baseUrl, METRICSHUB_REPLAY_FILE: replayFile });
    assert.equal(result.code, 0, `${replay}\n${result.output}`);
    assert.match(result.output, /--- PASS: TestProvisionedBandRulesFireInTheHoursTheirBackendRulesDo/, replay);
    assert.doesNotMatch(result.output, /--- SKIP/, replay);
  } finally {
    await server.stop();
    await fs.rm(directory, { recursive: true, force: true });
  }
});
