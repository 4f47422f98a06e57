/**
 * Redis under Sentinel (issue 22): a real master, replica and three sentinels;
 * two backends find the master through the sentinels. The master is killed
 * while both backends ingest and answer queries. Cache, rate limits and the
 * BullMQ job schedulers must carry on on the promoted replica, and nothing is
 * counted twice: the rollups, the folded totals (a job's output) and the API
 * equal the acknowledged events exactly.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Queue } from 'bullmq';
import { createApiKey, createOrganization } from '../src/auth/keys.js';
import { connectRedis, redisConnection } from '../src/cache/redis.js';
import { ConfigError, loadConfig } from '../src/config/env.js';
import { redisTargetOf, type RedisTarget } from '../src/config/redis.js';
import { FOLD_TOTALS_JOB } from '../src/jobs/fold-totals.js';
import { createLogger } from '../src/logger.js';
import { startServer, type RunningServer } from '../src/server.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { SentinelGroup } from './support/redis-sentinel.js';
import { seededRandom } from './support/seeded-random.js';

const SEED = Number(process.env.SEED ?? Date.now() % 1_000_000);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Answer {
  status: number;
  body: unknown;
}

describe('Redis under Sentinel: the master is killed while two backends take traffic', { timeout: 180_000 }, () => {
  let group: SentinelGroup;
  let database: TestDatabase;
  let target: RedisTarget;
  const servers: RunningServer[] = [];
  let key = '';
  let organizationId = '';
  let keyId = '';
  /** Acknowledged events: id -> value. */
  const truth = new Map<string, number>();
  const statuses: number[] = [];
  let oldMaster = 0;
  let newMaster = 0;
  let promotedAt = 0;

  const call = async (server: RunningServer, path: string, json: unknown): Promise<Answer> => {
    const response = await fetch(`http://127.0.0.1:${server.port}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(json),
    });
    statuses.push(response.status);
    return { status: response.status, body: await response.json() };
  };

  // One fixed range, so repeated questions are the same question (and can be answered from the cache).
  const range = { from: new Date(Date.now() - 2 * 86_400_000).toISOString(), to: new Date(Date.now() + 86_400_000).toISOString() };
  const totalsQuery = () => ({
    ...range,
    queries: [
      { refId: 'A', metric: 'orders_created', aggregation: 'count', format: 'kpi' },
      { refId: 'B', metric: 'order_value', aggregation: 'sum', format: 'kpi' },
    ],
  });
  type Kpi = { status: number; frames: Array<{ schema: { meta: { custom: { cached: boolean } } }; data: { values: unknown[][] } }> };
  const kpi = (body: unknown, refId: string) => {
    const result = (body as { results: Record<string, Kpi> }).results[refId]!;
    assert.equal(result.status, 200, JSON.stringify(result));
    const frame = result.frames[0]!;
    return { value: Number(frame.data.values[0]![0] ?? 0), cached: frame.schema.meta.custom.cached };
  };

  before(async () => {
    console.log(`seed ${SEED} (replay: SEED=${SEED})`);
    group = await SentinelGroup.start();
    database = await createTestDatabase('sentinel');
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      DATABASE_URL: database.url,
      ...group.env,
      ALERT_EVALUATION_INTERVAL_SECONDS: '2',
      RATE_LIMIT_PER_MINUTE: '100000',
    });
    target = redisTargetOf(config)!;
    for (let i = 0; i < 2; i += 1) servers.push(await startServer(config, createLogger('silent')));
    const pool = servers[0]!.context.pool;
    organizationId = (await createOrganization(pool, 'sentinel-org')).id;
    ({ key, id: keyId } = await createApiKey(pool, 'sentinel-org', 'test', 'admin'));
  });

  after(async () => {
    for (const server of servers) await server.close().catch(() => undefined);
    await database?.drop();
    await group?.stop();
  });

  test('ingestion and queries carry on while Sentinel promotes the replica; no answer is a 5xx', async () => {
    const rand = seededRandom(SEED);
    let over = false;
    let batchNo = 0;
    const ingest = async (worker: number) => {
      while (!over) {
        const events = Array.from({ length: 20 }, (_, i) => ({
          id: `w${worker}-b${batchNo}-${i}`,
          type: 'order.created',
          occurredAt: new Date(Date.now() - Math.floor(rand() * 3_600_000)).toISOString(),
          value: 1 + Math.floor(rand() * 100),
        }));
        batchNo += 1;
        // A client retries a batch it got no 200 for; the event ids make the retry count once.
        for (let attempt = 0; ; attempt += 1) {
          const answer = await call(servers[(batchNo + attempt) % 2]!, '/api/v1/events', { events });
          if (answer.status === 200) break;
          assert.ok(attempt < 50, `batch refused 50 times, last ${answer.status}: ${JSON.stringify(answer.body)}`);
          await sleep(100);
        }
        for (const event of events) truth.set(event.id, event.value);
      }
    };
    const query = async (worker: number) => {
      for (let i = 0; !over; i += 1) {
        const answer = await call(servers[(worker + i) % 2]!, '/api/v1/query', totalsQuery());
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        await sleep(25);
      }
    };
    const traffic = [ingest(0), ingest(1), query(0), query(1)];
    await sleep(3_000);
    oldMaster = await group.killMaster();
    const killedAt = Date.now();
    newMaster = await group.waitForPromotion(oldMaster);
    promotedAt = Date.now();
    console.log(`master ${oldMaster} killed; replica ${newMaster} promoted after ${promotedAt - killedAt} ms`);
    // Long enough after the promotion for every client to move and for the fold job to tick there.
    await sleep(8_000);
    over = true;
    await Promise.all(traffic);
    assert.notEqual(newMaster, oldMaster);
    assert.ok(truth.size > 0);
    assert.deepEqual(
      statuses.filter((status) => status >= 500),
      [],
      'no 5xx: Redis is a cache and a queue, losing its master never fails a request',
    );
  });

  test('the job schedulers live on in the promoted master and fold every pending total exactly once', async () => {
    const pool = servers[0]!.context.pool;
    // No runNow: only the scheduled fold (BullMQ, on the new master) can empty the pending rows.
    const deadline = Date.now() + 30_000;
    let pending = -1;
    while (Date.now() < deadline) {
      pending = Number((await pool.query<{ n: string }>('SELECT (SELECT count(*) FROM rollup_totals_daily_pending) + (SELECT count(*) FROM rollup_totals_hourly_pending) AS n')).rows[0]!.n);
      if (pending === 0) break;
      await sleep(500);
    }
    assert.equal(pending, 0, 'the fold job ran on the promoted master');

    const queue = new Queue('metricshub-jobs', { connection: redisConnection(target, { maxRetriesPerRequest: null }) });
    try {
      const schedulers = (await queue.getJobSchedulers()).map((s) => s.key).sort();
      assert.ok(schedulers.includes(FOLD_TOTALS_JOB), `schedulers on the new master: ${schedulers.join(', ')}`);
      const completed = await queue.getCompleted(0, 200);
      const foldedAfter = completed.filter((job) => job.name === FOLD_TOTALS_JOB && (job.finishedOn ?? 0) > promotedAt);
      assert.ok(foldedAfter.length >= 1, 'a fold tick completed on the promoted master');
    } finally {
      await queue.close();
    }

    const wantCount = truth.size;
    const wantSum = [...truth.values()].reduce((a, b) => a + b, 0);
    const { rows } = await pool.query<{ raw: number; rollup: number; rollup_sum: number; totals: number; totals_sum: number }>(
      `SELECT (SELECT count(*)::int FROM events WHERE organization_id = $1) AS raw,
              (SELECT coalesce(sum(count), 0)::int FROM rollups_daily WHERE organization_id = $1 AND event_type = 'order.created') AS rollup,
              (SELECT coalesce(sum(sum), 0)::float8 FROM rollups_daily WHERE organization_id = $1 AND event_type = 'order.created') AS rollup_sum,
              (SELECT coalesce(sum(count), 0)::int FROM rollup_totals_daily WHERE organization_id = $1 AND event_type = 'order.created') AS totals,
              (SELECT coalesce(sum(sum), 0)::float8 FROM rollup_totals_daily WHERE organization_id = $1 AND event_type = 'order.created') AS totals_sum`,
      [organizationId],
    );
    assert.deepEqual(rows[0], { raw: wantCount, rollup: wantCount, rollup_sum: wantSum, totals: wantCount, totals_sum: wantSum });
  });

  test('answers are cached in the promoted master under its own replication id, and are exact', async () => {
    const redis = await group.masterClient();
    try {
      const replid = /^master_replid:(\w+)/m.exec(await redis.info('replication'))![1]!.slice(0, 12);
      // A backend that could not bump a version during the failover bumps it on its first read after it.
      for (const server of servers) await call(server, '/api/v1/query', totalsQuery());
      const first = await call(servers[0]!, '/api/v1/query', totalsQuery());
      const second = await call(servers[1]!, '/api/v1/query', totalsQuery());
      const wantSum = [...truth.values()].reduce((a, b) => a + b, 0);
      assert.deepEqual(kpi(first.body, 'A'), { value: truth.size, cached: true });
      assert.deepEqual(kpi(first.body, 'B'), { value: wantSum, cached: true });
      assert.deepEqual(kpi(second.body, 'A'), { value: truth.size, cached: true }, 'both backends read the answer from Redis');
      const keys = await redis.keys(`metrics:${organizationId}:events:v${replid}-*`);
      assert.ok(keys.length >= 1, `answers cached under the new master's id ${replid}`);
    } finally {
      redis.disconnect();
    }
  });

  test('rate limits are counted in the promoted master, one budget for both backends', async () => {
    const redis = await group.masterClient();
    try {
      const counterKey = (await redis.keys('metrics:ratelimit:*')).find((name) => name.includes(keyId));
      assert.ok(counterKey, 'the key has a counter in the promoted master');
      const before = Number(await redis.get(counterKey));
      for (let i = 0; i < 6; i += 1) assert.equal((await call(servers[i % 2]!, '/api/v1/query', totalsQuery())).status, 200);
      assert.equal(Number(await redis.get(counterKey)) - before, 6, 'three requests on each backend, counted in one place');
    } finally {
      redis.disconnect();
    }
  });

  test('the shared connection reaches the master through the sentinels (not a fixed address)', async () => {
    const probe = connectRedis(target, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await probe.connect();
      assert.match(await probe.info('server'), new RegExp(`^tcp_port:${newMaster}\\b`, 'm'));
    } finally {
      probe.disconnect();
    }
  });
});

