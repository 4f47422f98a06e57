import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { wilsonInterval } from '../src/anomalies/detectors/index.js';
import { EVALUATE_JOB } from '../src/anomalies/module.js';
import { clearOfBoundary } from './support/clock.js';
import { column, type QueryResult as Result } from './support/frames.js';
import { startTestServer, type TestServer } from './support/server.js';
import { workflowRuns } from './support/workflows.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

describe('the band query option: what a rule judges, next to the series', () => {
  let server: TestServer;
  let key: string;
  let now: number;
  let hour: number;

  before(async () => {
    // The file asserts on "the partial current hour": it must not become a complete one mid-run; and the current
    // hour's runs, written up to 10 s before now, must all fall in it (right after the hour some fell in the one before).
    await clearOfBoundary(HOUR, 3 * MINUTE, 15_000);
    now = Date.now();
    hour = Math.floor(now / HOUR) * HOUR;
    server = await startTestServer('band', { REDIS_URL: undefined });
    key = await server.keyFor('band-co');
    // Three hours back 1 of 10 runs failed, two hours back 6 of 10, the last complete hour had
    // none at all, and the current (partial) hour fails every run.
    const events = [
      ...workflowRuns('h3', 10, 1, hour - 3 * HOUR + 30 * MINUTE),
      ...workflowRuns('h2', 10, 6, hour - 2 * HOUR + 30 * MINUTE),
      ...workflowRuns('h0', 10, 10, Math.min(now - 1000, hour + 20_000)),
      // 48 quiet hours of 10 orders each, then one hour of 60.
      ...Array.from({ length: 49 * 10 }, (_, n) => {
        const h = Math.floor(n / 10);
        return { id: `o${n}`, type: 'order.created', occurredAt: new Date(hour - (50 - h) * HOUR + (n % 10) * MINUTE).toISOString(), value: 1, attributes: { channel: 'web' } };
      }),
      ...Array.from({ length: 60 }, (_, n) => ({ id: `spike${n}`, type: 'order.created', occurredAt: new Date(hour - HOUR + (n % 50) * MINUTE).toISOString(), value: 1, attributes: { channel: 'web' } })),
    ];
    const res = await server.request('/api/v1/events', { key, method: 'POST', json: { events } });
    assert.equal(res.status, 200, await res.clone().text());
  });
  after(() => server.stop());

  const query = async (extra: Record<string, unknown>, from = hour - 5 * HOUR): Promise<Result> => {
    const res = await server.request('/api/v1/query', { key, method: 'POST', json: { from, to: hour + HOUR, intervalMs: HOUR, queries: [{ refId: 'A', ...extra }] } });
    assert.equal(res.status, 200);
    return ((await res.json()) as { results: Record<string, Result> }).results.A!;
  };

  test('a ratio rule gives the Wilson bounds over its 3 h window at its confidence; empty and partial hours are null', async () => {
    const result = await query({ metric: 'workflow_failure_rate', band: 'workflow_failure_rate_high' });
    assert.equal(result.status, 200, result.error);
    const [frame] = result.frames;
    assert.deepEqual(frame!.schema.fields.map((field) => field.name), ['time', 'value', 'lower', 'upper']);
    const value = column(frame!, 'value');
    const lower = column(frame!, 'lower');
    const upper = column(frame!, 'upper');
    // Buckets: hour-5h .. hour (the current one last).
    assert.deepEqual(value, [null, null, 0.1, 0.6, null, 1], 'an hour without runs has no rate');
    // The last complete hour's window (3 h) holds 7 failures in 20 runs.
    const expected = wilsonInterval(7, 20, 1.96);
    assert.ok(Math.abs(lower[4]! - expected.lower) < 1e-12 && Math.abs(upper[4]! - expected.upper) < 1e-12);
    assert.equal(lower[5], null, 'the partial current hour is not judged');
    assert.equal(lower[1], null, 'a window with fewer runs than minVolume is not judged');
  });

  test('the backend rule and a Grafana threshold on `lower` breach in the same hours', async () => {
    const result = await query({ metric: 'workflow_failure_rate', band: 'workflow_failure_rate_high' });
    const [frame] = result.frames;
    const times = column(frame!, 'time');
    const lower = column(frame!, 'lower');
    for (let index = 0; index < times.length - 1; index++) {
      // The rule evaluated one minute after the bucket is complete, as the scheduler would.
      const at = times[index]! + HOUR + MINUTE;
      await server.running.context.jobs!.runNow(EVALUATE_JOB, new Date(at));
      const { rows } = await server.running.context.pool.query("SELECT severity FROM alert_states WHERE rule_id = 'workflow_failure_rate_high' AND last_evaluated_at = $1", [new Date(at)]);
      const backend = rows[0]?.severity !== undefined && rows[0].severity !== 'healthy';
      const grafana = lower[index] !== null && lower[index]! >= 0.12;
      assert.equal(grafana, backend, `hour ${new Date(times[index]!).toISOString()}: Grafana ${grafana}, backend ${backend}`);
    }
  });

  test('a baseline rule gives expected value, band and score; the spike hour scores above 0.5', async () => {
    const result = await query({ metric: 'orders_created', band: 'orders_unusual' }, hour - 20 * HOUR);
    assert.equal(result.status, 200, result.error);
    const [frame] = result.frames;
    assert.deepEqual(frame!.schema.fields.map((field) => field.name), ['time', 'value', 'expected', 'lower', 'upper', 'score']);
    const score = column(frame!, 'score');
    const expected = column(frame!, 'expected');
    const n = score.length;
    assert.equal(score[n - 1], null, 'the partial current hour is not judged');
    assert.ok(score[n - 2]! > 0.5, `spike hour score ${score[n - 2]}`);
    assert.ok(Math.abs(expected[n - 2]! - 10) < 1, `expected ${expected[n - 2]}`);
    assert.ok(score[n - 3]! < 0.5, `quiet hour score ${score[n - 3]}`);
    assert.ok(column(frame!, 'lower')[n - 2]! < 10 && column(frame!, 'upper')[n - 2]! > 10 && column(frame!, 'upper')[n - 2]! < 60);
  });

  test('a band from a rule of another metric, or on daily buckets for an hourly rule, is a per-query 400 naming the problem', async () => {
    const other = await query({ metric: 'orders_created', band: 'workflow_failure_rate_high' });
    assert.equal(other.status, 400);
    assert.match(other.error!, /band: rule 'workflow_failure_rate_high' is not a rule of metric 'orders_created'; rules with a band on 'orders_created': orders_unusual/);
    const res = await server.request('/api/v1/query', { key, method: 'POST', json: { from: hour - 10 * 24 * HOUR, to: hour, intervalMs: 24 * HOUR, queries: [{ refId: 'A', metric: 'orders_created', band: 'orders_unusual' }] } });
    const daily = ((await res.json()) as { results: Record<string, Result> }).results.A!;
    assert.equal(daily.status, 400);
    assert.match(daily.error!, /judges 1 h buckets but this query has 24 h buckets/);
  });
});
