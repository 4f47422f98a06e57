import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadRules, type MetricRule } from '../src/anomalies/rules.js';
import { RuleEvaluator } from '../src/anomalies/evaluator.js';
import { emptyRows, generateHour, type DemoEvent } from '../src/demo/generate.js';
import { planIncidents, type Incident } from '../src/demo/incidents.js';
import { Random } from '../src/demo/random.js';
import { demoUuid, insertModuleRows } from '../src/demo/run.js';
import { communicationsSchemaOf, createBusinessTables, createCommunicationsTables } from '../src/demo/schema.js';
import { setModuleUserId } from '../src/organizations/settings.js';
import { createQueryModule } from '../src/query/module.js';
import type { QueryService } from '../src/query/service.js';
import { startTestServer, type TestServer } from './support/server.js';

/**
 * The business anomaly rules of the default catalog (revenue spike, expense
 * spike, billable-hours drop, rating drop) on the demo's module rows: they fire
 * during the injected incidents and stay quiet the week before them.
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const DAYS = 60;
const NOW = Date.UTC(2026, 2, 2, 12);
const RANGE_START = NOW - DAYS * DAY;

let server: TestServer;
let service: QueryService;
let evaluator: RuleEvaluator;
let rules: MetricRule[];
let organizationId: string;
let incidents: Incident[];

before(async () => {
  server = await startTestServer('business_rules');
  const { pool } = server.running.context;
  await server.keyFor('acme-demo');
  organizationId = (await pool.query<{ id: string }>("SELECT id FROM organizations WHERE name = 'acme-demo'")).rows[0]!.id;
  const target = { moduleUserId: demoUuid('module-user:acme-demo'), communicationsSchema: communicationsSchemaOf('acme') };
  await createBusinessTables(pool);
  await createCommunicationsTables(pool, target.communicationsSchema);
  await setModuleUserId(pool, 'acme-demo', target.moduleUserId);
  // The demo's own generator, module rows only (events are not what these rules read).
  const plan = { name: 'acme-demo', slug: 'acme', scale: 1, incidents: planIncidents('acme-demo', RANGE_START, NOW, 0) };
  incidents = plan.incidents;
  const random = new Random(42_000);
  for (let day = 0; day < DAYS; day += 1) {
    const events: DemoEvent[] = [];
    const rows = emptyRows();
    for (let hour = 0; hour < 24; hour += 1) {
      const index = day * 24 + hour;
      generateHour({ plan, random, hourStart: RANGE_START + index * HOUR, rangeStart: RANGE_START, now: NOW, index }, events, rows);
    }
    await insertModuleRows(pool, target, rows);
  }
  service = (await createQueryModule(server.running.context)).service;
  evaluator = new RuleEvaluator(pool, service, server.running.context.logger);
  rules = loadRules(service.catalog);
});

after(async () => {
  await server?.stop();
});

async function severityAt(ruleId: string, at: number): Promise<string> {
  const rule = rules.find((entry) => entry.rule.id === ruleId);
  assert.ok(rule, `rule ${ruleId} is in the default catalog`);
  const findings = await evaluator.findings(organizationId, rule, at, new Map());
  const severities = [...findings.values()].map((entry) => entry.finding.severity);
  return severities.includes('critical') ? 'critical' : severities.includes('warning') ? 'warning' : 'healthy';
}

/** Days (as evaluation times at the end of each day) of an incident, and of the week before it. */
function days(kind: Incident['kind']): { during: number[]; before: number[] } {
  const incident = incidents.find((entry) => entry.kind === kind)!;
  const start = Date.parse(incident.start);
  const end = Date.parse(incident.end);
  const during: number[] = [];
  for (let at = start + DAY; at <= end; at += DAY) during.push(at);
  const beforeDays = Array.from({ length: 7 }, (_, index) => start - index * DAY);
  return { during, before: beforeDays };
}

describe('business anomaly rules in the default catalog', () => {
  test('each is on by default, with its own recommendation', () => {
    for (const id of ['revenue_spike', 'expense_spike', 'billable_hours_drop', 'rating_drop']) {
      const rule = rules.find((entry) => entry.rule.id === id);
      assert.ok(rule, id);
      assert.ok((rule.rule.recommendation ?? '').length > 20, `${id} recommends something`);
    }
  });

  for (const [kind, ruleId] of [['revenue_spike', 'revenue_spike'], ['billable_hours_drop', 'billable_hours_drop'], ['rating_drop', 'rating_drop']] as const) {
    test(`${ruleId} fires during the demo's ${kind} and is quiet the week before`, async () => {
      const { during, before: quiet } = days(kind);
      const fired = await Promise.all(during.map((at) => severityAt(ruleId, at)));
      assert.ok(fired.some((severity) => severity !== 'healthy'), `${ruleId} during the incident: ${fired.join(', ')}`);
      const calm = await Promise.all(quiet.map((at) => severityAt(ruleId, at)));
      assert.deepEqual(calm, quiet.map(() => 'healthy'), `${ruleId} the week before`);
    });
  }

  test('expense_spike fires on a day of expenses far above the same weekday, and not otherwise', async () => {
    const day = Math.floor((NOW - 3 * DAY) / DAY) * DAY;
    assert.equal(await severityAt('expense_spike', day + DAY), 'healthy');
    await server.running.context.pool.query(
      "INSERT INTO demo_modules.transactions (user_id, amount, type, category, description, date) VALUES ($1, 25000, 'expense', 'software', 'annual licence', $2)",
      [demoUuid('module-user:acme-demo'), new Date(day + 10 * HOUR)],
    );
    await server.running.context.cacheVersions.bump(organizationId);
    assert.notEqual(await severityAt('expense_spike', day + DAY), 'healthy');
  });
});
