/**
 * Read replicas and failover against real servers started here: a primary
 * (initdb) and hot standbys (pg_basebackup), see support/pg-cluster.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import type { Counter } from 'prom-client';
import { createApiKey, createOrganization } from '../src/auth/keys.js';
import { CacheVersions } from '../src/cache/versions.js';
import { loadConfig } from '../src/config/env.js';
import { serverUrls } from '../src/db/hosts.js';
import { createPool, currentWalPosition } from '../src/db/pool.js';
import { createLogger } from '../src/logger.js';
import { startServer, type RunningServer } from '../src/server.js';
import { ClusterHome, waitForReplay, type PgServer } from './support/pg-cluster.js';
import { redisUrlForTest } from './support/databases.js';

const DATABASE = 'metrics_hub';
const HOUR = 3_600_000;

function orders(prefix: string, count: number): Array<Record<string, unknown>> {
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}-${i}`,
    type: 'order.created',
    occurredAt: new Date(Date.now() - 60_000).toISOString(),
    value: 1,
    attributes: { channel: 'web' },
  }));
}

/** Orders counted by the API over the last `hours` (a different range is a different cache entry). */
async function apiCount(baseUrl: string, key: string, hours: number): Promise<{ total: number; cached: boolean }> {
  const to = Math.ceil(Date.now() / HOUR) * HOUR + HOUR;
  const response = await fetch(`${baseUrl}/api/v1/query`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ from: new Date(to - hours * HOUR).toISOString(), to: new Date(to).toISOString(), intervalMs: hours * HOUR, queries: [{ refId: 'A', metric: 'orders_created', aggregation: 'count' }] }),
  });
  assert.equal(response.status, 200);
  const result = ((await response.json()) as { results: { A: { status: number; error?: string; frames: Array<{ schema: { meta: { custom: { cached: boolean } } }; data: { values: number[][] } }> } } }).results.A;
  assert.equal(result.status, 200, result.error);
  const frame = result.frames[0]!;
  return { total: frame.data.values[1]!.reduce((sum, value) => sum + (value ?? 0), 0), cached: frame.schema.meta.custom.cached };
}

async function ingest(baseUrl: string, key: string, events: unknown[]): Promise<Response> {
  return fetch(`${baseUrl}/api/v1/events`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ events }) });
}

async function readsTo(running: RunningServer, target: 'replica' | 'primary'): Promise<number> {
  const counter = running.context.metrics.registry.getSingleMetric('metricshub_db_reads_total') as Counter<'target' | 'reason'>;
  return (await counter.get()).values.filter((entry) => entry.labels.target === target).reduce((sum, entry) => sum + entry.value, 0);
}

