import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from './support/server.js';

/** Workflow health as the automation layer had it: runs, success and failure rates, p95 duration; firing alerts by severity. */

let server: TestServer;
let key: string;
let organizationId: string;
const FROM = '2026-02-01T00:00:00Z';
const TO = '2026-02-02T00:00:00Z';
const DURATIONS = [100, 200, 300, 400, 500, 600, 700, 800, 5000, 9000];
const STATUSES = ['SUCCESS', 'SUCCESS', 'SUCCESS', 'SUCCESS', 'SUCCESS', 'SUCCESS', 'SUCCESS', 'FAILED_SAFETY_LIMIT', 'FAILED', 'SUCCESS'];

before(async () => {
  server = await startTestServer('workflow_health');
  key = await server.keyFor('acme');
  organizationId = (await server.running.context.pool.query<{ id: string }>("SELECT id FROM organizations WHERE name = 'acme'")).rows[0]!.id;
  const events = DURATIONS.map((value, index) => ({ id: `wf-${index}`, type: 'workflow.finished', occurredAt: `2026-02-01T0${index}:10:00Z`, value, attributes: { status: STATUSES[index] } }));
  const response = await server.request('/api/v1/events', { method: 'POST', key, json: { events } });
  assert.equal(response.status, 200);
});

after(async () => {
  await server?.stop();
});

describe('workflow health', () => {
  test('runs, success and failure rates, and p95 duration over a range', async () => {
    const metrics = { runs: ['workflows_total', 'sum'], success: ['workflow_success_rate', 'rate'], failure: ['workflow_failure_rate', 'rate'], p95: ['workflow_duration_ms', 'p95'] };
    const response = await server.request('/api/v1/query', {
      method: 'POST',
      key,
      json: { from: FROM, to: TO, queries: Object.entries(metrics).map(([refId, [metric, aggregation]]) => ({ refId, metric, aggregation, format: 'kpi' })) },
    });
    const { results } = (await response.json()) as { results: Record<string, { status: number; error?: string; frames: Array<{ data: { values: unknown[][] } }> }> };
    const value = (refId: string) => results[refId]!.frames[0]!.data.values[0]![0] as number;
    for (const refId of Object.keys(metrics)) assert.equal(results[refId]!.status, 200, results[refId]!.error);
    assert.equal(value('runs'), 10);
    assert.equal(value('success'), 0.8);
    assert.equal(value('failure'), 0.2);
    // The rollups' sketch answers the run at rank floor(0.95 * (n - 1)) of the sorted durations, within its 2 % accuracy.
    const sorted = [...DURATIONS].sort((a, b) => a - b);
    const expected = sorted[Math.floor(0.95 * (sorted.length - 1))]!;
    assert.ok(Math.abs(value('p95') - expected) / expected < 0.02, `p95 ${value('p95')} vs ${expected}`);
  });

  test('systemHealth in the summary counts firing alerts by severity', async () => {
    const insert = (rule: string, state: string, severity: string) =>
      server.running.context.pool.query(
        `INSERT INTO alert_states (organization_id, rule_id, series_key, metric, state, severity, state_since, last_evaluated_at, message)
         VALUES ($1, $2, '{}', 'workflow_failure_rate', $3, $4, now(), now(), 'test')`,
        [organizationId, rule, state, severity],
      );
    await insert('r_critical_1', 'firing', 'critical');
    await insert('r_critical_2', 'firing', 'critical');
    await insert('r_warning', 'firing', 'warning');
    await insert('r_pending', 'pending', 'critical');
    const response = await server.request(`/api/v1/summary?metrics=workflows_total`, { key });
    assert.equal(response.status, 200);
    const summary = (await response.json()) as { systemHealth: { alerts: Record<string, number> } };
    assert.deepEqual(summary.systemHealth.alerts, { critical: 2, warning: 1, total: 3 });
  });
});
