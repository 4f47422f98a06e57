/**
 * One tenant must not starve the others (issue 23): answer budgets, fair
 * admission, live streams, and client errors that stay the client's. Against
 * the real service on real PostgreSQL and Redis.
 */
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../src/logger.js';
import { Admission, AdmissionRefused } from '../src/http/admission.js';
import { LiveHub } from '../src/live/hub.js';
import { liveMetrics, readLiveCounters } from '../src/live/counters.js';
import { SourceError } from '../src/sources/errors.js';
import { DEFAULT_CATALOG_FILE, loadCatalog } from '../src/catalog/load.js';
import { ADAPTER_TYPES } from '../src/sources/adapters/index.js';
import { SourceRegistry } from '../src/sources/registry.js';
import { redisUrlForTest } from './support/databases.js';
import { startTestServer, type TestServer } from './support/server.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
// Two days back on a whole day: inside retention, never in the future.
const T0 = Math.floor(Date.now() / DAY) * DAY - 2 * DAY;
const CHANNELS = ['web', 'mobile', 'pos', 'phone', 'email', 'partner', 'kiosk', 'api'];

interface Answer {
  results: Record<string, { status: number; error?: string; frames: Array<{ data: { values: unknown[][] } }> }>;
}

const orders = CHANNELS.map((channel, index) => ({ id: `o-${channel}`, type: 'order.created', occurredAt: new Date(T0 + index * HOUR).toISOString(), value: 10, attributes: { channel } }));

const timeseries = (extra: Record<string, unknown>, query: Record<string, unknown> = {}) => ({
  from: new Date(T0).toISOString(),
  to: new Date(T0 + DAY).toISOString(),
  ...extra,
  queries: [{ refId: 'A', metric: 'orders_created', ...query }],
});

