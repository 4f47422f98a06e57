/**
 * What people try with curl first: Grafana's relative times in from/to, a body
 * without content-type, an empty `{}`. Each either works or says what to send.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseRelativeTime } from '../src/query/relative-time.js';
import { startTestServer, type TestServer } from './support/server.js';

const NOW = new Date('2026-03-18T14:37:21.500Z'); // a Wednesday
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('Grafana relative times', () => {
  const at = (text: string) => parseRelativeTime(text, NOW)?.toISOString();

  test('now, now-Nunit and now+Nunit shift from the current time', () => {
    assert.equal(at('now'), NOW.toISOString());
    assert.equal(at('now-1h'), new Date(NOW.getTime() - HOUR).toISOString());
    assert.equal(at('now-7d'), new Date(NOW.getTime() - 7 * DAY).toISOString());
    assert.equal(at('now+30m'), new Date(NOW.getTime() + 30 * 60_000).toISOString());
    assert.equal(at('now-2w'), new Date(NOW.getTime() - 14 * DAY).toISOString());
    assert.equal(at('now-1M'), '2026-02-18T14:37:21.500Z');
    assert.equal(at('now-1y'), '2025-03-18T14:37:21.500Z');
  });

  test('/unit rounds down to the start of the unit, in UTC (weeks start on Monday)', () => {
    assert.equal(at('now/d'), '2026-03-18T00:00:00.000Z');
    assert.equal(at('now-1d/d'), '2026-03-17T00:00:00.000Z');
    assert.equal(at('now/h'), '2026-03-18T14:00:00.000Z');
    assert.equal(at('now/w'), '2026-03-16T00:00:00.000Z');
    assert.equal(at('now/M'), '2026-03-01T00:00:00.000Z');
  });

  test('anything else is not a relative time', () => {
    for (const text of ['', 'now-', 'now-7', 'now-7x', 'nowish', 'now - 7d', 'yesterday', '2026-03-18']) assert.equal(at(text), undefined, text);
  });
});

describe('the HTTP API on curl-style input', () => {
  let server: TestServer;
  let key: string;
  before(async () => {
    server = await startTestServer('http_input_help');
    key = await server.keyFor('curl-user');
    const occurredAt = new Date(Date.now() - 30 * 60_000).toISOString();
    const ingest = await server.request('/api/v1/events', { method: 'POST', key, json: { events: [{ id: 'o-1', type: 'order.created', occurredAt, value: 12 }] } });
    assert.equal(ingest.status, 200);
  });
  after(async () => {
    await server.stop();
  });

  test('a query body sent without content-type gets a 400 that says to send JSON with content-type: application/json', async () => {
    const res = await server.request('/api/v1/query', { method: 'POST', key, body: '{"from":"now-7d","to":"now","queries":[{"refId":"A","metric":"orders_created"}]}' });
    assert.equal(res.status, 400);
    const { error } = (await res.json()) as { error: string };
    assert.match(error, /JSON object sent with the header content-type: application\/json/);
    assert.match(error, /"from":"now-7d"/, 'with an example of a valid body');
  });

  test('an empty {} names the first missing field and what it takes', async () => {
    const res = await server.request('/api/v1/query', { method: 'POST', key, json: {} });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: string; field: string };
    assert.equal(body.field, 'from');
    assert.match(body.error, /^from: required: an ISO-8601 time .*epoch milliseconds.*now-7d/);

    const noQueries = await server.request('/api/v1/query', { method: 'POST', key, json: { from: 'now-7d', to: 'now' } });
    assert.equal(noQueries.status, 400);
    assert.match(((await noQueries.json()) as { error: string }).error, /^queries: required: a list of queries, e\.g\. \[\{"refId":"A","metric":"orders_created"\}\]/);
  });

  test('a time in no known form is refused with the forms it could take', async () => {
    const res = await server.request('/api/v1/query', { method: 'POST', key, json: { from: 'yesterday', to: 'now', queries: [{ refId: 'A', metric: 'orders_created' }] } });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { error: string }).error, /^from: must be an ISO-8601 time .* or a Grafana relative time such as now, now-1h, now-7d/);
  });

  test('from=now-7d&to=now works on /query, /annotations and /export.csv', async () => {
    const query = await server.request('/api/v1/query', {
      method: 'POST',
      key,
      json: { from: 'now-7d', to: 'now', intervalMs: DAY, queries: [{ refId: 'A', metric: 'orders_created', aggregation: 'count', format: 'kpi' }] },
    });
    assert.equal(query.status, 200);
    const result = ((await query.json()) as { results: { A: { status: number; frames: Array<{ data: { values: unknown[][] } }> } } }).results.A;
    assert.equal(result.status, 200);
    assert.equal(result.frames[0]!.data.values[0]![0], 1, 'the order of 30 minutes ago is inside now-7d..now');

    const annotations = await server.request('/api/v1/annotations?from=now-7d&to=now', { key });
    assert.equal(annotations.status, 200);
    assert.deepEqual(await annotations.json(), []);

    const csv = await server.request('/api/v1/export.csv?from=now-1d&to=now&metric=orders_created&aggregation=count', { key });
    assert.equal(csv.status, 200);
    assert.match(await csv.text(), /\n.*,1(\r?\n|$)/);
  });
});
