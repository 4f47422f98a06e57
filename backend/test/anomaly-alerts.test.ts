import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { EVALUATE_JOB } from '../src/anomalies/module.js';
import { startTestServer, type TestServer } from './support/server.js';
import { workflowRuns } from './support/workflows.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

interface Annotation {
  time: number;
  timeEnd: number;
  title: string;
  text: string;
  tags: string[];
  state: string;
  severity: string;
  rule: string;
}

/** A tick in the current hour; rules judge complete hours, so test events go into the hour before it. */
function tickNow(): number {
  const now = Date.now();
  return Math.floor(now / MINUTE) * MINUTE;
}

/** Half past the last complete hour before `at`: inside the 3 h window of the rule at `at` and 10 minutes later. */
const lastCompleteHour = (at: number) => Math.floor(at / HOUR) * HOUR - 30 * MINUTE;

describe('anomaly rules, alert state and annotations', () => {
  // One tick for the whole suite: the tests follow one alert through its life, and a minute
  // boundary between two of them must not move their clocks apart.
  const start = tickNow();
  let server: TestServer;
  let key: string;
  let otherKey: string;
  before(async () => {
    server = await startTestServer('alerts', { REDIS_URL: undefined });
    key = await server.keyFor('acme');
    otherKey = await server.keyFor('globex');
  });
  after(() => server.stop());

  const evaluate = (at: number) => server.running.context.jobs!.runNow(EVALUATE_JOB, new Date(at));
  const get = async <T>(path: string, apiKey = key): Promise<T> => {
    const res = await server.request(path, { key: apiKey });
    assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`);
    return (await res.json()) as T;
  };

  test('20 runs with 12 failures in the last complete hour (60%, at least 39% at 95% confidence): pending, then firing after `for`, with a message and a recommendation', async () => {
    const at = start;
    const events = workflowRuns('wf', 20, 12, lastCompleteHour(at));
    const ingest = await server.request('/api/v1/events', { key, method: 'POST', json: { events } });
    assert.equal(((await ingest.json()) as { accepted: number }).accepted, 20);

    await evaluate(at);
    let alerts = (await get<{ alerts: Array<{ rule: string; state: string }> }>('/api/v1/alerts?state=active')).alerts;
    const pending = alerts.find((alert) => alert.rule === 'workflow_failure_rate_high');
    assert.equal(pending?.state, 'pending', 'for: 10m holds it pending first');

    await evaluate(at + 10 * MINUTE);
    const current = (await get<{ alerts: Array<{ rule: string; state: string; severity: string; message: string; recommendation: string }> }>('/api/v1/alerts')).alerts;
    const firing = current.find((alert) => alert.rule === 'workflow_failure_rate_high');
    assert.equal(firing?.state, 'firing');
    assert.equal(firing.severity, 'critical');
    assert.match(firing.message, /^Workflow failure rate 60% \(expected < 12%\)\.$/);
    assert.match(firing.recommendation, /Check the workflows with the most failures since \d\d:\d\d/);

    const summary = await get<{ alerts: Array<{ rule: string }> }>(`/api/v1/summary?from=${new Date(at - HOUR).toISOString()}&to=${new Date(at).toISOString()}&metrics=workflow_failure_rate`);
    assert.ok(summary.alerts.some((alert) => alert.rule === 'workflow_failure_rate_high'));

    // Another organization sees none of it.
    const theirs = await get<{ alerts: unknown[] }>('/api/v1/alerts?state=all', otherKey);
    assert.deepEqual(theirs.alerts, []);
  });

  test('a retried evaluation of the same tick, or two evaluators at once, record a transition once', async () => {
    const at = start + 20 * MINUTE;
    const before = await server.running.context.pool.query('SELECT count(*)::int AS n FROM alert_transitions');
    await Promise.all([evaluate(at), evaluate(at), evaluate(at)]);
    await evaluate(at);
    const afterwards = await server.running.context.pool.query('SELECT count(*)::int AS n FROM alert_transitions');
    // Still firing at the same severity: no new transition at all, whatever the retries.
    assert.equal(afterwards.rows[0].n, before.rows[0].n);
    const duplicates = await server.running.context.pool.query(
      'SELECT count(*)::int AS n FROM (SELECT 1 FROM alert_transitions GROUP BY organization_id, rule_id, series_key, evaluated_at, to_state HAVING count(*) > 1) d',
    );
    assert.equal(duplicates.rows[0].n, 0);
  });

  test('annotations for a range return exactly the transitions in it, firing ones spanning until resolved', async () => {
    const at = start;
    const all = await get<Annotation[]>(`/api/v1/annotations?from=${at - HOUR}&to=${at + 2 * HOUR}`);
    const mine = all.filter((annotation) => annotation.rule === 'workflow_failure_rate_high');
    assert.deepEqual(mine.map((annotation) => annotation.state), ['pending', 'firing']);
    assert.equal(mine[1]!.time, at + 10 * MINUTE);
    assert.ok(mine[1]!.tags.includes('critical') && mine[1]!.tags.includes('rule:workflow_failure_rate_high'));
    assert.match(mine[1]!.text, /60%/);

    const onlyPending = await get<Annotation[]>(`/api/v1/annotations?from=${at}&to=${at + 10 * MINUTE}&metric=workflow_failure_rate`);
    assert.deepEqual(onlyPending.map((annotation) => annotation.state), ['pending'], 'the firing transition at +10m is outside [from, to)');

    const bad = await server.request('/api/v1/annotations?from=yesterday&to=now', { key });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /^from: /);
  });

  test('the alert resolves after keepFiringFor once the rate is back to normal', async () => {
    const at = start;
    // Four hours later the 3 h window no longer holds the failed runs.
    const later = at + 4 * HOUR;
    await evaluate(later);
    await evaluate(later + 10 * MINUTE);
    const alerts = await get<{ alerts: Array<{ rule: string; state: string }> }>('/api/v1/alerts?state=all');
    assert.equal(alerts.alerts.find((alert) => alert.rule === 'workflow_failure_rate_high')?.state, 'normal');
    const annotations = await get<Annotation[]>(`/api/v1/annotations?from=${at}&to=${later + HOUR}&metric=workflow_failure_rate`);
    const firing = annotations.find((annotation) => annotation.state === 'firing')!;
    const resolved = annotations.find((annotation) => annotation.state === 'resolved')!;
    assert.equal(resolved.time, later + 10 * MINUTE);
    assert.equal(firing.timeEnd, resolved.time, 'the firing annotation spans until the resolve');
  });

  test('an empty denominator never alerts and never yields NaN', async () => {
    const key2 = await server.keyFor('quiet-co');
    const at = start;
    await evaluate(at);
    const alerts = await get<{ alerts: unknown[] }>('/api/v1/alerts?state=all', key2);
    assert.deepEqual(alerts.alerts, []);
    const nan = await server.running.context.pool.query("SELECT count(*)::int AS n FROM alert_states WHERE last_value = 'NaN'::float8 OR expected = 'NaN'::float8");
    assert.equal(nan.rows[0].n, 0);
  });

  test('after a quiet window clears a firing alert, a rate between the recovery and the firing bound does not keep it firing (as the Grafana rule on its band)', async () => {
    const hystKey = await server.keyFor('hysteresis-co');
    // Past ticks, in order, for an organization with no state yet: fire, a quiet window, then a rate in between.
    const fire = start - 6 * HOUR;
    const quiet = fire + 4 * HOUR;
    const between = fire + 5 * HOUR;
    // 12 of 20 failed (lower bound 0.39, over the 0.12 warning); later 10 of 50 (lower bound 0.112: under the warning,
    // over its 0.10 recovery bound, so a rule still judging from its firing state would keep it).
    const events = [...workflowRuns('fire', 20, 12, lastCompleteHour(fire)), ...workflowRuns('between', 50, 10, lastCompleteHour(between))];
    const res = await server.request('/api/v1/events', { key: hystKey, method: 'POST', json: { events } });
    assert.equal(res.status, 200, await res.clone().text());
    const state = async () => {
      const { rows } = await server.running.context.pool.query<{ state: string; severity: string }>(
        "SELECT s.state, s.severity FROM alert_states s JOIN organizations o ON o.id = s.organization_id WHERE o.name = 'hysteresis-co' AND s.rule_id = 'workflow_failure_rate_high'",
      );
      return rows[0];
    };
    await evaluate(fire);
    await evaluate(fire + 10 * MINUTE);
    assert.equal((await state())?.state, 'firing');
    await evaluate(quiet);
    assert.equal((await state())?.state, 'firing', 'kept firing through keepFiringFor after the quiet window');
    await evaluate(between);
    assert.deepEqual(await state(), { state: 'normal', severity: 'healthy' }, 'the rate in between is judged against the firing bound');
  });
});