test('DATABASE_URL and DATABASE_READ_URL take libpq multi-host URLs and lists of URLs; a bad one names the variable', () => {
  assert.deepEqual(serverUrls('postgres://u:p@a:5432,b:5433/db?target_session_attrs=read-write&sslmode=disable'), ['postgres://u:p@a:5432/db?sslmode=disable', 'postgres://u:p@b:5433/db?sslmode=disable']);
  assert.deepEqual(serverUrls('postgres://u@a/db, postgresql://u@b:6000/db'), ['postgres://u@a/db', 'postgresql://u@b:6000/db']);
  assert.throws(() => loadConfig({ DATABASE_READ_URL: 'postgres://u@a,,b/db' }), /DATABASE_READ_URL: 'a,,b' has an empty host/);
  assert.throws(() => loadConfig({ DATABASE_URL: 'mysql://a/db' }), /DATABASE_URL: must be a URL starting with postgres:\/\//);
});

describe('a read replica that lags on purpose (recovery_min_apply_delay)', () => {
  let home: ClusterHome;
  let primary: PgServer;
  let standby: PgServer;
  let running: RunningServer;
  let key: string;
  let organizationId: string;
  let redis: Redis;
  const redisUrl = redisUrlForTest(15);

  before(async () => {
    home = new ClusterHome('replica-lag');
    primary = await home.primary();
    await primary.query(`CREATE DATABASE ${DATABASE}`);
    // An hour: the standby applies nothing during the test until told otherwise.
    standby = await home.standby(primary, { recovery_min_apply_delay: "'1h'" });
    redis = new Redis(redisUrl);
    await redis.flushdb();
    const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', DATABASE_URL: primary.url(DATABASE), DATABASE_READ_URL: standby.url(DATABASE), REDIS_URL: redisUrl });
    running = await startServer(config, createLogger('silent'));
    organizationId = (await createOrganization(running.context.pool, 'lagging')).id;
    key = (await createApiKey(running.context.pool, 'lagging', 'test', 'admin')).key;
  });
  after(async () => {
    await running?.close();
    redis?.disconnect();
    await home?.cleanup();
  });

  const baseUrl = () => `http://127.0.0.1:${running.port}`;
  const applyDelay = (value: string) => standby.configure({ recovery_min_apply_delay: value });

  test('reads after a write go to the primary until the standby replayed it, so a stale answer is never cached under the new version', async () => {
    // The standby has the schema and the organization, then stops applying.
    await applyDelay('0');
    await waitForReplay(standby, (await primary.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn'))[0]!.lsn);
    await applyDelay("'1h'");

    assert.equal((await ingest(baseUrl(), key, orders('first', 10))).status, 200);
    // The write's WAL position is kept beside the organization's cache version.
    const floor = BigInt((await redis.get(CacheVersions.floorKey(organizationId)))!);
    const [lagging] = await standby.query<{ replayed: string; rows: number }>(
      `SELECT (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::text AS replayed, (SELECT count(*)::int FROM rollups_hourly WHERE organization_id = $1) AS rows`,
      [organizationId],
      DATABASE,
    );
    assert.ok(BigInt(lagging!.replayed) < floor, 'the standby must lag behind the write for this test to mean anything');
    assert.equal(lagging!.rows, 0, 'the standby does not have the write yet');

    const primaryReads = await readsTo(running, 'primary');
    assert.deepEqual(await apiCount(baseUrl(), key, 24), { total: 10, cached: false });
    assert.ok((await readsTo(running, 'primary')) > primaryReads, 'the lagging standby was not asked to answer');
    assert.deepEqual(await apiCount(baseUrl(), key, 24), { total: 10, cached: true });

    // Caught up, the standby answers (a new question: a different range).
    await applyDelay('0');
    await waitForReplay(standby, (await primary.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn'))[0]!.lsn);
    const replicaReads = await readsTo(running, 'replica');
    assert.deepEqual(await apiCount(baseUrl(), key, 48), { total: 10, cached: false });
    assert.ok((await readsTo(running, 'replica')) > replicaReads, 'the caught-up standby answered');

    // Lagging again: the next write is read from the primary, the version moved so nothing old is served.
    await applyDelay("'1h'");
    assert.equal((await ingest(baseUrl(), key, orders('second', 5))).status, 200);
    assert.deepEqual(await apiCount(baseUrl(), key, 48), { total: 15, cached: false });
    assert.deepEqual(await apiCount(baseUrl(), key, 24), { total: 15, cached: false });
  });

  test('a lost read floor (Redis flushed) is seeded from the primary: everything committed before is covered', async () => {
    await redis.del(CacheVersions.floorKey(organizationId));
    const before = await currentWalPosition(running.context.pool);
    const floor = await running.context.cacheVersions.readFloor(organizationId);
    assert.ok(floor !== undefined && floor >= before, `floor ${floor} is at least the primary's position ${before}`);
    assert.equal(await redis.get(CacheVersions.floorKey(organizationId)), String(floor));
  });

  test('a standby that stops answering hands its reads to the primary', async () => {
    await standby.stop('immediate');
    assert.equal((await ingest(baseUrl(), key, orders('third', 1))).status, 200);
    assert.deepEqual(await apiCount(baseUrl(), key, 72), { total: 16, cached: false });
  });
});

describe('failover: the standby is promoted while a backend ingests', () => {
  let home: ClusterHome;
  let primary: PgServer;
  let standby: PgServer;
  let running: RunningServer;
  let key: string;

  before(async () => {
    home = new ClusterHome('failover');
    primary = await home.primary();
    await primary.query(`CREATE DATABASE ${DATABASE}`);
    standby = await home.standby(primary);
    // Synchronous from now on: a COMMIT returns once the standby has flushed it.
    await primary.configure({ synchronous_commit: 'on', synchronous_standby_names: "'*'" });
    const servers = `postgres://postgres@127.0.0.1:${primary.port},127.0.0.1:${standby.port}/${DATABASE}?target_session_attrs=read-write`;
    const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', DATABASE_URL: servers, DATABASE_READ_URL: servers });
    running = await startServer(config, createLogger('silent'));
    await createOrganization(running.context.pool, 'failing-over');
    key = (await createApiKey(running.context.pool, 'failing-over', 'test', 'admin')).key;
  });
  after(async () => {
    await running?.close();
    await home?.cleanup();
  });

  test('a standby listed first costs no failed request: the pool finds the primary (pg_is_in_recovery) on the first connection', async () => {
    const standbyFirst = createPool(`postgres://postgres@127.0.0.1:${standby.port},127.0.0.1:${primary.port}/${DATABASE}`, 2, createLogger('silent'));
    try {
      const { rows } = await standbyFirst.query<{ standby: boolean; port: number }>('SELECT pg_is_in_recovery() AS standby, inet_server_port() AS port');
      assert.deepEqual(rows[0], { standby: false, port: primary.port });
    } finally {
      await standbyFirst.end();
    }
  });

  test('with synchronous replication no acknowledged event is lost; during the switch answers are 503 with Retry-After, never 500; no restart', async (t) => {
    const baseUrl = `http://127.0.0.1:${running.port}`;
    const acknowledged = new Set<string>();
    const statuses = new Map<number, number>();
    let batch = 0;
    let promoted = false;
    let afterPromotion = 0;
    // A 503 batch is sent again with the same ids, as a client does: its commit may have landed before the
    // connection was cut (the standby had it, synchronously), and the retry must then count nothing twice.
    let retry: ReturnType<typeof orders> | undefined;
    const send = async () => {
      const events = retry ?? orders(`b${batch++}`, 20);
      const response = await ingest(baseUrl, key, events);
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      retry = response.status === 200 ? undefined : events;
      if (response.status === 200) {
        for (const event of events) acknowledged.add(event.id as string);
        if (promoted) afterPromotion += 1;
      } else {
        assert.equal(response.status, 503, `during the switch: ${response.status} ${await response.text()}`);
        assert.ok(Number(response.headers.get('retry-after')) >= 1, '503 carries Retry-After');
      }
    };
    const load = (async () => {
      while (afterPromotion < 10) await send();
    })();
    while (acknowledged.size < 200) await new Promise((resolve) => setTimeout(resolve, 20));
    // The primary crashes (no checkpoint, connections cut); the standby takes over.
    await primary.stop('immediate');
    await standby.promote();
    // Alone now: waiting for a synchronous standby would stall every commit (what a failover manager does too).
    await standby.configure({ synchronous_standby_names: "''" });
    promoted = true;
    await load;
    t.diagnostic(`answers: ${JSON.stringify(Object.fromEntries(statuses))}, ${acknowledged.size} events acknowledged`);

    const [stored] = await standby.query<{ n: number }>('SELECT count(*)::int AS n FROM events', [], DATABASE);
    assert.equal(stored!.n, acknowledged.size, `lost ${acknowledged.size - stored!.n} acknowledged events`);
    assert.equal((await apiCount(baseUrl, key, 24)).total, acknowledged.size);
    assert.deepEqual([...statuses.keys()].filter((status) => status !== 200 && status !== 503), [], JSON.stringify([...statuses]));
  });
});
