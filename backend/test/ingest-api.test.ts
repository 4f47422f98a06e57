import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import parsePrometheus from 'parse-prometheus-text-format';
import { loadConfig } from '../src/config/env.js';
import { createLogger } from '../src/logger.js';
import { startServer } from '../src/server.js';
import { requireRedisUrl } from './support/databases.js';
import { startTestServer, type TestServer } from './support/server.js';

const LIMIT = 50;

/** Recent times: the server checks occurredAt against its real clock. */
const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();

function orders(prefix: string, n: number, value = 10) {
  return Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${i}`, type: 'order.created', occurredAt: minutesAgo(1 + (i % 30)), value, attributes: { channel: i % 2 ? 'web' : 'pos' } }));
}

describe('POST /api/v1/events', () => {
  let server: TestServer;
  let keyA = '';
  let keyB = '';
  let orgA = '';
  let orgB = '';

  const post = (key: string, json: unknown) => server.request('/api/v1/events', { method: 'POST', key, json });
  const totals = async (organizationId: string) => {
    const { rows } = await server.running.context.pool.query<{ count: number; sum: number }>(
      `SELECT coalesce(sum(count), 0)::int AS count, coalesce(sum(sum), 0) AS sum FROM rollups_daily WHERE organization_id = $1`,
      [organizationId],
    );
    return rows[0]!;
  };
  const orgOf = async (key: string) => ((await (await server.request('/api/v1/whoami', { key })).json()) as { organization: { id: string } }).organization.id;

  before(async () => {
    server = await startTestServer('ingest_api', { REDIS_URL: requireRedisUrl(), INGEST_MAX_EVENTS: String(LIMIT), MAX_BODY_BYTES: '20000' });
    keyA = await server.keyFor('ingest-a');
    keyB = await server.keyFor('ingest-b');
    orgA = await orgOf(keyA);
    orgB = await orgOf(keyB);
  });
  after(async () => {
    await server?.stop();
  });

  test('stores a batch and answers accepted, duplicates and rejected with index and reason', async () => {
    const events = [
      { id: 'p-1', type: 'payment.succeeded', occurredAt: minutesAgo(5), value: 99.5, attributes: { market: 'de' } },
      { id: 'p-2', type: 'payment.failed', occurredAt: 'last tuesday', attributes: { market: 'de' } },
      { id: 'p-3', type: 'payment.succeeded', occurredAt: minutesAgo(4), value: 0.5 },
    ];
    const response = await post(keyB, { events });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), {
      accepted: 2,
      duplicates: 0,
      rejected: [{ index: 1, error: 'occurredAt: not an ISO-8601 time with a time zone (e.g. "2026-02-01T10:15:00Z")' }],
    });
    const again = await post(keyB, { events });
    assert.deepEqual(await again.json(), { accepted: 0, duplicates: 2, rejected: [{ index: 1, error: 'occurredAt: not an ISO-8601 time with a time zone (e.g. "2026-02-01T10:15:00Z")' }] });
    assert.deepEqual(await totals(orgB), { count: 2, sum: 100 });
  });

  test('a missing occurredAt is rejected as required, a malformed one as malformed, and the rest of the batch is stored', async () => {
    const before = await totals(orgB);
    const events = [
      { id: 't-1', type: 'payment.succeeded', value: 1 },
      { id: 't-2', type: 'payment.succeeded', occurredAt: 1767225600000, value: 1 },
      { id: 't-3', type: 'payment.succeeded', occurredAt: minutesAgo(3), value: 1 },
    ];
    const response = await post(keyB, { events });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), {
      accepted: 1,
      duplicates: 0,
      rejected: [
        { index: 0, error: 'occurredAt: required: an ISO-8601 time with a time zone (e.g. "2026-02-01T10:15:00Z")' },
        { index: 1, error: 'occurredAt: not an ISO-8601 time with a time zone (e.g. "2026-02-01T10:15:00Z")' },
      ],
    });
    assert.deepEqual(await totals(orgB), { count: before.count + 1, sum: before.sum + 1 });
  });

  test('the organization comes from the API key, never from the body', async () => {
    const before = await totals(orgB);
    const response = await post(keyA, { organizationId: orgB, events: orders('a-own', 3).map((e) => ({ ...e, organizationId: orgB })) });
    assert.equal(response.status, 200);
    assert.deepEqual(await totals(orgB), before);
    assert.deepEqual(await totals(orgA), { count: 3, sum: 30 });
  });

  test('a body that is not JSON, or has no events array, gets 400 with the reason', async () => {
    const notJson = await server.request('/api/v1/events', { method: 'POST', key: keyA, headers: { 'content-type': 'application/json' }, body: '{"events": [' });
    assert.equal(notJson.status, 400);
    assert.deepEqual(await notJson.json(), { error: 'request body is not valid JSON' });

    const noEvents = await post(keyA, { event: [] });
    assert.equal(noEvents.status, 400);
    assert.deepEqual(await noEvents.json(), { error: 'events: required: an array of events', field: 'events' });

    const notArray = await post(keyA, { events: { id: 'x' } });
    assert.equal(notArray.status, 400);

    const plainText = await server.request('/api/v1/events', { method: 'POST', key: keyA, headers: { 'content-type': 'text/plain' }, body: 'hello' });
    assert.equal(plainText.status, 400);
    assert.match(((await plainText.json()) as { error: string }).error, /JSON object \{"events": \[\.\.\.\]\}/);
  });

  test('a batch over the event limit or the byte limit gets 413 and stores nothing', async () => {
    const before = await totals(orgA);
    const tooMany = await post(keyA, { events: orders('too-many', LIMIT + 1) });
    assert.equal(tooMany.status, 413);
    assert.deepEqual(await tooMany.json(), { error: `batch has ${LIMIT + 1} events; the limit is ${LIMIT} per request (split it into smaller batches)`, field: 'events' });

    const tooBig = await post(keyA, { events: orders('too-big', 5).map((e) => ({ ...e, attributes: { note: 'x'.repeat(5_000) } })) });
    assert.equal(tooBig.status, 413);
    assert.match(((await tooBig.json()) as { error: string }).error, /larger than the limit of 20000 bytes/);
    assert.deepEqual(await totals(orgA), before);
  });

  test('without an API key nothing is stored', async () => {
    const response = await server.request('/api/v1/events', { method: 'POST', json: { events: orders('anon', 1) } });
    assert.equal(response.status, 401);
  });

  test("a batch that stores something bumps the organization's cache version once; a replay does not", async () => {
    const versions = server.running.context.cacheVersions;
    const v0 = await versions.current(orgA);
    const events = orders('bump', 10);
    await post(keyA, { events });
    const v1 = await versions.current(orgA);
    assert.equal(Number(v1), Number(v0) + 1);
    await post(keyA, { events });
    assert.equal(await versions.current(orgA), v1);
  });

  test('two servers on one database receiving overlapping batches concurrently count every event once', async () => {
    const other = await startServer(
      loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', DATABASE_URL: server.database.url }),
      createLogger('silent'),
    );
    const keyC = await server.keyFor('ingest-c');
    const orgC = await orgOf(keyC);
    const events = orders('race', 200, 2.5);
    try {
      const send = (baseUrl: string, batch: unknown[]) =>
        fetch(`${baseUrl}/api/v1/events`, { method: 'POST', headers: { authorization: `Bearer ${keyC}`, 'content-type': 'application/json' }, body: JSON.stringify({ events: batch }) }).then(
          async (r) => (await r.json()) as { accepted: number; duplicates: number },
        );
      const results = await Promise.all(
        [0, 30, 60, 90, 120, 150].flatMap((start) => [
          send(server.baseUrl, events.slice(start, start + LIMIT)),
          send(`http://127.0.0.1:${other.port}`, events.slice(start, start + LIMIT).reverse()),
        ]),
      );
      assert.equal(results.reduce((sum, r) => sum + r.accepted, 0), 200);
    } finally {
      await other.close();
    }
    assert.deepEqual(await totals(orgC), { count: 200, sum: 500 });
  });

  test('GET /metrics counts events by type and outcome and times batches, without organization labels', async () => {
    await post(keyA, { events: [...orders('metrics', 2), { id: 'custom-1', type: 'invoice.paid', occurredAt: minutesAgo(1), value: 1 }, { id: 'bad', type: 'order.created' }] });
    await post(keyA, { events: orders('metrics', 1) });
    const families = parsePrometheus(await (await server.request('/metrics')).text()) as Array<{ name: string; metrics: Array<{ labels?: Record<string, string>; value?: string }> }>;
    const events = families.find((f) => f.name === 'metricshub_ingest_events_total');
    assert.ok(events, 'metricshub_ingest_events_total is exposed');
    const value = (type: string, outcome: string) => Number(events.metrics.find((m) => m.labels?.type === type && m.labels?.outcome === outcome)?.value ?? 0);
    assert.ok(value('order.created', 'accepted') >= 2);
    assert.ok(value('order.created', 'duplicate') >= 1);
    assert.ok(value('order.created', 'rejected') >= 1);
    assert.equal(value('custom', 'accepted'), 1);
    for (const metric of events.metrics) assert.deepEqual(Object.keys(metric.labels ?? {}).sort(), ['outcome', 'type']);
    assert.ok(families.some((f) => f.name === 'metricshub_ingest_batch_duration_seconds'));
  });
});
