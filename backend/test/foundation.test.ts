import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import parsePrometheus from 'parse-prometheus-text-format';
import { revokeApiKey } from '../src/auth/keys.js';
import { ConfigError, loadConfig } from '../src/config/env.js';
import { migrateUp } from '../src/db/migrate.js';
import { createLogger } from '../src/logger.js';
import { createTestDatabase } from './support/databases.js';
import { freePort, startRedisServer } from './support/redis-server.js';
import { startTestServer, type TestServer } from './support/server.js';

const BACKEND_DIR = path.resolve(import.meta.dirname, '..');
const CLI = path.join(BACKEND_DIR, 'bin/metrics-hub.js');
const silent = createLogger('silent');

function runCli(args: string[], env: Record<string, string | undefined>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, cwd: BACKEND_DIR });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('configuration', () => {
  test('a bad PORT stops the start with the variable and the reason', () => {
    assert.throws(() => loadConfig({ PORT: 'eighty' }), (error: unknown) => error instanceof ConfigError && /PORT: must be a number/.test(error.message));
    assert.throws(() => loadConfig({ PORT: '70000' }), /PORT: must be between 0 and 65535/);
  });

  test('a DATABASE_URL that is not a PostgreSQL URL is refused', () => {
    assert.throws(() => loadConfig({ DATABASE_URL: 'mysql://localhost/db' }), /DATABASE_URL: must be a URL starting with postgres:\/\/ or postgresql:\/\//);
  });

  test('defaults apply and empty values count as unset', () => {
    const config = loadConfig({ DATABASE_URL: '', PORT: '' });
    assert.equal(config.PORT, 4100);
    assert.equal(config.DATABASE_URL, undefined);
    assert.equal(config.CACHE_TTL_SECONDS, 45);
  });

  test('the CLI exits non-zero with the message when the configuration is bad', async () => {
    const result = await runCli(['serve'], { PORT: 'abc', DATABASE_URL: process.env.DATABASE_URL });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /PORT: must be a number/);
  });
});

describe('migrations', () => {
  test('apply on an empty database, then a second run changes nothing', async () => {
    const database = await createTestDatabase('migrations');
    try {
      const first = await migrateUp(database.url, silent);
      assert.ok(first.includes('0001_organizations_and_api_keys'), `applied: ${first.join(',')}`);
      const second = await migrateUp(database.url, silent);
      assert.deepEqual(second, []);
    } finally {
      await database.drop();
    }
  });
});

describe('API keys', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer('auth');
  });
  after(() => server.stop());

  test('401 without a key, with a malformed header, and with an unknown key', async () => {
    const variants: Array<Record<string, string>> = [{}, { authorization: 'Basic abc' }, { authorization: 'Bearer mh_00000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }];
    for (const headers of variants) {
      const res = await server.request('/api/v1/whoami', { headers });
      assert.equal(res.status, 401);
      const body = (await res.json()) as { error: string };
      assert.match(body.error, /API key/);
    }
  });

  test('a valid key is bound to its organization; a revoked key stops working at once', async () => {
    const key = await server.keyFor('acme');
    const ok = await server.request('/api/v1/whoami', { key });
    assert.equal(ok.status, 200);
    assert.equal(((await ok.json()) as { organization: { name: string } }).organization.name, 'acme');

    const prefix = key.split('_')[1]!;
    assert.equal(await revokeApiKey(server.running.context.pool, prefix), 1);
    const revoked = await server.request('/api/v1/whoami', { key });
    assert.equal(revoked.status, 401);
  });

  test('only the SHA-256 digest of a key is stored', async () => {
    const key = await server.keyFor('hashco');
    const rows = await server.running.context.pool.query<{ key_hash: string }>(
      "SELECT key_hash FROM api_keys k JOIN organizations o ON o.id = k.organization_id WHERE o.name = 'hashco'",
    );
    assert.equal(rows.rowCount, 1);
    assert.notEqual(rows.rows[0]!.key_hash, key);
    // The secret is everything after mh_<prefix>_: base64url, so it may hold '_' itself (splitting on '_' once
    // gave an empty or two-letter piece that a hex digest can contain).
    const secret = key.slice(`mh_${key.split('_')[1]}_`.length);
    assert.equal(secret.length, 43);
    assert.ok(!rows.rows[0]!.key_hash.includes(secret));
    assert.equal(rows.rows[0]!.key_hash, createHash('sha256').update(key).digest('hex'));
  });

  test('keys create prints the key as the last line and the key works', async () => {
    const env = { DATABASE_URL: server.database.url, LOG_LEVEL: 'warn' };
    assert.equal((await runCli(['orgs', 'create', 'cli-org'], env)).code, 0);
    const created = await runCli(['keys', 'create', '--org', 'cli-org', '--scope', 'read'], env);
    assert.equal(created.code, 0, created.stderr);
    const key = created.stdout.trim().split('\n').at(-1)!;
    assert.match(key, /^mh_[a-z0-9]{8}_/);
    const res = await server.request('/api/v1/whoami', { key });
    const who = (await res.json()) as { organization: { name: string }; key: { scope: string } };
    assert.equal(who.organization.name, 'cli-org');
    assert.equal(who.key.scope, 'read');

    const generated = (await runCli(['keys', 'generate'], env)).stdout.trim();
    assert.equal((await runCli(['keys', 'import', '--org', 'cli-org', '--key', generated, '--scope', 'ingest'], env)).code, 0);
    assert.equal((await runCli(['keys', 'import', '--org', 'cli-org', '--key', generated, '--scope', 'ingest'], env)).code, 0, 'import is idempotent');
    const imported = await server.request('/api/v1/events', { key: generated, method: 'POST', json: { events: [] } });
    assert.notEqual(imported.status, 401);
    assert.notEqual(imported.status, 403);
    const malformed = await runCli(['keys', 'import', '--org', 'cli-org', '--key', 'not-a-key', '--scope', 'read'], env);
    assert.equal(malformed.code, 2);
    assert.match(malformed.stderr, /the key must look like/);

    const missing = await runCli(['keys', 'create', '--org', 'nope', '--scope', 'admin'], env);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /organization 'nope' does not exist/);
  });
});

