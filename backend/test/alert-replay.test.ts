import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { EVALUATE_JOB } from '../src/anomalies/module.js';
import { runDemo } from '../src/demo/run.js';
import { startTestServer } from './support/server.js';

const PLUGIN_DIR = path.resolve(import.meta.dirname, '../../plugin');
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** The rules the provisioned Grafana rules read through their band (provisioning/alerting/rules.yaml). */
const BAND_RULES = ['workflow_failure_rate_high', 'delivery_rate_low', 'orders_unusual'];

/**
 * The demo history replayed hour by hour: after every complete hour the backend evaluates its
 * rules (the alert job at that tick) and the Go component answers each provisioned Grafana rule
 * that reads a band, with Grafana's expression semantics (alertreplay_test.go). Both must be in
 * breach in exactly the same hours, over hours that hold the demo's workflow failure and
 * delivery incidents of both organizations.
 */
test('each provisioned band rule and its backend rule are in breach in the same replayed hours of the demo', { timeout: 600_000 }, async () => {
  const server = await startTestServer('alert_replay', { REDIS_URL: undefined });
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'mh-replay-'));
  try {
    const now = Math.floor(Date.now() / HOUR) * HOUR;
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
    const hoursInBreach = [...breach.values()].flatMap((byRule) => Object.values(byRule).flat()).filter(Boolean).length;
    assert.ok(hoursInBreach > 0, 'the replayed hours hold incidents the backend rules catch');

    const result = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn('go', ['test', '-count=1', '-v', '-run', 'TestProvisionedBandRulesFireInTheHoursTheirBackendRulesDo', './pkg/plugin/'], {
        cwd: PLUGIN_DIR,
        env: { ...process.env, METRICSHUB_E2E_URL: server.baseUrl, METRICSHUB_REPLAY_FILE: replayFile },
      });
      let output = '';
      child.stdout.on('data', (chunk) => (output += chunk));
      child.stderr.on('data', (chunk) => (output += chunk));
      child.on('error', (error) => resolve({ code: -1, output: `cannot run go (install Go to run the plugin's tests): ${error.message}` }));
      child.on('close', (code) => resolve({ code, output }));
    });
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /--- PASS: TestProvisionedBandRulesFireInTheHoursTheirBackendRulesDo/);
    assert.doesNotMatch(result.output, /--- SKIP/);
  } finally {
    await server.stop();
    await fs.rm(directory, { recursive: true, force: true });
  }
});
