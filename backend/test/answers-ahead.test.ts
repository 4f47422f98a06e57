import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import pg from 'pg';
import type { Registry } from 'prom-client';
import { createRedis } from '../src/cache/redis.js';
import { Metrics } from '../src/observability/metrics.js';
import { CacheVersions } from '../src/cache/versions.js';
import { createQueryModule } from '../src/query/module.js';
import { SourceError } from '../src/sources/errors.js';
import { queryRequestSchema, type QueryRequest } from '../src/query/schema.js';
import type { QueryService } from '../src/query/service.js';
import { redisUrlForTest } from './support/databases.js';
import { startTestServer, type TestServer } from './support/server.js';

/**
 * Answers started before their cache lookup returns (QueryCache.lookupTextAhead; bench/README.md, issue 20, step 28):
 * once this process knows an organization's versions and has not asked a question under them, the question's
 * statement goes out with its lookup, and what the lookup says decides whether that answer is served and stored.
 * Each "process" here is a query service with its own Redis connection and versions, on one PostgreSQL and one Redis.
 */
const T0 = Date.UTC(2026, 2, 1);
const HOUR = 3_600_000;
let eventCounter = 0;

const request = (metric: string, hours: number): QueryRequest =>
  queryRequestSchema.parse({ from: T0, to: T0 + hours * HOUR, intervalMs: HOUR, maxDataPoints: 100, queries: [{ refId: 'A', metric, format: 'table' }] });

/** A stored answer's write is sent a turn after the answer, and its reply handled a turn later. */
const writesSettle = async () => {
  for (let turn = 0; turn < 4; turn += 1) await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setTimeout(resolve, 20));
};

interface Process {
  service: QueryService;
  versions: CacheVersions;
  redis: Redis;
  registry: Registry;
}