describe('answer budgets', () => {
  let server: TestServer;
  let key: string;
  before(async () => {
    server = await startTestServer('budget', { REDIS_URL: redisUrlForTest(13), QUERY_MAX_SERIES: '5', QUERY_MAX_CELLS: '200', EXPORT_MAX_ROWS: '20' });
    key = await server.keyFor('acme');
    const ingest = await server.request('/api/v1/events', { key, method: 'POST', json: { events: orders } });
    assert.equal(ingest.status, 200);
  });
  after(() => server.stop());

  const query = async (body: unknown) => {
    const res = await server.request('/api/v1/query', { key, method: 'POST', json: body });
    assert.equal(res.status, 200);
    return (await res.json()) as Answer;
  };

  test('a group-by over more series than QUERY_MAX_SERIES is a 422 for that query only, naming the limit and a filter', async () => {
    const body = timeseries({ intervalMs: DAY });
    body.queries = [
      { refId: 'A', metric: 'orders_created', groupBy: ['channel'], format: 'table' },
      { refId: 'B', metric: 'orders_created', format: 'kpi' },
    ] as never;
    const { results } = await query(body);
    assert.equal(results.A!.status, 422);
    assert.match(results.A!.error!, /more than 5 series.*QUERY_MAX_SERIES.*filter/);
    assert.equal(results.B!.status, 200);
    // Narrowed as the message says, it answers.
    const narrowed = await query(timeseries({ intervalMs: DAY }, { groupBy: ['channel'], format: 'table', filters: [{ dimension: 'channel', op: 'in', value: ['web', 'pos'] }] }));
    assert.equal(narrowed.results.A!.status, 200);
    assert.deepEqual(narrowed.results.A!.frames[0]!.data.values, [['pos', 'web'], [1, 1]]);
  });

  test('more cells than QUERY_MAX_CELLS is refused before reading, with the interval that would fit', async () => {
    const wide = { from: new Date(T0 - 20 * DAY).toISOString(), to: new Date(T0 + DAY).toISOString(), intervalMs: 1, maxDataPoints: 100_000 };
    const { results } = await query({ ...wide, queries: [{ refId: 'A', metric: 'orders_created' }] });
    assert.equal(results.A!.status, 422);
    const hint = /QUERY_MAX_CELLS.*intervalMs >= (\d+)/.exec(results.A!.error!);
    assert.ok(hint, results.A!.error);
    const fitted = await query({ ...wide, intervalMs: Number(hint[1]), queries: [{ refId: 'A', metric: 'orders_created' }] });
    assert.equal(fitted.results.A!.status, 200);
    const total = (fitted.results.A!.frames[0]!.data.values[1] as number[]).reduce((a, b) => a + b, 0);
    assert.equal(total, CHANNELS.length);
  });

  test('the previous period counts against the cells, and queries share one request budget', async () => {
    const hourly = (refId: string) => ({ refId, metric: 'orders_created', compareToPrevious: true });
    const { results } = await query({ ...timeseries({ intervalMs: HOUR }), queries: [hourly('A'), hourly('B'), hourly('C'), hourly('D'), hourly('E')] });
    // 2 x 24 cells per query: four fit in 200, the fifth does not.
    assert.deepEqual(Object.values(results).map((r) => r.status), [200, 200, 200, 200, 422]);
    assert.match(results.E!.error!, /QUERY_MAX_CELLS/);
  });

  test('an answer served whole from the cache counts its series against the request budget as its cold answer did', async () => {
    const byChannel = (refId: string) => ({ refId, metric: 'orders_created', groupBy: ['channel'], filters: [{ dimension: 'channel', op: 'in', value: ['web', 'pos', 'api'] }] });
    const body = { ...timeseries({ intervalMs: HOUR }), queries: [byChannel('A'), byChannel('B'), { refId: 'C', metric: 'orders_created', compareToPrevious: true }, { refId: 'D', metric: 'orders_created' }] };
    // 3 x 24 + 3 x 24 + 2 x 24 = 192 of 200 cells: D's 24 do not fit, whether A and B are computed or stored.
    for (const round of ['cold', 'stored']) {
      const { results } = await query(body);
      assert.deepEqual(Object.values(results).map((r) => r.status), [200, 200, 200, 422], round);
      assert.match(results.D!.error!, /QUERY_MAX_CELLS/);
      assert.equal((results.A!.frames[0] as unknown as { schema: { meta: { custom: { cached: boolean } } } }).schema.meta.custom.cached, round === 'stored');
    }
  });

  test('bytes per response are held to QUERY_MAX_RESPONSE_BYTES', async () => {
    const small = await startTestServer('budget-bytes', { REDIS_URL: redisUrlForTest(13), QUERY_MAX_RESPONSE_BYTES: '4000' });
    try {
      const smallKey = await small.keyFor('acme');
      assert.equal((await small.request('/api/v1/events', { key: smallKey, method: 'POST', json: { events: orders } })).status, 200);
      const day = (refId: string) => ({ refId, metric: 'orders_created', groupBy: ['channel'], filters: [{ dimension: 'channel', op: 'in', value: ['web', 'pos', 'api'] }] });
      const res = await small.request('/api/v1/query', { key: smallKey, method: 'POST', json: { ...timeseries({ intervalMs: HOUR }), queries: [day('A'), day('B')] } });
      const { results } = (await res.json()) as Answer;
      assert.equal(results.A!.status, 200);
      assert.equal(results.A!.frames.length, 3);
      assert.equal(results.B!.status, 422);
      assert.match(results.B!.error!, /QUERY_MAX_RESPONSE_BYTES/);
    } finally {
      await small.stop();
    }
  });

  test('export.csv over EXPORT_MAX_ROWS is refused before the first row, with how to narrow it', async () => {
    const params = (intervalMs: number) => `from=${new Date(T0).toISOString()}&to=${new Date(T0 + DAY).toISOString()}&metric=orders_created&intervalMs=${intervalMs}`;
    const over = await server.request(`/api/v1/export.csv?${params(HOUR)}`, { key });
    assert.equal(over.status, 422);
    assert.match(((await over.json()) as { error: string }).error, /24 rows.*EXPORT_MAX_ROWS.*coarser interval/);
    const fits = await server.request(`/api/v1/export.csv?${params(4 * HOUR)}`, { key });
    assert.equal(fits.status, 200);
    assert.equal((await fits.text()).trim().split('\n').length, 1 + 6);
  });
});

