import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { revokeApiKey } from '../src/auth/keys.js';
import { loadConfig } from '../src/config/env.js';
import { createLogger } from '../src/logger.js';
import { startServer, type RunningServer } from '../src/server.js';
import { requireRedisUrl } from './support/databases.js';
import { startTestServer, type TestServer } from './support/server.js';

const BUDGET = 5;

const whoami = (baseUrl: string, key: string) => fetch(`${baseUrl}/api/v1/whoami`, { headers: { authorization: `Bearer ${key}` } });

/** Sends `n` requests one after another and returns their statuses. */
async function statuses(baseUrl: string, key: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i += 1) {
    const response = await whoami(baseUrl, key);
    await response.arrayBuffer();
    out.push(response.status);
  }
  return out;
}


describe('rate limit per API key, shared through Redis', () => {
  let first: TestServer;
  let second: RunningServer;
  let secondUrl = '';

  before(async () => {
    first = await startTestServer('rate_limit', { REDIS_URL: requireRedisUrl(), RATE_LIMIT_PER_MINUTE: String(BUDGET) });
    const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', REDIS_URL: requireRedisUrl(), RATE_LIMIT_PER_MINUTE: String(BUDGET), DATABASE_URL: first.database.url });
    second = await startServer(config, createLogger('silent'));
    secondUrl = `http://127.0.0.1:${second.port}`;
  });
  after(async () => {
    await second?.close();
    await first?.stop();
  });

  test('over budget answers 429 with Retry-After in seconds and a reason', async () => {
    const key = await first.keyFor('rl-a');
    assert.deepEqual(await statuses(first.baseUrl, key, BUDGET), Array(BUDGET).fill(200));
    const refused = await whoami(first.baseUrl, key);
    assert.equal(refused.status, 429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After ${refused.headers.get('retry-after')}`);
    assert.equal(refused.headers.get('ratelimit-remaining'), '0');
    assert.match(((await refused.json()) as { error: string }).error, /rate limit of 5 requests per minute for this API key exceeded; retry after \d+ s/);
  });

  test('the budget is per key: another key of the same organization is not affected', async () => {
    const spent = await first.keyFor('rl-b');
    const fresh = await first.keyFor('rl-b');
    await statuses(first.baseUrl, spent, BUDGET + 1);
    assert.equal((await whoami(first.baseUrl, spent)).status, 429);
    assert.equal((await whoami(first.baseUrl, fresh)).status, 200);
  });

  test('a key this process has seen is charged beside its check: the count stays exact on both paths, and a revoked key is refused at once', async () => {
    const key = await first.keyFor('rl-early');
    // The first request is charged after its check (unknown key), the next ones beside it: BUDGET in all, then 429.
    assert.deepEqual(await statuses(first.baseUrl, key, BUDGET + 1), [...Array(BUDGET).fill(200), 429]);
    const other = await first.keyFor('rl-early');
    assert.equal((await whoami(first.baseUrl, other)).status, 200);
    assert.equal(await revokeApiKey(first.running.context.pool, other.split('_')[1]!), 1);
    const revoked = await whoami(first.baseUrl, other);
    assert.equal(revoked.status, 401, 'charged early, but still checked in PostgreSQL on every request');
    assert.equal(revoked.headers.get('ratelimit-remaining'), null);
  });

  test('two backend processes share one budget per key', async () => {
    const key = await first.keyFor('rl-c');
    const seen = [...(await statuses(first.baseUrl, key, 3)), ...(await statuses(secondUrl, key, 3))];
    assert.deepEqual(seen, [200, 200, 200, 200, 200, 429]);
  });

  test('requests without a valid key get 401, not a budget', async () => {
    const response = await whoami(first.baseUrl, 'mh_00000000_notavalidkeyatallnotavalidkeyatallnotavalidke');
    assert.equal(response.status, 401);
    assert.equal(response.headers.get('ratelimit-limit'), null);
  });
});

describe('rate limit without Redis', () => {
  test('REDIS_URL unset: each process counts in memory', async () => {
    const server = await startTestServer('rate_limit_memory', { RATE_LIMIT_PER_MINUTE: '3' });
    try {
      const key = await server.keyFor('rl-memory');
      assert.deepEqual(await statuses(server.baseUrl, key, 4), [200, 200, 200, 429]);
    } finally {
      await server.stop();
    }
  });

  test('RATE_LIMIT_PER_MINUTE=0 turns the limit off', async () => {
    const server = await startTestServer('rate_limit_off', { RATE_LIMIT_PER_MINUTE: '0' });
    try {
      const key = await server.keyFor('rl-off');
      const seen = await statuses(server.baseUrl, key, 20);
      assert.deepEqual(seen, Array(20).fill(200));
      assert.equal((await whoami(server.baseUrl, key)).headers.get('ratelimit-limit'), null);
    } finally {
      await server.stop();
    }
  });

  test('a negative or fractional limit is a configuration error naming the variable', () => {
    assert.throws(() => loadConfig({ RATE_LIMIT_PER_MINUTE: '-1' }), /RATE_LIMIT_PER_MINUTE: must be >= 0/);
    assert.throws(() => loadConfig({ RATE_LIMIT_PER_MINUTE: '1.5' }), /RATE_LIMIT_PER_MINUTE: must be a whole number/);
  });
});
