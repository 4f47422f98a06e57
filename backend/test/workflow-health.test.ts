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
  const events = DURATIONS.map((value, index) => ({
    id: `wf-${index}`,
    type: 'workflow.finished',
    occurredAt: `2026-02-01T0${index}:10:00Z`,
    value,
    attributes: { status: STATUSES[index], workflowId: `flow-${index}`, ...(STATUSES[index] !== 'SUCCESS' && { error: `error of run ${index}` }) },
  }));
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

  test('the recent failures list: the newest failed runs with workflow id, status, error message and time, of the key organization only', async () => {
    const other = await server.keyFor('globex');
    const foreign = { id: 'foreign', type: 'workflow.finished', occurredAt: '2026-02-01T09:30:00Z', value: 1, attributes: { status: 'FAILED', workflowId: 'not-yours', error: 'secret' } };
    assert.equal((await server.request('/api/v1/events', { method: 'POST', key: other, json: { events: [foreign] } })).status, 200);
    const list = async (query: Record<string, unknown>) => {
      const response = await server.request('/api/v1/query', { method: 'POST', key, json: { from: FROM, to: TO, queries: [{ refId: 'F', metric: 'workflows_failed', format: 'list', ...query }] } });
      const { results } = (await response.json()) as { results: { F: { status: number; error?: string; frames: Array<{ schema: { fields: Array<{ name: string }> }; data: { values: unknown[][] } }> } } };
      assert.equal(results.F.status, 200, results.F.error);
      const frame = results.F.frames[0]!;
      const names = frame.schema.fields.map((field) => field.name);
      return { names, rows: frame.data.values[0]!.map((_, row) => Object.fromEntries(names.map((name, column) => [name, frame.data.values[column]![row]]))) };
    };
    const { names, rows } = await list({ limit: 20 });
    // The catalog's list columns of workflows_failed, as the dashboard panel shows them.
    for (const column of ['time', 'workflowId', 'status', 'error']) assert.ok(names.includes(column), `column ${column} in ${names.join(', ')}`);
    assert.deepEqual(
      rows.map((row) => [new Date(row.time as number).toISOString(), row.workflowId, row.status, row.error]),
      [
        ['2026-02-01T08:10:00.000Z', 'flow-8', 'FAILED', 'error of run 8'],
        ['2026-02-01T07:10:00.000Z', 'flow-7', 'FAILED_SAFETY_LIMIT', 'error of run 7'],
      ],
    );
    assert.equal((await list({ limit: 1 })).rows.length, 1);
  });

  test('workflowId and error must be strings: a bad one is rejected alone, naming the field', async () => {
    const response = await server.request('/api/v1/events', {
      method: 'POST',
      key,
      json: { events: [{ id: 'wf-bad', type: 'workflow.finished', occurredAt: '2026-02-01T10:00:00Z', value: 5, attributes: { status: 'FAILED', workflowId: 42 } }] },
    });
    const body = (await response.json()) as { accepted: number; rejected: Array<{ index: number; error: string }> };
    assert.equal(body.accepted, 0);
    assert.match(body.rejected[0]!.error, /attributes\.workflowId: must be a string/);
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
