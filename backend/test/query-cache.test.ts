import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import parsePrometheus from 'parse-prometheus-text-format';
import { CacheVersions } from '../src/cache/versions.js';
import { redisUrlForTest } from './support/databases.js';
import { freePort, startRedisServer, type RedisServer } from './support/redis-server.js';
import { startTestServer, type TestServer } from './support/server.js';
import { countRollupReads } from './support/wire.js';

const T0 = Date.UTC(2026, 1, 1);
const HOUR = 3_600_000;
const at = (ms: number) => new Date(ms).toISOString();
let eventCounter = 0;

/** Adds one order at 00:30 on Feb 1; each call changes the hourly count by one. */
async function addOrder(server: TestServer, key: string): Promise<void> {
  eventCounter += 1;
  const res = await server.request('/api/v1/events', {
    method: 'POST',
    key,
    json: { events: [{ id: `order-${eventCounter}`, type: 'order.created', occurredAt: at(T0 + 30 * 60_000), value: 1, attributes: { channel: 'web' } }] },
  });
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as { accepted: number }).accepted, 1);
}

const ORDERS_QUERY = { from: at(T0), to: at(T0 + HOUR), intervalMs: HOUR, maxDataPoints: 10, queries: [{ refId: 'A', metric: 'orders_created' }] };

async function orders(server: TestServer, key: string, body: object = ORDERS_QUERY): Promise<{ value: number; cached: boolean }> {
  const res = await server.request('/api/v1/query', { method: 'POST', key, json: body });
  assert.equal(res.status, 200);
  const result = ((await res.json()) as { results: { A: { status: number; frames: Array<{ schema: { meta: { custom: { cached: boolean } } }; data: { values: number[][] } }> } } }).results.A;
  assert.equal(result.status, 200);
  return { value: result.frames[0]!.data.values[1]![0]!, cached: result.frames[0]!.schema.meta.custom.cached };
}

async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The shared connection starts without an offline queue: commands before 'ready' would fail. */
async function redisReady(server: TestServer): Promise<void> {
  const redis = server.running.context.redis!;
  if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
}