describe('client errors stay the client’s', () => {
  let server: TestServer;
  let key: string;
  before(async () => {
    server = await startTestServer('client-errors', { REDIS_URL: redisUrlForTest(14), INGEST_MAX_ATTRIBUTES: '3', METRICS_TOKEN: 'metrics-token-for-tests' });
    key = await server.keyFor('acme');
  });
  after(() => server.stop());

  const post = (path: string, json: unknown) => server.request(path, { key, method: 'POST', json });
  const errorOf = async (res: Response) => ((await res.json()) as { error: string; field?: string });

  test('a time outside the representable range, a NUL byte or invalid UTF-8 is a 400 naming the field', async () => {
    const far = await post('/api/v1/query', { from: '0200-01-01T00:00:00Z', to: '2026-01-01T00:00:00Z', queries: [{ refId: 'A', metric: 'orders_created' }] });
    assert.equal(far.status, 400);
    assert.match((await errorOf(far)).error, /^from: must be between 1900-01-01 and 9999-12-31/);

    const nul = await post('/api/v1/query', { ...timeseries({}), queries: [{ refId: 'A', metric: 'orders_created', filters: [{ dimension: 'channel', op: 'eq', value: 'we\u0000b' }] }] });
    assert.equal(nul.status, 400);
    assert.deepEqual(await errorOf(nul), { error: 'queries[0].filters[0].value: contains a NUL character or an unpaired surrogate, which cannot be stored or compared', field: 'queries[0].filters[0].value' });

    const exported = await server.request(`/api/v1/export.csv?from=${new Date(T0).toISOString()}&to=${new Date(T0 + DAY).toISOString()}&metric=orders_created&groupBy=channel%00`, { key });
    assert.equal(exported.status, 400);

    const latin1 = Buffer.concat([Buffer.from('{"from":"2026-01-01T00:00:00Z","to":"2026-01-02T00:00:00Z","queries":[{"refId":"'), Buffer.from([0xe9]), Buffer.from('","metric":"orders_created"}]}')]);
    const invalid = await server.request('/api/v1/query', { key, method: 'POST', headers: { 'content-type': 'application/json' }, body: latin1 });
    assert.equal(invalid.status, 400);
    assert.match((await errorOf(invalid)).error, /not valid UTF-8/);

    const interval = await post('/api/v1/query', { ...timeseries({ intervalMs: 1e300 }) });
    assert.equal(interval.status, 400);
    assert.match((await errorOf(interval)).error, /^intervalMs: must be at most/);
  });

  test('a body that does not match its Content-Encoding is 400, a matching one is read', async () => {
    const body = JSON.stringify({ events: [{ id: 'gz-1', type: 'order.created', occurredAt: new Date(T0).toISOString() }] });
    const broken = await server.request('/api/v1/events', { key, method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body });
    assert.equal(broken.status, 400);
    assert.match((await errorOf(broken)).error, /Content-Encoding \(gzip\)/);
    const good = await server.request('/api/v1/events', { key, method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipSync(body) });
    assert.equal(good.status, 200);
    assert.equal(((await good.json()) as { accepted: number }).accepted, 1);
  });

  test('a question PostgreSQL refuses for its values is a 400 and never becomes the shared source’s error', async () => {
    // What validation keeps out of the API, sent straight to the source: PostgreSQL itself refuses the time.
    const catalog = loadCatalog(DEFAULT_CATALOG_FILE);
    const registry = await SourceRegistry.create(catalog, server.running.context, ADAPTER_TYPES);
    try {
      const { organization } = (await (await server.request('/api/v1/whoami', { key })).json()) as { organization: { id: string } };
      const question = { organizationId: organization.id, metric: catalog.metric('orders_created')!, aggregation: 'count' as const, groupBy: [], filters: [], from: new Date(-8e15), to: new Date(T0), bucketMs: DAY };
      const failure = await registry.query('events', question).then(
        () => assert.fail('PostgreSQL accepted a time 250,000 years ago'),
        (error: unknown) => error,
      );
      assert.ok(failure instanceof SourceError);
      assert.equal(failure.status, 400);
      assert.equal(registry.status().find((source) => source.id === 'events')!.lastError, null);
    } finally {
      await registry.close();
    }
    const shown = (await (await server.request('/api/v1/catalog', { key })).json()) as { sources: Array<{ id: string; lastError: string | null }> };
    assert.equal(shown.sources.find((source) => source.id === 'events')!.lastError, null);
    const metrics = await (await server.request('/metrics', { headers: { authorization: 'Bearer metrics-token-for-tests' } })).text();
    assert.doesNotMatch(metrics, /metricshub_source_errors_total\{source="events"/);
  });

  test('an unstorable attribute key, a case variant of a built-in type and too many attributes are rejected by index', async () => {
    const at = new Date(T0).toISOString();
    const res = await server.request('/api/v1/events', {
      key,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"events":[
        {"id":"ok-1","type":"order.created","occurredAt":"${at}"},
        {"id":"proto","type":"order.created","occurredAt":"${at}","attributes":{"__proto__":{"channel":"web"}}},
        {"id":"case","type":"Order.Created","occurredAt":"${at}"},
        {"id":"many","type":"order.created","occurredAt":"${at}","attributes":{"a":1,"b":2,"c":3,"d":4}}]}`,
    });
    assert.equal(res.status, 200);
    const result = (await res.json()) as { accepted: number; rejected: Array<{ index: number; error: string }> };
    assert.equal(result.accepted, 1);
    assert.deepEqual(result.rejected.map((r) => r.index), [1, 2, 3]);
    assert.match(result.rejected[0]!.error, /attributes\.__proto__: the key '__proto__' cannot be stored/);
    assert.match(result.rejected[1]!.error, /did you mean 'order\.created'\?/);
    assert.match(result.rejected[2]!.error, /4 attributes; the limit is 3 .*INGEST_MAX_ATTRIBUTES/);
  });

  test('a refId named __proto__ keeps its answer', async () => {
    const res = await post('/api/v1/query', { ...timeseries({ intervalMs: DAY }), queries: [{ refId: '__proto__', metric: 'orders_created', format: 'kpi' }, { refId: 'B', metric: 'orders_created', format: 'kpi' }] });
    const text = await res.text();
    assert.equal(res.status, 200);
    assert.match(text, /"__proto__":\{"status":200/);
    assert.equal((JSON.parse(text) as Answer).results.B!.status, 200);
  });

  test('/metrics needs the METRICS_TOKEN when one is set', async () => {
    assert.equal((await server.request('/metrics')).status, 401);
    assert.equal((await server.request('/metrics', { headers: { authorization: 'Bearer wrong-token-of-some-length' } })).status, 401);
    const ok = await server.request('/metrics', { headers: { authorization: 'Bearer metrics-token-for-tests' } });
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /metricshub_http_request_duration_seconds/);
  });
});

describe('fair sharing', () => {
  test('a freed slot goes to the longest-waiting request whose organization is under its cap', async () => {
    const admission = new Admission('queries', { perOwner: 2, total: 3, queueMs: 60_000 });
    const noisy = [await admission.acquire('noisy'), await admission.acquire('noisy')];
    const order: string[] = [];
    const waiting = [
      admission.acquire('noisy').then((release) => (order.push('noisy'), release)),
      admission.acquire('quiet').then((release) => (order.push('quiet'), release)),
    ];
    // The quiet organization had a free slot of its own: it did not queue behind the noisy one.
    const quiet = await waiting[1]!;
    assert.deepEqual(order, ['quiet']);
    assert.equal(admission.inUse(), 3);
    quiet();
    // The process slot freed by quiet cannot go to noisy (at its own cap of 2); one of noisy's can.
    assert.equal(admission.inUse('noisy'), 2);
    noisy[0]!();
    const third = await waiting[0]!;
    assert.deepEqual(order, ['quiet', 'noisy']);
    third();
    noisy[1]!();
    assert.equal(admission.inUse(), 0);
  });

  test('while another organization is served, one starts at most ADMISSION_RATE_PER_ORG a second; alone it is never held', async () => {
    const admission = new Admission('queries', { perOwner: 100, total: 100, queueMs: 60_000, perOwnerPerSecond: 5 });
    // Alone: 30 short requests in a row (3 bursts' worth), none waits.
    for (let i = 0; i < 30; i += 1) (await admission.acquire('noisy'))();
    assert.equal(admission.waiting(), 0);
    // Another organization arrives: it starts at once (its own burst), the flooding one now waits for its rate.
    const quiet = await admission.acquire('quiet');
    const held = admission.acquire('noisy');
    assert.equal(admission.waiting('noisy'), 1);
    quiet();
    for (let i = 0; i < 5; i += 1) (await admission.acquire('quiet'))();
    assert.equal(admission.waiting('quiet'), 0, 'the quiet organization never queues behind the held one');
    // Its next token comes due (1/5 s): admitted without any release to wake it.
    (await held)();
    assert.equal(admission.waiting(), 0);
    assert.equal(admission.inUse(), 0);
  });

  test('with no slot and no wait allowed the answer is 429 with Retry-After', async () => {
    const streams = new Admission('live streams', { perOwner: 1, total: 10, queueMs: 0 });
    const release = await streams.acquire('key-1');
    const refused = await streams.acquire('key-1').then(
      () => assert.fail('a second stream was admitted past the per-key cap'),
      (error: unknown) => error,
    );
    assert.ok(refused instanceof AdmissionRefused);
    assert.equal(refused.status, 429);
    assert.equal(refused.headers['Retry-After'], '1');
    assert.match(refused.message, /limit 1/);
    release();
    (await streams.acquire('key-1'))();
  });

  test('live counters are read once per organization and interval for all its streams', async () => {
    const server = await startTestServer('live-hub', { REDIS_URL: undefined });
    try {
      const key = await server.keyFor('acme');
      const now = Date.now();
      const events = Array.from({ length: 3 }, (_, i) => ({ id: `o${i}`, type: 'order.created', occurredAt: new Date(now - 5_000).toISOString(), value: 10 }));
      assert.equal((await server.request('/api/v1/events', { key, method: 'POST', json: { events } })).status, 200);
      const { organization } = (await (await server.request('/api/v1/whoami', { key })).json()) as { organization: { id: string } };
      const catalog = loadCatalog(DEFAULT_CATALOG_FILE);
      let reads = 0;
      const hub = new LiveHub(server.running.context.pool, createLogger('silent'), (...args) => {
        reads += 1;
        return readLiveCounters(...args);
      });
      const received = await Promise.all(
        Array.from(
          { length: 10 },
          (_, index) =>
            new Promise<Record<string, number | null>>((resolve, reject) => {
              const metrics = liveMetrics(catalog, [index % 2 === 0 ? 'orders_created' : 'order_value']);
              const stop = hub.subscribe(organization.id, 60_000, { metrics, send: (_time, values) => (stop(), resolve({ ...values })), fail: reject });
            }),
        ),
      );
      hub.close();
      assert.equal(reads, 1);
      assert.equal(hub.groupCount, 0);
      assert.deepEqual(received[0], { orders_created: 3 });
      assert.deepEqual(received[1], { order_value: 30 });
    } finally {
      await server.stop();
    }
  });

  test('streams are capped per key, and an open stream is charged to the rate limit for as long as it runs', async () => {
    const server = await startTestServer('live-caps', { REDIS_URL: redisUrlForTest(14), LIVE_MAX_STREAMS_PER_KEY: '1', LIVE_RATE_COST_SECONDS: '1', RATE_LIMIT_PER_MINUTE: '4', LIVE_QUEUE_MS: '200' });
    try {
      const key = await server.keyFor('acme');
      const other = await server.keyFor('acme');
      const first = await server.request('/api/v1/live?metrics=orders_created&intervalMs=60000', { key });
      assert.equal(first.status, 200);
      const second = await server.request('/api/v1/live?metrics=orders_created&intervalMs=60000', { key });
      assert.equal(second.status, 429);
      assert.equal(second.headers.get('retry-after'), '1');
      assert.match(((await second.json()) as { error: string }).error, /too many live streams at once for this API key \(limit 1\)/);
      // The key's budget (4) is spent by the two requests and then by the open stream, one per second: it ends with the reason.
      const text = await first.text();
      assert.match(text, /event: error\ndata: \{"error":"rate limit of this API key exceeded while streaming; reconnect after \d+ s"\}/);
      // Another key of the same organization has its own stream slot and budget.
      const own = await server.request('/api/v1/live?metrics=orders_created&intervalMs=60000', { key: other });
      assert.equal(own.status, 200);
      await own.body?.cancel();
    } finally {
      await server.stop();
    }
  });

  test('a stream over its key\'s cap waits for a slot (LIVE_QUEUE_MS) instead of being refused at once', async () => {
    const server = await startTestServer('live-queue', { REDIS_URL: redisUrlForTest(14), LIVE_MAX_STREAMS_PER_KEY: '1', LIVE_QUEUE_MS: '10000' });
    try {
      const key = await server.keyFor('acme');
      const first = await server.request('/api/v1/live?metrics=orders_created&intervalMs=60000', { key });
      assert.equal(first.status, 200);
      let answered = false;
      const second = server.request('/api/v1/live?metrics=orders_created&intervalMs=60000', { key }).finally(() => (answered = true));
      // Still waiting while the first stream holds the key's only slot.
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(answered, false);
      await first.body?.cancel();
      const admitted = await second;
      assert.equal(admitted.status, 200, 'admitted once the first stream closed');
      await admitted.body?.cancel();
    } finally {
      await server.stop();
    }
  });
});