describe('health and metrics', () => {
  test('/health/ready is 503 with the reason when Redis stops', async () => {
    const redis = await startRedisServer();
    const server = await startTestServer('health_redis', { REDIS_URL: redis.url });
    try {
      await waitFor(async () => (await server.request('/health/ready')).status === 200, 10_000, 'ready with redis');
      await redis.stop();
      await waitFor(async () => (await server.request('/health/ready')).status === 503, 10_000, '503 after redis stops');
      const body = (await (await server.request('/health/ready')).json()) as { reason: string; checks: Record<string, { ok: boolean }> };
      assert.match(body.reason, /^cache: /);
      assert.equal(body.checks.database!.ok, true);
    } finally {
      await redis.stop();
      await server.stop();
    }
  });

  test('/health/ready is 503 with the reason when the database is unreachable', async () => {
    const server = await startTestServer('health_db');
    try {
      assert.equal((await server.request('/health/ready')).status, 200);
      await server.database.drop();
      const res = await server.request('/health/ready');
      assert.equal(res.status, 503);
      const body = (await res.json()) as { reason: string };
      assert.match(body.reason, /^database: /);
      assert.equal((await server.request('/health/live')).status, 200);
    } finally {
      await server.stop();
    }
  });

  test('/metrics is valid Prometheus text with the request histogram', async () => {
    const server = await startTestServer('metrics');
    try {
      await server.request('/health/ready');
      const res = await server.request('/metrics');
      assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
      const text = await res.text();
      const families = parsePrometheus(text) as Array<{ name: string; type: string; metrics: Array<{ buckets?: Record<string, string> }> }>;
      const histogram = families.find((family) => family.name === 'metricshub_http_request_duration_seconds');
      assert.equal(histogram?.type, 'HISTOGRAM');
      assert.ok(histogram.metrics.every((metric) => metric.buckets && '+Inf' in metric.buckets));
      assert.match(text, /metricshub_http_request_duration_seconds_count\{method="GET",route="\/health\/ready",status="200"\} [1-9]/);
      assert.ok(families.some((family) => family.name === 'metricshub_process_resident_memory_bytes'));
    } finally {
      await server.stop();
    }
  });
});

describe('embedded mode', () => {
  test('with no DATABASE_URL the service starts an embedded PostgreSQL, is ready, and stops cleanly on SIGTERM', { timeout: 240_000 }, async () => {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mh-embedded-'));
    const port = await freePort();
    const child = spawn(process.execPath, [CLI, 'serve'], {
      cwd: BACKEND_DIR,
      env: { ...process.env, DATABASE_URL: '', REDIS_URL: '', PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'warn', DEMO_DATA: 'off' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health/ready`)).status === 200, 200_000, `embedded server ready (stderr: ${stderr})`);
      const body = (await (await fetch(`http://127.0.0.1:${port}/health/ready`)).json()) as { checks: { cache: { detail: string } } };
      assert.match(body.checks.cache.detail, /in-process/);
      await fs.access(path.join(dataDir, 'postgres', 'PG_VERSION'));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      child.kill('SIGKILL');
      await fs.rm(dataDir, { recursive: true, force: true });
    }
  });
});