describe('Sentinel settings', () => {
  test('REDIS_SENTINELS takes host:port pairs; a bad one names the variable, the item and the form', () => {
    const config = loadConfig({ REDIS_SENTINELS: ' 10.0.0.1:26379, sentinel-b:26380 ,[::1]:26381', REDIS_SENTINEL_NAME: 'cache' });
    assert.deepEqual(redisTargetOf(config), {
      kind: 'sentinel',
      name: 'cache',
      sentinels: [
        { host: '10.0.0.1', port: 26379 },
        { host: 'sentinel-b', port: 26380 },
        { host: '::1', port: 26381 },
      ],
      password: undefined,
      sentinelPassword: undefined,
    });
    assert.throws(() => loadConfig({ REDIS_SENTINELS: '10.0.0.1' }), /REDIS_SENTINELS: '10\.0\.0\.1' is not host:port/);
    assert.throws(() => loadConfig({ REDIS_SENTINELS: 'a:1,b:99999' }), /'b:99999' is not host:port/);
    assert.throws(() => loadConfig({ REDIS_SENTINELS: ' , ' }), /REDIS_SENTINELS: lists no sentinel/);
  });

  test('REDIS_URL and REDIS_SENTINELS together are refused; neither means in-process', () => {
    assert.throws(
      () => loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379/0', REDIS_SENTINELS: '127.0.0.1:26379' }),
      (error: unknown) => error instanceof ConfigError && /REDIS_URL and REDIS_SENTINELS are both set/.test(error.message),
    );
    assert.equal(redisTargetOf(loadConfig({})), undefined);
    assert.deepEqual(redisTargetOf(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379/2' })), { kind: 'url', url: 'redis://127.0.0.1:6379/2' });
  });
});