describe('versioned cache on Redis', () => {
  let server: TestServer;
  let key: string;

  before(async () => {
    server = await startTestServer('query_cache', { REDIS_URL: redisUrlForTest(12), RAW_RETENTION_DAYS: '36500' });
    await redisReady(server);
    await server.running.context.redis!.flushdb();
    key = await server.keyFor('cache-org');
  });
  after(async () => server?.stop());

  test('a repeated question is answered from the cache, and a write invalidates it at once', async () => {
    await addOrder(server, key);
    assert.deepEqual(await orders(server, key), { value: 1, cached: false });
    assert.deepEqual(await orders(server, key), { value: 1, cached: true });
    await addOrder(server, key);
    assert.deepEqual(await orders(server, key), { value: 2, cached: false });
    assert.deepEqual(await orders(server, key), { value: 2, cached: true });
  });

  test('a repeated answer is served as the frames stored whole: the cold frames, marked cached', async () => {
    await addOrder(server, key);
    // A band over a range that has ended is stored too (its partial bucket is judged at `to`, not at now).
    const body = {
      ...ORDERS_QUERY,
      queries: [
        { refId: 'A', metric: 'orders_created', groupBy: ['channel'] },
        { refId: 'B', metric: 'orders_created', format: 'table' },
        { refId: 'C', metric: 'orders_created', band: 'orders_unusual' },
      ],
    };
    const ask = async () => {
      const res = await server.request('/api/v1/query', { method: 'POST', key, json: body });
      assert.equal(res.status, 200);
      return (await res.json()) as { results: Record<string, { status: number; frames: Array<{ schema: { meta: { custom: { cached: boolean } } } }> }> };
    };
    const cold = await ask();
    const stored = await ask();
    assert.ok(JSON.stringify(cold.results.C).includes('"name":"expected"'), 'the band query answers its band');
    for (const refId of ['A', 'B', 'C']) {
      assert.deepEqual(
        cold.results[refId]!.frames.map((frame) => frame.schema.meta.custom.cached),
        cold.results[refId]!.frames.map(() => false),
      );
      const marked = cold.results[refId]!.frames.map((frame) => ({ ...frame, schema: { ...frame.schema, meta: { ...frame.schema.meta, custom: { ...frame.schema.meta.custom, cached: true } } } }));
      assert.deepEqual(stored.results[refId], { status: 200, frames: marked });
    }
    // Stored as "<series>\n<frames JSON>": the series count is what the answer budget reserves on a hit.
    const organizationId = (await server.running.context.pool.query<{ id: string }>("SELECT id FROM organizations WHERE name = 'cache-org'")).rows[0]!.id;
    const redis = server.running.context.redis!;
    const values = await Promise.all((await redis.keys(`metrics:${organizationId}:events:v*`)).map((one) => redis.get(one)));
    assert.ok(
      values.some((value) => value?.startsWith(`1\n[`) && value.includes('"refId":"A"')),
      'the grouped answer (one channel) is stored with its series count',
    );
  });

  test('keys are versioned per organization in Redis with the configured TTL', async () => {
    const redis = server.running.context.redis!;
    const organizationId = (await server.running.context.pool.query<{ id: string }>("SELECT id FROM organizations WHERE name = 'cache-org'")).rows[0]!.id;
    const version = await redis.get(CacheVersions.key(organizationId));
    assert.ok(version && Number(version) > 1_700_000_000_000, `version ${version} is seeded from the clock`);
    assert.equal(await redis.ttl(CacheVersions.key(organizationId)), -1, 'the version key never expires');
    // The Redis master's replication id (a failover to a replica moves it), the organization's
    // version, then the source's own (moved only by an operator's cache clear).
    const masterReplid = /^master_replid:(\w+)/m.exec(await redis.info('replication'))![1]!.slice(0, 12);
    const keys = await redis.keys(`metrics:${organizationId}:events:v${masterReplid}-${version}.0:*`);
    assert.ok(keys.length >= 1);
    const ttl = await redis.ttl(keys[0]!);
    assert.ok(ttl > 0 && ttl <= 45, `ttl ${ttl}`);
  });

  test('a lost version key does not bring older answers back', async () => {
    const redis = server.running.context.redis!;
    const before = await orders(server, key);
    const organizationId = (await server.running.context.pool.query<{ id: string }>("SELECT id FROM organizations WHERE name = 'cache-org'")).rows[0]!.id;
    await redis.del(CacheVersions.key(organizationId));
    await addOrder(server, key);
    assert.deepEqual(await orders(server, key), { value: before.value + 1, cached: false });
  });

  test('50 identical concurrent queries read the database once', async () => {
    const reads = countRollupReads();
    try {
      const body = { ...ORDERS_QUERY, queries: [{ refId: 'A', metric: 'orders_created', groupBy: ['channel'] }] };
      const answers = await Promise.all(Array.from({ length: 50 }, () => orders(server, key, body)));
      // One read of the answer's buckets, plus one count of its series for the answer budget (issue 23).
      assert.equal(reads.count(), 2);
      assert.equal(new Set(answers.map((answer) => answer.value)).size, 1);
    } finally {
      reads.restore();
    }
  });

  test('/metrics exposes cache lookups and the hit ratio', async () => {
    const text = await (await server.request('/metrics')).text();
    const families = parsePrometheus(text) as Array<{ name: string; metrics: Array<{ value: string; labels?: Record<string, string> }> }>;
    const lookups = families.find((family) => family.name === 'metricshub_cache_lookups_total')!;
    const hits = lookups.metrics.filter((metric) => metric.labels?.result === 'hit').reduce((sum, metric) => sum + Number(metric.value), 0);
    const total = lookups.metrics.reduce((sum, metric) => sum + Number(metric.value), 0);
    assert.ok(hits > 0 && total > hits);
    const ratio = Number(families.find((family) => family.name === 'metricshub_cache_hit_ratio')!.metrics[0]!.value);
    assert.ok(Math.abs(ratio - hits / total) < 1e-9);
  });
});

describe('in-process cache without Redis', () => {
  let server: TestServer;
  let key: string;

  before(async () => {
    server = await startTestServer('query_cache_mem', { RAW_RETENTION_DAYS: '36500' });
    key = await server.keyFor('memory-org');
  });
  after(async () => server?.stop());

  test('caches, invalidates on write and computes concurrent identical queries once', async () => {
    await addOrder(server, key);
    assert.deepEqual(await orders(server, key), { value: 1, cached: false });
    assert.deepEqual(await orders(server, key), { value: 1, cached: true });
    await addOrder(server, key);
    const reads = countRollupReads();
    try {
      const answers = await Promise.all(Array.from({ length: 50 }, () => orders(server, key)));
      assert.equal(reads.count(), 1);
      assert.ok(answers.every((answer) => answer.value === 2));
    } finally {
      reads.restore();
    }
  });
});

