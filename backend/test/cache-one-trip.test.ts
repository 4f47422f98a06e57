import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { OneTripLookup } from '../src/cache/one-trip.js';
import { QueryCache, questionHash } from '../src/cache/query-cache.js';
import { CacheVersions } from '../src/cache/versions.js';
import { createLogger } from '../src/logger.js';
import { redisUrlForTest } from './support/databases.js';
import { recordCommands } from './support/wire.js';

describe('cache lookups in one Redis round trip (issue 23)', () => {
  let redis: Redis;
  let versions: CacheVersions;
  let lookup: OneTripLookup;
  let organizationId: string;

  before(async () => {
    redis = new Redis(redisUrlForTest(10), { maxRetriesPerRequest: 1 });
    await redis.flushdb();
  });
  beforeEach(() => {
    // A new organization per test: nothing of another test's versions or answers is seen.
    organizationId = randomUUID();
    versions = new CacheVersions(redis);
    lookup = new OneTripLookup(redis, versions);
  });
  after(async () => redis?.quit());

  test('finds the answer under the key the step-by-step versions give, and a write moves it', async () => {
    const hash = questionHash({ metric: 'orders_created' });
    const stepByStep = `metrics:${organizationId}:events:v${await versions.currentFor(organizationId, 'events')}:${hash}`;
    const first = await lookup.read(organizationId, 'events', hash);
    assert.equal(first?.key, stepByStep);
    assert.equal(first?.hit, undefined);
    await redis.set(stepByStep, '{"answer":1}');
    assert.equal((await lookup.read(organizationId, 'events', hash))?.hit, '{"answer":1}');

    await versions.bump(organizationId, 123n);
    const afterWrite = await lookup.read(organizationId, 'events', hash);
    assert.notEqual(afterWrite?.key, stepByStep);
    assert.equal(afterWrite?.hit, undefined, 'an answer cached before the write is not read again');
    assert.equal(afterWrite?.floor, 123n, 'the write position is read with the version');
    assert.equal(afterWrite?.key, `metrics:${organizationId}:events:v${await versions.currentFor(organizationId, 'events')}:${hash}`);
  });

  test('a missing version is seeded from the clock, a cache clear of the source moves its key, other sources keep theirs', async () => {
    const hash = questionHash({ metric: 'tickets_opened' });
    const seeded = await lookup.read(organizationId, 'events', hash);
    const version = await redis.get(CacheVersions.key(organizationId));
    assert.ok(Number(version) > 1_700_000_000_000, `version ${version} is seeded from the clock`);
    assert.equal(seeded?.floor, undefined, 'no write recorded: the floor is left to CacheVersions.readFloor');
    const otherSource = await lookup.read(organizationId, 'hubspot', hash);

    await versions.bumpScope(organizationId, 'events');
    assert.notEqual((await lookup.read(organizationId, 'events', hash))?.key, seeded?.key);
    assert.equal((await lookup.read(organizationId, 'hubspot', hash))?.key, otherSource?.key);
  });

  test('without a ready connection it declines, and the caller goes step by step', async () => {
    const offline = new Redis(redisUrlForTest(10), { lazyConnect: true });
    try {
      const declined = new OneTripLookup(offline, new CacheVersions(offline));
      assert.equal(await declined.read(organizationId, 'events', questionHash({})), undefined);
    } finally {
      offline.disconnect();
    }
  });

  test('through the query cache: one script call per question, computed once, then answered from Redis', async () => {
    const cache = new QueryCache(redis, versions, new Registry(), createLogger('warn'));
    // A recorded write (its floor) and the master's epoch, both known before counting.
    await versions.bump(organizationId, 5n);
    await versions.currentFor(organizationId, 'events');
    const commands = recordCommands(redis);
    let computed = 0;
    const compute = async (readAfter: bigint | undefined) => {
      computed += 1;
      assert.equal(readAfter, 5n, 'the answer is read at least as new as the last write');
      return { value: 42 };
    };
    const concurrent = await Promise.all(Array.from({ length: 10 }, () => cache.getOrCompute(organizationId, 'events', { q: 1 }, 60, compute)));
    assert.equal(computed, 1, 'ten concurrent misses compute once');
    assert.ok(concurrent.every((answer) => answer.value.value === 42));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const cached = await cache.getOrCompute(organizationId, 'events', { q: 1 }, 60, compute);
    assert.deepEqual(cached, { value: { value: 42 }, cached: true });
    assert.equal(computed, 1);
    commands.restore();
    // The 11 lookups were 11 script calls (an EVAL after a NOSCRIPT, the first time Redis meets it); no version,
    // floor or answer was read by a command of its own; the one computed answer was stored once (one SET, and one
    // for the newest-answer time, written at most once a second).
    const lookups = commands.sent.filter((name) => name === 'evalsha' || name === 'eval');
    assert.equal(commands.sent.filter((name) => name === 'evalsha').length, 11);
    assert.ok(lookups.length <= 12);
    assert.deepEqual(commands.sent.filter((name) => name !== 'evalsha' && name !== 'eval').sort(), ['set', 'set']);
  });

  test("an answer's parts are joinable until it is released; a part asked after that is computed on its own", async () => {
    const cache = new QueryCache(redis, versions, new Registry(), createLogger('warn'));
    const stored = await cache.lookupText(organizationId, 'events', { answer: 1 });
    let computed = 0;
    const compute = async () => {
      const mine = (computed += 1);
      await new Promise((resolve) => setTimeout(resolve, 10));
      return mine;
    };
    const joined = await Promise.all([cache.computeWithin(stored, organizationId, { part: 1 }, compute), cache.computeWithin(stored, organizationId, { part: 1 }, compute)]);
    assert.deepEqual(joined, [1, 1], 'two asks of one part while the answer is computed: one computation');
    cache.release(stored);
    // An answer set aside while still computing (its lookup moved on) may ask a part after its release: nothing would
    // ever end a flight registered now, so it is not registered.
    const late = await Promise.all([cache.computeWithin(stored, organizationId, { part: 2 }, compute), cache.computeWithin(stored, organizationId, { part: 2 }, compute)]);
    assert.deepEqual(late.sort(), [2, 3]);
    assert.deepEqual(stored.parts, []);
  });
});