describe('answers started before their lookup returns', () => {
  let server: TestServer;
  let key: string;
  let organizationId: string;
  const processes: Process[] = [];

  async function openProcess(): Promise<Process> {
    const redis = createRedis({ kind: 'url', url: redisUrlForTest(8) }, server.running.context.logger);
    await new Promise((resolve) => redis.once('ready', resolve));
    const versions = new CacheVersions(redis);
    // Its own metrics too: each process counts its own answers.
    const metrics = new Metrics();
    const { service } = await createQueryModule({ ...server.running.context, redis, cacheVersions: versions, metrics });
    const opened = { service, versions, redis, registry: metrics.registry };
    processes.push(opened);
    return opened;
  }

  /** Orders at 00:30, through the server's own ingestion (another process's write: its bump is its own). */
  async function addOrders(count: number): Promise<void> {
    const events = Array.from({ length: count }, () => ({ id: `ahead-${(eventCounter += 1)}`, type: 'order.created', occurredAt: new Date(T0 + 30 * 60_000).toISOString(), value: 1 }));
    const res = await server.request('/api/v1/events', { method: 'POST', key, json: { events } });
    assert.equal(res.status, 200);
  }

  async function ask(process: Process, body: QueryRequest): Promise<{ value: number; cached: boolean }> {
    const result = (await process.service.query(organizationId, body)).results.A!;
    assert.equal(result.status, 200, result.error);
    const frame = result.frames[0]!;
    return { value: (frame.data.values[0] as number[])[0]!, cached: frame.schema.meta.custom.cached };
  }

  async function aheadCounts(process: Process): Promise<Record<string, number>> {
    const metric = await process.registry.getSingleMetric('metricshub_cache_answers_ahead_total')!.get();
    return Object.fromEntries(metric.values.map((entry) => [String(entry.labels.result), entry.value]));
  }

  before(async () => {
    server = await startTestServer('answers_ahead', { REDIS_URL: redisUrlForTest(8), RAW_RETENTION_DAYS: '36500' });
    const shared = server.running.context.redis!;
    if (shared.status !== 'ready') await new Promise((resolve) => shared.once('ready', resolve));
    await shared.flushdb();
    key = await server.keyFor('ahead-org');
    organizationId = (await server.running.context.pool.query<{ id: string }>("SELECT id FROM organizations WHERE name = 'ahead-org'")).rows[0]!.id;
    await addOrders(2);
  });
  after(async () => {
    for (const one of processes) one.redis.disconnect();
    await server?.stop();
  });

  test("after this process's own write: the statement goes out before the lookup's reply, and the answer is stored under the new version", async () => {
    const one = await openProcess();
    // Nothing known yet: looked up first.
    assert.deepEqual(await ask(one, request('orders_created', 2)), { value: 2, cached: false });
    await writesSettle();
    assert.deepEqual(await aheadCounts(one), {});

    await one.versions.bump(organizationId);
    const events: string[] = [];
    const sendCommand = one.redis.sendCommand;
    one.redis.sendCommand = function (this: Redis, command, stream) {
      events.push(command.name);
      void command.promise.then(() => events.push(`${command.name} reply`), () => undefined);
      return sendCommand.call(this, command, stream);
    } as typeof sendCommand;
    // This process's source questions, and statements that read this organization's rollups (the server's own jobs
    // run in this process and read rollups too, of other organizations or at other times).
    const registry = one.service.registry;
    const original = registry.query;
    registry.query = function (this: typeof registry, ...args: Parameters<typeof original>) {
      events.push('source question');
      return original.apply(this, args);
    } as typeof original;
    const query = pg.Client.prototype.query;
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const statement = args[0] as { text?: string; values?: unknown[] } | undefined;
      if (/rollup/.test(statement?.text ?? '') && statement?.values?.includes(organizationId)) events.push('sql');
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof query;
    let answer: { value: number; cached: boolean };
    try {
      answer = await ask(one, request('orders_created', 3));
    } finally {
      one.redis.sendCommand = sendCommand;
      pg.Client.prototype.query = query;
      registry.query = original;
    }
    assert.deepEqual(answer, { value: 2, cached: false });
    const reply = events.indexOf('evalsha reply');
    assert.ok(reply >= 0, `the lookup went out: ${events.join(', ')}`);
    assert.deepEqual(
      events.slice(0, reply).filter((event) => event === 'source question' || event === 'sql'),
      ['source question', 'sql'],
      `the source was asked and its statement sent before the lookup's reply: ${events.join(', ')}`,
    );
    assert.deepEqual(await aheadCounts(one), { confirmed: 1 });
    await writesSettle();

    // Stored under the version the lookup confirmed: asked again, it is a hit.
    assert.deepEqual(await ask(one, request('orders_created', 3)), { value: 2, cached: true });
    const version = await one.versions.currentFor(organizationId, 'events');
    const stored = await one.redis.keys(`metrics:${organizationId}:events:v${version}:*`);
    assert.ok(stored.length >= 1, `an answer under ${version}`);
    // A question asked under the versions it knows is looked up first (a refresh of a cached panel costs no statement).
    assert.deepEqual(await aheadCounts(one), { confirmed: 1 });
  });

  test('another process wrote after the versions this one knows: the answer started ahead is set aside and computed again', async () => {
    const one = await openProcess();
    await ask(one, request('orders_created', 4));
    await writesSettle();
    await one.versions.bump(organizationId);
    // Another process's write (committed, then its version bump): this process still knows the version before it.
    await addOrders(3);
    const registry = one.service.registry;
    const original = registry.query;
    let reads = 0;
    registry.query = async function (this: typeof registry, ...args: Parameters<typeof original>) {
      reads += 1;
      return original.apply(this, args);
    } as typeof original;
    try {
      assert.deepEqual(await ask(one, request('orders_created', 5)), { value: 5, cached: false });
    } finally {
      registry.query = original;
    }
    assert.equal(reads, 2, 'the answer started ahead is not the one served: it is computed again under the newer versions');
    assert.deepEqual(await aheadCounts(one), { moved: 1 });
    await writesSettle();
    // Stored under the newer version, where the next lookup finds it.
    assert.deepEqual(await ask(one, request('orders_created', 5)), { value: 5, cached: true });
  });

  test('another process already stored the answer under the versions this one knows: the stored answer is served', async () => {
    const [one, other] = [await openProcess(), await openProcess()];
    await ask(one, request('orders_created', 6));
    await ask(other, request('orders_created', 6));
    await writesSettle();
    await one.versions.bump(organizationId);
    // The other process answers the question first, under the version this one just moved to, and stores it.
    assert.deepEqual(await ask(other, request('orders_created', 7)), { value: 5, cached: false });
    await writesSettle();
    assert.deepEqual(await ask(one, request('orders_created', 7)), { value: 5, cached: true });
    assert.deepEqual(await aheadCounts(one), { hit: 1 });
  });

  test('the answer started ahead fails before its lookup returns (a database restart): the error is the answer\'s, the process keeps running', async () => {
    const one = await openProcess();
    await ask(one, request('orders_created', 10));
    await writesSettle();
    await one.versions.bump(organizationId);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const registry = one.service.registry;
    const original = registry.query;
    // Fails at once, long before Redis answers the lookup sent with it.
    registry.query = (async () => {
      throw new SourceError('events', 'unavailable', "source 'events' is unavailable: terminating connection due to administrator command; retry shortly");
    }) as typeof original;
    try {
      const result = (await one.service.query(organizationId, request('orders_created', 11))).results.A!;
      assert.equal(result.status, 503);
      assert.match(result.error!, /terminating connection/);
      await writesSettle();
    } finally {
      registry.query = original;
      process.off('unhandledRejection', onUnhandled);
    }
    assert.deepEqual(unhandled, [], 'no rejection left unhandled (Node would stop the process)');
    // Nothing was stored: asked again, it is computed.
    assert.deepEqual(await ask(one, request('orders_created', 11)), { value: 5, cached: false });
  });

  test('a cache clear of the source since: the versions differ, and the answer is computed again', async () => {
    const one = await openProcess();
    await ask(one, request('orders_created', 8));
    await writesSettle();
    await one.versions.bump(organizationId);
    // An operator clears the source's answers from another process: its own version moves, not the organization's.
    await new CacheVersions(server.running.context.redis).bumpScope(organizationId, 'events');
    // Counted at this process's source, not at PostgreSQL: the server's own jobs read rollups in this process too.
    const registry = one.service.registry;
    const original = registry.query;
    let reads = 0;
    registry.query = function (this: typeof registry, ...args: Parameters<typeof original>) {
      reads += 1;
      return original.apply(this, args);
    } as typeof original;
    try {
      assert.deepEqual(await ask(one, request('orders_created', 9)), { value: 5, cached: false });
      assert.equal(reads, 2, 'read ahead under the old key, then again under the new one');
    } finally {
      registry.query = original;
    }
    assert.deepEqual(await aheadCounts(one), { moved: 1 });
    await writesSettle();
    // Stored under the key the lookup gave, not the one known before the clear.
    assert.deepEqual(await ask(one, request('orders_created', 9)), { value: 5, cached: true });
  });
});
