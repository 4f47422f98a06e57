/**
 * The demo's recorded incidents become alerts and annotations on first start:
 * the rules are evaluated hour by hour around each incident, through the same
 * evaluator and state machine as the scheduler.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RuleEvaluator } from '../src/anomalies/evaluator.js';
import { hourTicks } from '../src/anomalies/replay.js';
import { thresholdRuleSchema, type MetricRule } from '../src/anomalies/rules.js';
import { listTransitions } from '../src/anomalies/store.js';
import { loadConfig } from '../src/config/env.js';
import type { AppContext } from '../src/context.js';
import { migrateUp } from '../src/db/migrate.js';
import { incidentWindows, replayDemoAlerts, replayPlan, settleMs } from '../src/demo/alerts.js';
import type { Incident } from '../src/demo/incidents.js';
import { runDemo, type DemoResult } from '../src/demo/run.js';
import { createLogger } from '../src/logger.js';
import { createQueryModule } from '../src/query/module.js';
import { buildContext } from '../src/server.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Fixed, so the seeded demo data and its incidents are the same on every run. */
const NOW = new Date('2026-03-02T12:00:00Z');

let database: TestDatabase;
let context: AppContext;
let dataDir: string;
let demo: DemoResult;
let evaluator: RuleEvaluator;
let workflowRule: MetricRule;

before(async () => {
  database = await createTestDatabase('demo_alerts');
  await migrateUp(database.url, createLogger('silent'));
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mh-demo-alerts-'));
  context = await buildContext(loadConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'silent', DATA_DIR: dataDir }), createLogger('silent'), database.url);
  demo = await runDemo(context, { days: 14, now: NOW, progress: false });
  const query = await createQueryModule(context);
  evaluator = new RuleEvaluator(context.pool, query.service, context.logger);
  // A rule sized to the demo's few workflow runs an hour, so the test does not depend on how the catalog's rules are tuned.
  workflowRule = {
    metric: query.service.catalog.metric('workflow_failure_rate')!,
    rule: thresholdRuleSchema.parse({ id: 'demo_workflow_failures', type: 'threshold', direction: 'above', warning: 0.25, critical: 0.5, window: '3h', minVolume: 3, for: '0m', keepFiringFor: '1h' }),
  };
});

after(async () => {
  for (const hook of [...(context?.onClose ?? [])].reverse()) await hook();
  await database?.drop();
  await fs.rm(dataDir, { recursive: true, force: true });
});

function incidentOf(organization: string, kind: Incident['kind']): { start: number; end: number } {
  const found = demo.incidents.find((entry) => entry.organization === organization && entry.kind === kind)!;
  return { start: Date.parse(found.start), end: Date.parse(found.end) };
}

describe('demo alerts', () => {
  test('hour ticks cover every window once, in time order', () => {
    const t0 = Date.UTC(2026, 1, 1);
    assert.deepEqual(hourTicks([{ from: t0 + 2 * HOUR, to: t0 + 4 * HOUR }, { from: t0 + 30 * 60_000, to: t0 + 3 * HOUR }]), [1, 2, 3, 4].map((h) => t0 + h * HOUR));
  });

  test('only incidents of the organization that some rule watches are replayed', () => {
    const windows = incidentWindows(demo.incidents, 'acme-demo', new Set(['workflow_failure_rate']), 5 * HOUR);
    const workflow = incidentOf('acme-demo', 'workflow_failure_spike');
    assert.deepEqual(windows, [{ from: workflow.start - 2 * HOUR, to: workflow.end + 5 * HOUR }]);
    assert.deepEqual(incidentWindows(demo.incidents, 'acme-demo', new Set(['no_such_metric']), HOUR), []);
  });

  test('a replay never evaluates past now: the scheduler cannot have judged the future', () => {
    const workflow = incidentOf('acme-demo', 'workflow_failure_spike');
    const now = workflow.end + HOUR;
    const [window] = incidentWindows(demo.incidents, 'acme-demo', new Set(['workflow_failure_rate']), 30 * 24 * HOUR, now);
    assert.deepEqual(window, { from: workflow.start - 2 * HOUR, to: now });
    assert.deepEqual(incidentWindows(demo.incidents, 'acme-demo', new Set(['workflow_failure_rate']), HOUR, workflow.start - 3 * HOUR), [], 'an incident still to come is not replayed');
  });

  test('the hours after an incident cover the longest rule window and keepFiringFor, so its alert can resolve', () => {
    assert.equal(settleMs([workflowRule]), 3 * HOUR + HOUR + HOUR);
  });

  test('each rule is replayed only around incidents of its metric, settling for its own window', () => {
    const weekRule: MetricRule = { metric: workflowRule.metric, rule: thresholdRuleSchema.parse({ id: 'week', type: 'threshold', direction: 'above', warning: 0.25, window: '7d', keepFiringFor: '1d' }) };
    const unwatched: MetricRule = { metric: { ...workflowRule.metric, key: 'no_incident_metric' }, rule: workflowRule.rule };
    const plan = replayPlan([workflowRule, weekRule, unwatched], demo.incidents, 'acme-demo', NOW.getTime());
    const workflow = incidentOf('acme-demo', 'workflow_failure_spike');
    assert.deepEqual(plan.map(({ metricRule }) => metricRule.rule.id), ['demo_workflow_failures', 'week'], 'the rule of a metric without incidents is left to the scheduler');
    assert.deepEqual(plan[0]?.windows, [{ from: workflow.start - 2 * HOUR, to: Math.min(workflow.end + settleMs([workflowRule]), NOW.getTime()) }], 'the short rule does not inherit the week rule\'s settle time');
    assert.deepEqual(plan[1]?.windows, [{ from: workflow.start - 2 * HOUR, to: Math.min(workflow.end + 7 * DAY + DAY + HOUR, NOW.getTime()) }]);
  });

  test('the workflow failure incident fires inside its window and resolves after it, as annotations show it', async () => {
    const replayed = await replayDemoAlerts({ evaluator, rules: [workflowRule] }, demo, context.logger);
    assert.ok(replayed.transitions >= 2, `firing and resolved for the incidents (got ${replayed.transitions})`);

    for (const organization of demo.organizations) {
      const incident = incidentOf(organization.name, 'workflow_failure_spike');
      const rows = await listTransitions(context.pool, organization.id, { from: new Date(NOW.getTime() - 15 * DAY), to: NOW }, { limit: 100 });
      const firing = rows.find((row) => row.rule === 'demo_workflow_failures' && row.to === 'firing');
      assert.ok(firing, `${organization.name}: a firing alert (transitions: ${JSON.stringify(rows.map((row) => [row.to, row.at]))})`);
      const at = firing.at.getTime();
      assert.ok(at > incident.start && at <= incident.end, `${organization.name}: fired at ${firing.at.toISOString()}, inside the incident ${new Date(incident.start).toISOString()}..${new Date(incident.end).toISOString()}`);
      assert.ok(firing.endAt && firing.endAt.getTime() >= incident.end, `${organization.name}: resolved after the incident ended (at ${firing.endAt?.toISOString()})`);
    }

    const again = await replayDemoAlerts({ evaluator, rules: [workflowRule] }, demo, context.logger);
    assert.equal(again.transitions, 0, 'a second replay of the same hours records nothing twice');
  });
});
