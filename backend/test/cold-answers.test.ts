import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { createRedis } from '../src/cache/redis.js';
import { CacheVersions } from '../src/cache/versions.js';
import { createQueryModule } from '../src/query/module.js';
import type { QueryRequest } from '../src/query/schema.js';
import { queryRequestSchema } from '../src/query/schema.js';
import type { QueryService } from '../src/query/service.js';
import { redisUrlForTest } from './support/databases.js';
import { startTestServer, type TestServer } from './support/server.js';
import { recordCommands, countRollupReads } from './support/wire.js';

/**
 * What a cold answer costs the cache (bench/README.md, issue 20, step 6): an
 * answer stored whole is looked up once, its parts (the series budget's
 * estimate, the source's series) are computed under that lookup's version
 * without round trips of their own, and the answer is written to Redis after
 * it has been returned, never under a version that moved on meanwhile.
 */
const T0 = Date.UTC(2026, 1, 1);
const HOUR = 3_600_000;
const CHANNELS = ['web', 'app', 'phone'];
let eventCounter = 0;

function request(queries: Array<Record<string, unknown>>, from = T0, to = T0 + 6 * HOUR): QueryRequest {
  return queryRequestSchema.parse({ from, to, intervalMs: HOUR, maxDataPoints: 100, queries });
}

/** Two turns of the event loop: a stored answer's write is sent on the first, and its reply handled by the second. */
const writesSettle = async () => {
  for (let turn = 0; turn < 4; turn += 1) await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setTimeout(resolve, 20));
};

