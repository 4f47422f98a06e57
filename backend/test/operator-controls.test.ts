import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import pg from 'pg';
import { hashKey } from '../src/auth/keys.js';
import { migrateUp, MIGRATIONS_DIR } from '../src/db/migrate.js';
import { DEFAULT_CATALOG_FILE } from '../src/catalog/load.js';
import { loadConfig } from '../src/config/env.js';
import { createLogger } from '../src/logger.js';
import { startServer, type RunningServer } from '../src/server.js';
import { createTestDatabase, redisUrlForTest } from './support/databases.js';
import { startTestServer, type TestServer } from './support/server.js';

const BACKEND_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(BACKEND_DIR, 'bin/metrics-hub.js');
const T0 = Date.UTC(2026, 1, 1);
const HOUR = 3_600_000;
const at = (ms: number) => new Date(ms).toISOString();

/** A metric the shipped catalog lacks, added to a copy of it by the reload tests. */
const EXTRA_METRIC = `
  - key: web_orders_reloaded
    label: Web orders (added by a reload)
    description: Orders created on the web channel.
    unit: short
    source: events
    kind: counter
    dimensions: [channel]
    query: { eventTypes: [order.created], measure: count }
`;

function ordersQuery(metric = 'orders_created') {
  return { from: at(T0), to: at(T0 + HOUR), intervalMs: HOUR, maxDataPoints: 10, queries: [{ refId: 'A', metric }] };
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Log lines a server wrote, parsed, for the audit assertions. */
function captureLogs(): { stream: Writable; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { stream, lines };
}

type QueryAnswer = { results: Record<string, { status: number; error?: string; frames: Array<{ schema: { meta: { custom: { cached: boolean } } }; data: { values: number[][] } }> }> };

describe('operator controls', () => {
  let server: TestServer;
  let second: RunningServer;
  let secondUrl: string;
  let catalogFile: string;
  let tempDir: string;
  const logs = captureLogs();

  before(async () => {
    tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mh-operator-'));
    catalogFile = path.join(tempDir, 'catalog.yaml');
    await fs.copyFile(DEFAULT_CATALOG_FILE, catalogFile);
    const env = { REDIS_URL: redisUrlForTest(13), CATALOG_FILE: catalogFile, RAW_RETENTION_DAYS: '36500', LOG_LEVEL: 'info' };
    server = await startTestServer('operator_controls', env);
    await server.running.context.redis!.flushdb();
    // A second backend process on the same database and Redis, as in a deployment of several.
    const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', ...env, DATABASE_URL: server.database.url });
    second = await startServer(config, createLogger('info', logs.stream));
    secondUrl = `http://127.0.0.1:${second.port}`;
  });

  after(async () => {
    await second?.close();
    await server?.stop();
    await fs.rm(tempDir, { recursive: true, force: true });
  });

  const onSecond = (pathname: string, key: string, init: RequestInit & { json?: unknown } = {}) => {
    const { json, ...rest } = init;
    return fetch(`${secondUrl}${pathname}`, {
      ...rest,
      headers: { authorization: `Bearer ${key}`, ...(json !== undefined && { 'content-type': 'application/json' }) },
      ...(json !== undefined && { body: JSON.stringify(json) }),
    });
  };

  async function rawEventCount(organization: string): Promise<number> {
    const result = await server.running.context.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM events e JOIN organizations o ON o.id = e.organization_id WHERE o.name = $1',
      [organization],
    );
    return result.rows[0]!.n;
  }

  const order = (id: string) => ({ events: [{ id, type: 'order.created', occurredAt: at(T0 + 60_000), value: 10, attributes: { channel: 'web' } }] });

  describe('key scopes', () => {
    test('a read key reads and cannot write: 403 with both scopes, nothing stored', async () => {
      const key = await server.keyFor('scope-read', 'read');
      for (const [method, route, json] of [
        ['GET', '/api/v1/catalog', undefined],
        ['POST', '/api/v1/query', ordersQuery()],
        ['POST', '/api/v1/variables', { query: 'metrics' }],
        ['GET', '/api/v1/summary', undefined],
        ['GET', '/api/v1/alerts', undefined],
        ['GET', '/api/v1/annotations', undefined],
        ['GET', '/api/v1/whoami', undefined],
        ['GET', '/api/v1/sources', undefined],
      ] as const) {
        const res = await server.request(route, { method, key, json });
        assert.notEqual(res.status, 403, `${method} ${route} is a read route`);
        assert.notEqual(res.status, 401);
      }
      const refused = await server.request('/api/v1/events', { method: 'POST', key, json: order('read-1') });
      assert.equal(refused.status, 403);
      const body = (await refused.json()) as { error: string; scope: string; requiredScope: string };
      assert.equal(body.scope, 'read');
      assert.equal(body.requiredScope, 'ingest');
      assert.match(body.error, /has scope 'read'.*needs scope 'ingest'/);
      assert.equal(await rawEventCount('scope-read'), 0, 'a refused write stores nothing');
      for (const [method, route] of [['GET', '/api/v1/keys'], ['POST', '/api/v1/keys'], ['POST', '/api/v1/admin/catalog/reload'], ['POST', '/api/v1/sources/events/cache/clear']] as const) {
        const res = await server.request(route, { method, key, json: method === 'POST' ? { scope: 'admin' } : undefined });
        assert.equal(res.status, 403, `${method} ${route} needs admin`);
        assert.equal(((await res.json()) as { requiredScope: string }).requiredScope, 'admin');
      }
    });

    test('an ingest key writes events and reads nothing', async () => {
      const key = await server.keyFor('scope-ingest', 'ingest');
      const res = await server.request('/api/v1/events', { method: 'POST', key, json: order('ingest-1') });
      assert.equal(res.status, 200);
      assert.equal(await rawEventCount('scope-ingest'), 1);
      for (const [method, route, json] of [
        ['POST', '/api/v1/query', ordersQuery()],
        ['GET', '/api/v1/catalog', undefined],
        ['GET', '/api/v1/export.csv?from=2026-02-01T00:00:00Z&to=2026-02-02T00:00:00Z&metric=orders_created', undefined],
        ['GET', '/api/v1/live?metrics=orders_created', undefined],
        ['GET', '/api/v1/keys', undefined],
      ] as const) {
        const refused = await server.request(route, { method, key, json });
        assert.equal(refused.status, 403, `${method} ${route}`);
        assert.equal(((await refused.json()) as { scope: string }).scope, 'ingest');
      }
    });

    test('an admin key manages keys over HTTP; a narrowed or revoked key stops at once on both processes', async () => {
      const admin = await server.keyFor('scope-admin', 'admin');
      const unknownScope = await server.request('/api/v1/keys', { method: 'POST', key: admin, json: { scope: 'superuser' } });
      assert.equal(unknownScope.status, 400);
      assert.match(((await unknownScope.json()) as { error: string }).error, /scope: must be one of read, ingest, admin/);

      const created = await server.request('/api/v1/keys', { method: 'POST', key: admin, json: { scope: 'admin', name: 'producer' } });
      assert.equal(created.status, 201);
      const producer = (await created.json()) as { id: string; key: string; scope: string };
      assert.equal(producer.scope, 'admin');
      assert.equal((await onSecond('/api/v1/events', producer.key, { method: 'POST', json: order('admin-1') })).status, 200);

      const narrowed = await server.request(`/api/v1/keys/${producer.id}`, { method: 'PATCH', key: admin, json: { scope: 'read' } });
      assert.equal(narrowed.status, 200);
      for (const request of [
        () => server.request('/api/v1/events', { method: 'POST', key: producer.key, json: order('admin-2') }),
        () => onSecond('/api/v1/events', producer.key, { method: 'POST', json: order('admin-3') }),
      ]) {
        assert.equal((await request()).status, 403, 'narrowed to read: refused on both processes');
      }
      assert.equal(await rawEventCount('scope-admin'), 1);

      const listed = (await (await server.request('/api/v1/keys', { key: admin })).json()) as { keys: Array<{ id: string; scope: string; prefix: string }> };
      assert.equal(listed.keys.find((key) => key.id === producer.id)?.scope, 'read');
      assert.ok(listed.keys.every((key) => !('key' in key) && !('key_hash' in key)), 'listings never show a key');

      assert.equal((await server.request(`/api/v1/keys/${producer.id}`, { method: 'DELETE', key: admin })).status, 200);
      assert.equal((await server.request('/api/v1/whoami', { key: producer.key })).status, 401);
      assert.equal((await onSecond('/api/v1/whoami', producer.key)).status, 401);

      const other = await server.keyFor('scope-other', 'admin');
      const otherKeys = (await (await server.request('/api/v1/keys', { key: other })).json()) as { keys: Array<{ id: string }> };
      assert.equal((await server.request(`/api/v1/keys/${otherKeys.keys[0]!.id}`, { method: 'DELETE', key: admin })).status, 404, "another organization's key cannot be touched");
    });

    test('last use is recorded in batches, not with a write per request', async () => {
      const key = await server.keyFor('scope-usage', 'read');
      const original = pg.Client.prototype.query;
      let keyUpdates = 0;
      pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
        const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string } | undefined)?.text;
        if (text && /UPDATE api_keys/.test(text)) keyUpdates += 1;
        return (original as (...a: unknown[]) => unknown).apply(this, args);
      } as typeof original;
      try {
        for (let index = 0; index < 20; index += 1) assert.equal((await server.request('/api/v1/whoami', { key })).status, 200);
      } finally {
        pg.Client.prototype.query = original;
      }
      assert.ok(keyUpdates <= 1, `20 requests made ${keyUpdates} key updates`);
    });
  });

  describe('sources admin', () => {
    test('GET /sources shows health, last success, recent latency, cache TTL and the age of the newest cached answer', async () => {
      const key = await server.keyFor('sources-view', 'admin');
      assert.equal((await server.request('/api/v1/events', { method: 'POST', key, json: order('view-1') })).status, 200);
      assert.equal((await server.request('/api/v1/query', { method: 'POST', key, json: ordersQuery() })).status, 200);
      const res = await server.request('/api/v1/sources', { key });
      assert.equal(res.status, 200);
      const body = (await res.json()) as {
        catalog: { version: string; file: string };
        sources: Array<{ id: string; status: string; lastSuccessAt: string | null; latencyP50Ms: number | null; latencyP95Ms: number | null; cacheTtlSeconds: number; newestCachedAnswerAgeSeconds: number | null }>;
      };
      assert.equal(body.catalog.file, catalogFile);
      assert.match(body.catalog.version, /^[0-9a-f]{12}$/);
      const events = body.sources.find((source) => source.id === 'events')!;
      assert.equal(events.status, 'up');
      assert.ok(events.lastSuccessAt && Date.parse(events.lastSuccessAt) > Date.now() - 60_000);
      assert.ok(events.latencyP50Ms !== null && events.latencyP95Ms !== null && events.latencyP95Ms >= events.latencyP50Ms);
      assert.equal(events.cacheTtlSeconds, 45);
      assert.ok(events.newestCachedAnswerAgeSeconds !== null && events.newestCachedAnswerAgeSeconds <= 60);
      const external = body.sources.find((source) => source.id !== 'events');
      if (external) assert.equal(external.newestCachedAnswerAgeSeconds, null, 'nothing was asked of that source');
    });

    test('clearing a source cache makes the next answer come from the source, for that organization only', async () => {
      const key = await server.keyFor('cache-clear', 'admin');
      const neighbour = await server.keyFor('cache-neighbour', 'admin');
      const cachedFlag = async (who: string, base?: string) => {
        const res = base ? await onSecond('/api/v1/query', who, { method: 'POST', json: ordersQuery() }) : await server.request('/api/v1/query', { method: 'POST', key: who, json: ordersQuery() });
        const answer = (await res.json()) as QueryAnswer;
        assert.equal(answer.results.A!.status, 200);
        return answer.results.A!.frames[0]!.schema.meta.custom.cached;
      };
      await cachedFlag(key);
      await cachedFlag(neighbour);
      await waitFor(async () => (await cachedFlag(key)) && (await cachedFlag(neighbour)), 'both answers cached');

      const cleared = await server.request('/api/v1/sources/events/cache/clear', { method: 'POST', key });
      assert.equal(cleared.status, 200);
      assert.equal(await cachedFlag(key, 'second process'), false, 'the clear reaches the other process through Redis');
      assert.equal(await cachedFlag(neighbour), true, "another organization's answers stay cached");

      const unknown = await server.request('/api/v1/sources/nope/cache/clear', { method: 'POST', key });
      assert.equal(unknown.status, 404);
      assert.match(((await unknown.json()) as { error: string }).error, /source 'nope' is not in the catalog/);
    });
  });

  describe('catalog reload', () => {
    test('a new metric answers on both processes after one reload; a broken file keeps the old catalog', async () => {
      const key = await server.keyFor('reload', 'admin');
      const before = (await (await server.request('/api/v1/query', { method: 'POST', key, json: ordersQuery('web_orders_reloaded') })).json()) as QueryAnswer;
      assert.equal(before.results.A!.status, 400);

      await fs.appendFile(catalogFile, EXTRA_METRIC);
      const reloaded = await server.request('/api/v1/admin/catalog/reload', { method: 'POST', key });
      assert.equal(reloaded.status, 200);
      const result = (await reloaded.json()) as { changed: boolean; version: string; previousVersion: string };
      assert.equal(result.changed, true);
      assert.notEqual(result.version, result.previousVersion);

      assert.equal((await server.request('/api/v1/events', { method: 'POST', key, json: order('reload-1') })).status, 200);
      const answer = (await (await server.request('/api/v1/query', { method: 'POST', key, json: ordersQuery('web_orders_reloaded') })).json()) as QueryAnswer;
      assert.equal(answer.results.A!.status, 200);
      assert.equal(answer.results.A!.frames[0]!.data.values[1]![0], 1);
      await waitFor(async () => {
        const other = (await (await onSecond('/api/v1/query', key, { method: 'POST', json: ordersQuery('web_orders_reloaded') })).json()) as QueryAnswer;
        return other.results.A!.status === 200;
      }, 'the second process to load the new metric');

      const good = await fs.readFile(catalogFile, 'utf8');
      await fs.writeFile(catalogFile, good.replace('key: web_orders_reloaded', 'key: Web Orders Reloaded'));
      const refused = await server.request('/api/v1/admin/catalog/reload', { method: 'POST', key });
      assert.equal(refused.status, 422);
      const problem = (await refused.json()) as { error: string; file: string; problems: Array<{ path: string; message: string; line?: number }> };
      assert.equal(problem.file, catalogFile);
      assert.ok(problem.problems.some((one) => /^metrics\[\d+\]\.key$/.test(one.path)), JSON.stringify(problem.problems));
      assert.match(problem.error, /keeps serving/);
      const still = (await (await server.request('/api/v1/query', { method: 'POST', key, json: ordersQuery('web_orders_reloaded') })).json()) as QueryAnswer;
      assert.equal(still.results.A!.status, 200, 'the old catalog keeps serving');
      await fs.writeFile(catalogFile, good);
      assert.ok(logs.lines.some((line) => line.msg === 'catalog reloaded'), 'the second process reloaded on the announcement');
    });

    test('every admin action leaves an audit line with who, what and when', async () => {
      const captured = captureLogs();
      const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', REDIS_URL: redisUrlForTest(13), CATALOG_FILE: catalogFile, DATABASE_URL: server.database.url, LOG_LEVEL: 'info' });
      const third = await startServer(config, createLogger('info', captured.stream));
      try {
        const key = await server.keyFor('audit', 'admin');
        const base = `http://127.0.0.1:${third.port}`;
        const post = (route: string, json?: unknown) =>
          fetch(`${base}${route}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(json ?? {}) });
        assert.equal((await post('/api/v1/sources/events/cache/clear')).status, 200);
        assert.equal((await post('/api/v1/keys', { scope: 'read' })).status, 201);
        assert.equal((await post('/api/v1/admin/catalog/reload')).status, 200);
        const audits = captured.lines.filter((line) => line.audit === true);
        assert.deepEqual(audits.map((line) => line.action), ['source.cache.clear', 'key.create', 'catalog.reload']);
        for (const line of audits) {
          assert.equal(typeof (line.actor as { keyId?: string }).keyId, 'string');
          assert.ok(typeof line.time === 'string' && Date.parse(line.time) > Date.now() - 60_000);
        }
      } finally {
        await third.close();
      }
    });

    test('SIGHUP reloads the catalog of a running serve process', { timeout: 120_000 }, async () => {
      const port = await freePort();
      const child = spawn(process.execPath, [CLI, 'serve'], {
        cwd: BACKEND_DIR,
        env: { ...process.env, DATABASE_URL: server.database.url, REDIS_URL: '', PORT: String(port), HOST: '127.0.0.1', CATALOG_FILE: catalogFile, LOG_LEVEL: 'info', DEMO_DATA: 'off' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout!.on('data', (chunk) => (output += chunk));
      child.stderr!.on('data', (chunk) => (output += chunk));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      try {
        const key = await server.keyFor('sighup', 'read');
        const metricKeys = async () => {
          const res = await fetch(`http://127.0.0.1:${port}/api/v1/catalog`, { headers: { authorization: `Bearer ${key}` } });
          return ((await res.json()) as { metrics: Array<{ key: string }> }).metrics.map((metric) => metric.key);
        };
        await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health/ready`)).status === 200, `serve ready (output: ${output})`, 90_000);
        const extra = EXTRA_METRIC.replaceAll('web_orders_reloaded', 'sighup_orders');
        const good = await fs.readFile(catalogFile, 'utf8');
        assert.ok(!(await metricKeys()).includes('sighup_orders'));
        await fs.appendFile(catalogFile, extra);
        child.kill('SIGHUP');
        await waitFor(async () => (await metricKeys()).includes('sighup_orders'), `the metric added before SIGHUP (output: ${output.slice(-3000)})`);
        await fs.writeFile(catalogFile, `${good}\n  - key: [broken\n`);
        child.kill('SIGHUP');
        await waitFor(async () => /SIGHUP: catalog not reloaded/.test(output), 'the refused reload to be logged');
        assert.ok((await metricKeys()).includes('sighup_orders'), 'a broken file keeps the old catalog');
        await fs.writeFile(catalogFile, good);
        child.kill('SIGTERM');
        await exited;
      } finally {
        child.kill('SIGKILL');
      }
    });
  });
});

describe('key scopes on the command line', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer('operator_cli');
  });
  after(async () => {
    await server?.stop();
  });

  function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, DATABASE_URL: server.database.url, LOG_LEVEL: 'warn' }, cwd: BACKEND_DIR });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => (stdout += chunk));
      child.stderr.on('data', (chunk) => (stderr += chunk));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  test('keys create needs a known scope; keys list shows scope and last use; set-scope narrows', { timeout: 120_000 }, async () => {
    assert.equal((await runCli(['orgs', 'create', 'cli-scopes'])).code, 0);
    const unknown = await runCli(['keys', 'create', '--org', 'cli-scopes', '--scope', 'owner']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown scope 'owner': use one of read, ingest, admin/);
    const missing = await runCli(['keys', 'create', '--org', 'cli-scopes']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /--scope/);

    const created = await runCli(['keys', 'create', '--org', 'cli-scopes', '--scope', 'ingest']);
    assert.equal(created.code, 0, created.stderr);
    const key = created.stdout.trim().split('\n').at(-1)!;
    assert.match(key, /^mh_[a-z0-9]{8}_/);
    assert.match(created.stderr, /"audit":true/);
    assert.equal((await server.request('/api/v1/events', { method: 'POST', key, json: { events: [] } })).status, 200, 'an ingest key may post events');
    assert.equal((await server.request('/api/v1/catalog', { key })).status, 403);

    const prefix = key.split('_')[1]!;
    const narrowed = await runCli(['keys', 'set-scope', prefix, '--scope', 'read']);
    assert.equal(narrowed.code, 0, narrowed.stderr);
    assert.equal((await server.request('/api/v1/catalog', { key })).status, 200);

    // The server records last use on its next flush (at most 30 s) and at shutdown.
    await server.running.close();
    const listed = await runCli(['keys', 'list', '--org', 'cli-scopes']);
    assert.equal(listed.code, 0, listed.stderr);
    const row = listed.stdout.split('\n').find((line) => line.includes(prefix))!;
    const [, , scope, , , lastUsed] = row.split('\t');
    assert.equal(scope, 'read');
    assert.ok(lastUsed && lastUsed !== 'never' && Date.parse(lastUsed) > Date.now() - 120_000, row);
  });
});

describe('key scopes migration', () => {
  test('keys made before scopes existed keep working, as admin', async () => {
    const database = await createTestDatabase('scope_migration');
    const client = new pg.Client({ connectionString: database.url });
    try {
      const files = (await fs.readdir(MIGRATIONS_DIR)).filter((file) => file.endsWith('.sql')).sort();
      const before = files.indexOf('0070_api_key_scopes.sql');
      assert.ok(before > 0);
      await runner({ databaseUrl: database.url, dir: MIGRATIONS_DIR, direction: 'up', migrationsTable: 'pgmigrations', count: before, log: () => undefined });
      await client.connect();
      const org = await client.query<{ id: string }>("INSERT INTO organizations (name) VALUES ('old') RETURNING id");
      await client.query("INSERT INTO api_keys (organization_id, prefix, key_hash) VALUES ($1, 'oldkey00', $2)", [org.rows[0]!.id, hashKey('mh_oldkey00_x')]);
      await migrateUp(database.url, createLogger('silent'));
      const keys = await client.query<{ scope: string; last_used_at: Date | null }>('SELECT scope, last_used_at FROM api_keys');
      assert.deepEqual(keys.rows, [{ scope: 'admin', last_used_at: null }]);
      await assert.rejects(client.query("INSERT INTO api_keys (organization_id, prefix, key_hash) VALUES ($1, 'newkey00', 'h')", [org.rows[0]!.id]), /null value in column "scope"/, 'new keys must name a scope');
    } finally {
      await client.end();
      await database.drop();
    }
  });
});