describe('Redis failing mid-test', () => {
  let server: TestServer;
  let key: string;
  let redis: RedisServer;

  before(async () => {
    redis = await startRedisServer();
    server = await startTestServer('query_cache_outage', { REDIS_URL: redis.url, RAW_RETENTION_DAYS: '36500' });
    key = await server.keyFor('outage-org');
    await waitFor(() => server.running.context.redis!.status === 'ready', 'redis ready');
  });
  afterEach(() => {
    // A paused server would hang the next test; resume it whatever happened.
    if (redis.process.exitCode === null && redis.process.signalCode === null) redis.process.kill('SIGCONT');
  });
  after(async () => {
    await server?.stop();
    await redis?.stop();
  });

  test('answers stay correct when Redis dies, while it is down, and after it returns', async () => {
    await addOrder(server, key);
    assert.deepEqual(await orders(server, key), { value: 1, cached: false });
    assert.deepEqual(await orders(server, key), { value: 1, cached: true });

    await redis.stop();
    await waitFor(() => server.running.context.redis!.status !== 'ready', 'redis seen as down');
    assert.equal((await orders(server, key)).value, 1);
    assert.deepEqual(await orders(server, key), { value: 1, cached: true }, 'the in-process cache answers');
    await addOrder(server, key);
    assert.deepEqual(await orders(server, key), { value: 2, cached: false }, 'a write while Redis is down invalidates the in-process cache');
    const ready = await (await server.request('/health/ready')).json();
    assert.equal((ready as { checks: { cache: { ok: boolean } } }).checks.cache.ok, false);

    redis = await startRedisServer(redis.port);
    await waitFor(() => server.running.context.redis!.status === 'ready', 'redis back');
    assert.deepEqual(await orders(server, key), { value: 2, cached: false });
    assert.deepEqual(await orders(server, key), { value: 2, cached: true }, 'back on Redis');
    const organizationId = (await server.running.context.pool.query<{ id: string }>("SELECT id FROM organizations WHERE name = 'outage-org'")).rows[0]!.id;
    assert.ok((await server.running.context.redis!.keys(`metrics:${organizationId}:events:*`)).length >= 1);
  });

  test('a write while Redis hangs is not hidden by answers Redis cached before', async () => {
    await waitFor(() => server.running.context.redis!.status === 'ready', 'redis ready');
    const before = await orders(server, key);
    assert.deepEqual(await orders(server, key), { value: before.value, cached: true });
    redis.process.kill('SIGSTOP');
    await addOrder(server, key);
    assert.equal((await orders(server, key)).value, before.value + 1);
    redis.process.kill('SIGCONT');
    await waitFor(() => server.running.context.redis!.status === 'ready', 'redis ready');
    const after = await orders(server, key);
    assert.equal(after.value, before.value + 1);
  });
});

describe('one failing source', () => {
  let server: TestServer;
  let key: string;
  let directory: string;

  before(async () => {
    directory = await fs.mkdtemp(path.join(os.tmpdir(), 'mh-catalog-'));
    const closedPort = await freePort();
    const catalog = `
version: 1
sources:
  - id: events
    type: events
  - id: partner
    type: http-json
    label: Partner API
    baseUrl: http://127.0.0.1:${closedPort}
    healthUrl: /health
    timeoutMs: 2000
metrics:
  - key: orders_created
    label: Orders created
    source: events
    kind: counter
    dimensions: [channel]
    query: { eventTypes: [order.created], measure: count }
  - key: partner_signups
    label: Partner signups
    source: partner
    kind: counter
    query: { url: /signups, time: $.t, value: $.v }
`;
    await fs.writeFile(path.join(directory, 'catalog.yaml'), catalog);
    server = await startTestServer('query_failing_source', { CATALOG_FILE: path.join(directory, 'catalog.yaml'), RAW_RETENTION_DAYS: '36500' });
    key = await server.keyFor('mixed-org');
    await addOrder(server, key);
  });
  after(async () => {
    await server?.stop();
    await fs.rm(directory, { recursive: true, force: true });
  });

  test('its queries fail alone; readiness reports it without failing', async () => {
    const res = await server.request('/api/v1/query', {
      method: 'POST',
      key,
      json: { ...ORDERS_QUERY, queries: [{ refId: 'A', metric: 'orders_created' }, { refId: 'P', metric: 'partner_signups' }] },
    });
    assert.equal(res.status, 200);
    const { results } = (await res.json()) as { results: Record<string, { status: number; error?: string; frames: Array<{ data: { values: number[][] } }> }> };
    assert.equal(results.A!.status, 200);
    assert.deepEqual(results.A!.frames[0]!.data.values[1], [1]);
    assert.ok(results.P!.status >= 500, `status ${results.P!.status}`);
    assert.match(results.P!.error!, /partner/);
    assert.deepEqual(results.P!.frames, []);

    const ready = await server.request('/health/ready');
    assert.equal(ready.status, 200);
    const checks = ((await ready.json()) as { checks: { sources: { ok: boolean; critical: boolean; detail: string } } }).checks;
    assert.equal(checks.sources.ok, false);
    assert.equal(checks.sources.critical, false);
    assert.match(checks.sources.detail, /partner down/);

    const whoami = (await (await server.request('/api/v1/whoami', { key })).json()) as { sources: { total: number; healthy: number } };
    assert.deepEqual(whoami.sources, { total: 2, healthy: 1 });
    const summary = (await (await server.request(`/api/v1/summary?from=${at(T0)}&to=${at(T0 + HOUR)}`, { key })).json()) as {
      cards: Array<{ key: string; value: number | null; error?: string }>;
      systemHealth: { status: string };
    };
    assert.equal(summary.cards.find((card) => card.key === 'orders_created')!.value, 1);
    assert.ok(summary.cards.find((card) => card.key === 'partner_signups')!.error);
    assert.equal(summary.systemHealth.status, 'degraded');
  });
});