describe('cold answers: one lookup, parts under its version, written after the answer', () => {
  let server: TestServer;
  let service: QueryService;
  let redis: Redis;
  let versions: CacheVersions;
  let key: string;
  let organizationId: string;

  /** Orders at 00:30, one per channel per call (each call is a write: it moves the organization's cache version). */
  async function addOrders(): Promise<void> {
    const events = CHANNELS.map((channel) => ({ id: `order-${(eventCounter += 1)}`, type: 'order.created', occurredAt: new Date(T0 + 30 * 60_000).toISOString(), value: 1, attributes: { channel } }));
    const res = await server.request('/api/v1/events', { method: 'POST', key, json: { events } });
    assert.equal(res.status, 200);
  }

  /** The value and the cached mark of the first frame of an answer. */
  async function ask(body: QueryRequest, refId = 'A'): Promise<{ value: number; cached: boolean; stored: boolean }> {
    const result = (await service.query(organizationId, body)).results[refId]!;
    assert.equal(result.status, 200, result.error);
    const frame = result.frames[0]!;
    return { value: (frame.data.values[1] as number[])[0]!, cached: frame.schema.meta.custom.cached, stored: result.framesJson !== undefined };
  }

  before(async () => {
    server = await startTestServer('cold_answers', { REDIS_URL: redisUrlForTest(9), RAW_RETENTION_DAYS: '36500' });
    const shared = server.running.context.redis!;
    if (shared.status !== 'ready') await new Promise((resolve) => shared.once('ready', resolve));
    await shared.flushdb();
    key = await server.keyFor('cold-org');
    organizationId = (await server.running.context.pool.query<{ id: string }>("SELECT id FROM organizations WHERE name = 'cold-org'")).rows[0]!.id;
    // The service under test on a Redis connection of its own: the commands counted are its own, not the server's jobs'.
    redis = createRedis({ kind: 'url', url: redisUrlForTest(9) }, server.running.context.logger);
    await new Promise((resolve) => redis.once('ready', resolve));
    versions = new CacheVersions(redis);
    service = (await createQueryModule({ ...server.running.context, redis, cacheVersions: versions })).service;
    await addOrders();
    // The lookup script loaded into Redis and the master's epoch known, so no test counts those first-time commands.
    await ask(request([{ refId: 'A', metric: 'payments_failed' }]));
    await writesSettle();
  });
  after(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  test('a grouped answer: one Redis lookup and one SQL read per part, its parts never stored apart, the answer written after it returns', async () => {
    const body = request([{ refId: 'A', metric: 'orders_created', groupBy: ['channel'] }]);
    const commands = recordCommands(redis);
    let sentBeforeReturn: string[];
    try {
      const result = (await service.query(organizationId, body)).results.A!;
      sentBeforeReturn = [...commands.sent];
      assert.equal(result.status, 200);
      assert.equal(result.frames.length, CHANNELS.length);
      assert.ok(result.frames.every((frame) => frame.schema.meta.custom.cached === false));
      assert.deepEqual(JSON.parse(result.framesJson!), result.frames, 'the response text is the frames as computed');
      await writesSettle();
    } finally {
      commands.restore();
    }
    // The answer's lookup read the versions, the read floor and the answer in one script call; the series estimate
    // and the series were computed under that lookup's version: no lookup of their own, nothing written before the answer returned.
    assert.deepEqual(sentBeforeReturn, ['evalsha']);
    // Then the answer's SET (and the newest-answer time's, written at most once a second).
    const later = commands.sent.slice(1);
    assert.ok(later.length >= 1 && later.length <= 2 && later.every((name) => name === 'set'), `sent after the answer: ${later.join(', ')}`);
    const version = await new CacheVersions(redis).currentFor(organizationId, 'events');
    // (The server's own jobs cache other questions of the organization under the version too.)
    const keys = await redis.keys(`metrics:${organizationId}:events:v${version}:*`);
    const values = keys.length > 0 ? await redis.mget(...keys) : [];
    const byChannel = values.filter((value) => value?.includes('"channel"'));
    assert.equal(byChannel.length, 1, 'only the whole answer is stored, not the series it was made of');
    assert.ok(byChannel[0]!.startsWith(`${CHANNELS.length}\n[`), 'the whole answer, with its series count');
    assert.ok(!values.includes(String(CHANNELS.length)), 'the series estimate is not stored apart');
    const again = await ask(body);
    assert.deepEqual(again, { value: 1, cached: true, stored: true });
  });

  test('asked again before its write reached Redis: this process serves the answer it is storing', async () => {
    const body = request([{ refId: 'A', metric: 'orders_created' }], T0, T0 + 5 * HOUR);
    const first = await ask(body);
    // No turn of the event loop in between: the write has not been sent yet.
    const second = await ask(body);
    assert.deepEqual([first.cached, second.cached], [false, true]);
    assert.equal(second.value, first.value);
    await writesSettle();
  });

  test('a write while an answer is computed: the answer is kept under the version it was asked at, so the next one is computed again', async () => {
    const body = request([{ refId: 'A', metric: 'orders_created', aggregation: 'sum' }], T0, T0 + 4 * HOUR);
    const registry = service.registry;
    const original = registry.query;
    let reads = 0;
    registry.query = async function (this: typeof registry, ...args: Parameters<typeof original>) {
      reads += 1;
      const series = await original.apply(this, args);
      // Ingestion lands after the source answered and before the answer is stored: its version bump must win.
      if (reads === 1) await addOrders();
      return series;
    } as typeof original;
    try {
      const during = await ask(body);
      await writesSettle();
      const afterWrite = await ask(body);
      assert.equal(reads, 2, 'the answer computed before the write is not served after it');
      assert.deepEqual(afterWrite, { value: during.value + CHANNELS.length, cached: false, stored: true });
      await writesSettle();
      assert.deepEqual(await ask(body), { ...afterWrite, cached: true });
    } finally {
      registry.query = original;
    }
  });

  test('a relative range refreshed within the hour is served from the cache, and is what a cold answer over the new range says', async () => {
    const MINUTE = 60_000;
    // "now-6h" to "now" at 06:10, then refreshed at 06:40 and at 07:05 (orders at 00:30, in the window each time).
    const at = (now: number) => request([{ refId: 'A', metric: 'orders_created', groupBy: ['channel'] }], now - 6 * HOUR, now);
    const first = (await service.query(organizationId, at(T0 + 6 * HOUR + 10 * MINUTE))).results.A!;
    await writesSettle();
    const refreshed = (await service.query(organizationId, at(T0 + 6 * HOUR + 40 * MINUTE))).results.A!;
    assert.ok(first.frames.every((frame) => !frame.schema.meta.custom.cached));
    assert.ok(refreshed.frames.every((frame) => frame.schema.meta.custom.cached), 'the refresh within the hour is a hit');
    // The same answer a cold computation over the refreshed range gives (the cache version moved, as by a write).
    await versions.bump(organizationId);
    const cold = (await service.query(organizationId, at(T0 + 6 * HOUR + 40 * MINUTE))).results.A!;
    assert.ok(cold.frames.every((frame) => !frame.schema.meta.custom.cached));
    assert.deepEqual(
      refreshed.frames.map((frame) => frame.data),
      cold.frames.map((frame) => frame.data),
    );
    await writesSettle();
    const nextHour = (await service.query(organizationId, at(T0 + 7 * HOUR + 5 * MINUTE))).results.A!;
    assert.ok(nextHour.frames.every((frame) => !frame.schema.meta.custom.cached), 'another hour is another answer');
    assert.notDeepEqual(
      nextHour.frames.map((frame) => frame.data.values[0]),
      cold.frames.map((frame) => frame.data.values[0]),
      'its buckets moved on by an hour',
    );
    await writesSettle();
  });

  test('two answers of one series asked at once (two panels) read it once', async () => {
    await addOrders();
    const reads = countRollupReads();
    try {
      const panels = ['A', 'B'].map((refId) => request([{ refId, metric: 'orders_created', groupBy: ['channel'] }], T0, T0 + 3 * HOUR));
      const answers = await Promise.all(panels.map((body) => service.query(organizationId, body)));
      assert.deepEqual(
        answers.map((answer) => Object.values(answer.results)[0]!.status),
        [200, 200],
      );
      // One count of the series for the answer budget and one read of the buckets, shared by both answers.
      assert.equal(reads.count(), 2);
    } finally {
      reads.restore();
    }
    await writesSettle();
  });
});
