import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CatalogError, parseCatalog } from '../src/catalog/load.js';
import { loadConfig } from '../src/config/env.js';
import { createLogger } from '../src/logger.js';
import { buildContext } from '../src/server.js';
import { ADAPTER_TYPES } from '../src/sources/adapters/index.js';
import { SourceError } from '../src/sources/errors.js';
import { SourceRegistry } from '../src/sources/registry.js';
import type { SourceQuery } from '../src/sources/types.js';
import { createTestDatabase } from './support/databases.js';
import { startTestServer } from './support/server.js';

/**
 * Eight sources answer one request together: five good ones (three JSON APIs,
 * two PostgreSQL), two that sleep past their timeouts and one that fails.
 * Timing bounds are deliberately loose (half the time the sleeping sources would
 * take): they prove the slow sources do not hold the answer hostage, not how fast
 * the machine is (a shared, loaded machine took over 3x the longest timeout).
 */
const DAY = 86_400_000;
const START = Date.UTC(2026, 1, 1);
const SLOW_TIMEOUTS = [400, 700];
/**
 * How long `/sleep` takes to answer; an answer in under half of it did not wait for it. Far above
 * the timeouts, so a loaded machine's slowness (seconds) never reads as waiting for the sleepers.
 */
const SLEEP_MS = 30_000;

let api: http.Server;
let apiUrl: string;
let tmp: string;

function catalogText(extraMetrics = ''): string {
  const json = (id: string, route: string, timeoutMs = 3000) => `  - { id: ${id}, type: http-json, baseUrl: "${apiUrl}", timeoutMs: ${timeoutMs} }\n`;
  const jsonMetric = (key: string, source: string, route: string) =>
    `  - { key: ${key}, label: ${key}, source: ${source}, kind: gauge, query: { url: "${route}?from=:from", time: at, value: v } }\n`;
  const pgMetric = (key: string, source: string, factor: number) =>
    `  - { key: ${key}, label: ${key}, source: ${source}, kind: gauge, dimensions: [team], query: { sql: "SELECT at AS time, amount * ${factor} AS value, team FROM fixture_points WHERE organization_id = :organization_id" } }\n`;
  return (
    'sources:\n' +
    '  - { id: events, type: events }\n' +
    json('api_a', '/points/a') +
    json('api_b', '/points/b') +
    json('api_c', '/points/c') +
    '  - { id: db_a, type: postgres, connection: main }\n' +
    '  - { id: db_b, type: postgres, connection: main }\n' +
    json('slow_a', '/sleep', SLOW_TIMEOUTS[0]) +
    json('slow_b', '/sleep', SLOW_TIMEOUTS[1]) +
    json('broken', '/fail') +
    'metrics:\n' +
    jsonMetric('a_points', 'api_a', '/points/a') +
    jsonMetric('b_points', 'api_b', '/points/b') +
    jsonMetric('c_points', 'api_c', '/points/c') +
    pgMetric('db_a_points', 'db_a', 1) +
    pgMetric('db_b_points', 'db_b', 10) +
    jsonMetric('slow_a_points', 'slow_a', '/sleep') +
    jsonMetric('slow_b_points', 'slow_b', '/sleep') +
    jsonMetric('broken_points', 'broken', '/fail') +
    extraMetrics
  );
}

const EIGHT = [
  ['api_a', 'a_points'],
  ['api_b', 'b_points'],
  ['api_c', 'c_points'],
  ['db_a', 'db_a_points'],
  ['db_b', 'db_b_points'],
  ['slow_a', 'slow_a_points'],
  ['slow_b', 'slow_b_points'],
  ['broken', 'broken_points'],
] as const;
const GOOD = new Set(['api_a', 'api_b', 'api_c', 'db_a', 'db_b']);

before(async () => {
  api = http.createServer((request, response) => {
    const url = new URL(request.url!, 'http://local');
    if (url.pathname.startsWith('/points/')) {
      const scale = { a: 1, b: 2, c: 3 }[url.pathname.slice(-1)] ?? 0;
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify([{ at: new Date(START + 1000).toISOString(), v: scale }, { at: new Date(START + DAY + 1000).toISOString(), v: scale * 2 }]));
    } else if (url.pathname === '/sleep') {
      const timer = setTimeout(() => response.end('[]'), SLEEP_MS);
      response.on('close', () => clearTimeout(timer));
    } else {
      response.writeHead(500, { 'content-type': 'application/json' });
      response.end('{"message":"database on fire"}');
    }
  });
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', () => resolve()));
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'mh-sources-'));
});

after(async () => {
  api.closeAllConnections();
  api.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

async function seedFixture(pool: import('pg').Pool, rows: Array<[organizationId: string, team: string, amount: number]>): Promise<void> {
  await pool.query('CREATE TABLE IF NOT EXISTS fixture_points (organization_id uuid NOT NULL, at timestamptz NOT NULL, team text NOT NULL, amount numeric NOT NULL)');
  for (const [organizationId, team, amount] of rows) {
    await pool.query('INSERT INTO fixture_points VALUES ($1, $2, $3, $4)', [organizationId, new Date(START + 5000), team, amount]);
  }
}

describe('registry: eight sources in parallel, three of them failing', () => {
  test('the answer comes in about the longest timeout; good sources have data; the others carry their own errors', async () => {
    const database = await createTestDatabase('sources_registry_direct');
    const context = await buildContext(loadConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'silent' }), createLogger('silent'), database.url);
    try {
      const organizationId = '00000000-0000-4000-8000-000000000001';
      await seedFixture(context.pool, [[organizationId, 'red', 4]]);
      const catalog = parseCatalog(catalogText(), 'eight.yaml');
      const registry = await SourceRegistry.create(catalog, context, ADAPTER_TYPES);
      try {
        const started = performance.now();
        const settled = await Promise.allSettled(
          EIGHT.map(([source, metric]) => {
            const query: SourceQuery = { organizationId, metric: catalog.metric(metric)!, aggregation: 'sum', groupBy: [], filters: [], from: new Date(START), to: new Date(START + 2 * DAY), bucketMs: DAY };
            return registry.query(source, query);
          }),
        );
        const elapsed = performance.now() - started;
        assert.ok(elapsed >= SLOW_TIMEOUTS[1]! * 0.9, `waited for the slow sources' timeouts (${elapsed.toFixed(0)} ms)`);
        assert.ok(elapsed < SLEEP_MS / 2, `answered in ${elapsed.toFixed(0)} ms, not held up by the sleeping sources`);
        const bySource = Object.fromEntries(EIGHT.map(([source], index) => [source, settled[index]!]));
        for (const source of GOOD) assert.equal(bySource[source]!.status, 'fulfilled', source);
        assert.deepEqual((bySource.api_c as PromiseFulfilledResult<Array<{ values: number[] }>>).value[0]!.values, [3, 6]);
        assert.deepEqual((bySource.db_b as PromiseFulfilledResult<Array<{ values: number[] }>>).value[0]!.values, [40]);
        for (const [source, status] of [['slow_a', 504], ['slow_b', 504], ['broken', 502]] as const) {
          const result = bySource[source]!;
          assert.equal(result.status, 'rejected', source);
          const reason = (result as PromiseRejectedResult).reason as SourceError;
          assert.ok(reason instanceof SourceError);
          assert.equal(reason.sourceId, source);
          assert.equal(reason.status, status);
        }
        assert.match(((bySource.broken as PromiseRejectedResult).reason as Error).message, /HTTP 500 from .*\/fail: .*database on fire/);
        const status = Object.fromEntries(registry.status().map((entry) => [entry.id, entry]));
        assert.match(status.slow_a!.lastError!, /did not answer within 400 ms/);
        assert.equal(status.api_a!.lastError, null);
      } finally {
        await registry.close();
      }
    } finally {
      await context.pool.end();
      await database.drop();
    }
  });

  test('through POST /api/v1/query: one 200 answer, good queries with frames, failing ones with their own status and error', async () => {
    const file = path.join(tmp, 'eight.yaml');
    await fs.writeFile(file, catalogText());
    const server = await startTestServer('sources_registry_api', { CATALOG_FILE: file });
    try {
      const key = await server.keyFor('eight');
      const organization = await server.running.context.pool.query<{ id: string }>("SELECT id FROM organizations WHERE name = 'eight'");
      await seedFixture(server.running.context.pool, [[organization.rows[0]!.id, 'red', 4]]);
      const started = performance.now();
      const res = await server.request('/api/v1/query', {
        method: 'POST',
        key,
        json: {
          from: new Date(START).toISOString(),
          to: new Date(START + 2 * DAY).toISOString(),
          intervalMs: DAY,
          maxDataPoints: 100,
          queries: EIGHT.map(([source, metric]) => ({ refId: source, source, metric, aggregation: 'sum', format: 'timeseries' })),
        },
      });
      const elapsed = performance.now() - started;
      assert.equal(res.status, 200);
      assert.ok(elapsed < SLEEP_MS / 2, `answered in ${elapsed.toFixed(0)} ms`);
      const { results } = (await res.json()) as { results: Record<string, { status: number; error?: string; frames: Array<{ data: { values: unknown[][] } }> }> };
      for (const source of GOOD) {
        assert.equal(results[source]!.status, 200, `${source}: ${results[source]!.error}`);
        assert.ok(results[source]!.frames[0]!.data.values[1]!.length > 0, source);
      }
      // The query layer fills the empty second day.
      assert.deepEqual(results.db_a!.frames[0]!.data.values[1], [4, 0]);
      assert.equal(results.slow_a!.status, 504);
      assert.equal(results.slow_b!.status, 504);
      assert.match(results.slow_b!.error!, /slow_b/);
      assert.equal(results.broken!.status, 502);
      assert.match(results.broken!.error!, /HTTP 500 from .*\/fail: .*database on fire/);
    } finally {
      await server.stop();
    }
  });
});

describe('catalog files', () => {
  test('a bad source entry stops the start with the file, the path and the reason', async () => {
    const file = path.join(tmp, 'bad-source.yaml');
    await fs.writeFile(
      file,
      'sources:\n  - { id: events, type: events }\n  - { id: books, type: postgres, connection: "postgres://admin:secret@db/books" }\n  - { id: api, type: http-json, baseUrl: "ftp://example.com" }\nmetrics: []\n',
    );
    await assert.rejects(startTestServer('sources_bad_catalog', { CATALOG_FILE: file }), (error: unknown) => {
      assert.ok(error instanceof CatalogError, String(error));
      assert.equal(error.file, file);
      const problems = error.problems.map((problem) => `${problem.path}: ${problem.message}`);
      assert.ok(problems.some((problem) => /^sources\[1\]\.connection: must be 'main' .*env:NAME/.test(problem)), problems.join('\n'));
      assert.ok(problems.some((problem) => /^sources\[2\]\.baseUrl: must be an http:\/\/ or https:\/\/ URL/.test(problem)), problems.join('\n'));
      assert.ok(error.message.includes(file));
      return true;
    });
  });

  test('a metric added to the catalog file appears in /api/v1/catalog and answers queries, with no code change', async () => {
    const file = path.join(tmp, 'grow.yaml');
    await fs.writeFile(file, catalogText());
    const first = await startTestServer('sources_catalog_v1', { CATALOG_FILE: file });
    try {
      const key = await first.keyFor('grow');
      const catalog = (await (await first.request('/api/v1/catalog', { key })).json()) as { metrics: Array<{ key: string }> };
      assert.ok(!catalog.metrics.some((metric) => metric.key === 'team_points'));
    } finally {
      await first.stop();
    }
    await fs.writeFile(
      file,
      catalogText(
        '  - key: team_points\n    label: Team points\n    unit: short\n    source: db_a\n    kind: counter\n    dimensions: [team]\n' +
          '    query: { sql: "SELECT at AS time, amount AS value, team FROM fixture_points WHERE organization_id = :organization_id AND team <> \'blue\'" }\n',
      ),
    );
    const second = await startTestServer('sources_catalog_v2', { CATALOG_FILE: file });
    try {
      const key = await second.keyFor('grow');
      const organization = await second.running.context.pool.query<{ id: string }>("SELECT id FROM organizations WHERE name = 'grow'");
      await seedFixture(second.running.context.pool, [
        [organization.rows[0]!.id, 'red', 4],
        [organization.rows[0]!.id, 'green', 6],
        [organization.rows[0]!.id, 'blue', 100],
      ]);
      const catalog = (await (await second.request('/api/v1/catalog', { key })).json()) as { metrics: Array<{ key: string; label: string; dimensions: string[]; aggregations: string[] }> };
      const added = catalog.metrics.find((metric) => metric.key === 'team_points');
      assert.deepEqual({ label: added?.label, dimensions: added?.dimensions, aggregations: added?.aggregations }, { label: 'Team points', dimensions: ['team'], aggregations: ['sum', 'count'] });
      const res = await second.request('/api/v1/query', {
        method: 'POST',
        key,
        json: { from: new Date(START).toISOString(), to: new Date(START + DAY).toISOString(), intervalMs: DAY, queries: [{ refId: 'A', source: 'db_a', metric: 'team_points', groupBy: ['team'] }] },
      });
      const { results } = (await res.json()) as { results: { A: { status: number; error?: string; frames: Array<{ schema: { fields: Array<{ labels?: Record<string, string> }> }; data: { values: unknown[][] } }> } } };
      assert.equal(results.A.status, 200, results.A.error);
      const byTeam = Object.fromEntries(results.A.frames.map((frame) => [frame.schema.fields[1]!.labels!.team, frame.data.values[1]]));
      assert.deepEqual(byTeam, { green: [6], red: [4] });
    } finally {
      await second.stop();
    }
  });
});

describe('organization scoping for postgres sources through the API', () => {
  test('the SQL gets the organization of the key: org B never sees org A rows, whatever the request says', async () => {
    const file = path.join(tmp, 'scope.yaml');
    await fs.writeFile(file, catalogText());
    const server = await startTestServer('sources_scope', { CATALOG_FILE: file });
    try {
      const keyA = await server.keyFor('scope-a');
      const keyB = await server.keyFor('scope-b');
      const ids = await server.running.context.pool.query<{ id: string; name: string }>("SELECT id, name FROM organizations WHERE name LIKE 'scope-%'");
      const id = (name: string) => ids.rows.find((row) => row.name === name)!.id;
      await seedFixture(server.running.context.pool, [
        [id('scope-a'), 'red', 7],
        [id('scope-b'), 'blue', 2],
      ]);
      const ask = async (key: string, extra: Record<string, unknown> = {}) => {
        const res = await server.request('/api/v1/query', {
          method: 'POST',
          key,
          json: { from: new Date(START).toISOString(), to: new Date(START + DAY).toISOString(), intervalMs: DAY, queries: [{ refId: 'A', source: 'db_a', metric: 'db_a_points', groupBy: ['team'], ...extra }] },
        });
        const body = (await res.json()) as { results: { A: { status: number; frames: Array<{ schema: { fields: Array<{ labels?: Record<string, string> }> }; data: { values: unknown[][] } }> } } };
        return { status: res.status, answer: body.results?.A };
      };
      const a = await ask(keyA);
      const b = await ask(keyB);
      assert.deepEqual(a.answer.frames.map((frame) => [frame.schema.fields[1]!.labels!.team, frame.data.values[1]]), [['red', [7]]]);
      assert.deepEqual(b.answer.frames.map((frame) => [frame.schema.fields[1]!.labels!.team, frame.data.values[1]]), [['blue', [2]]]);
      // A request cannot name another organization: unknown fields are refused or ignored, never bound.
      const sneaky = await ask(keyB, { organizationId: id('scope-a'), filters: [{ dimension: 'team', op: 'eq', value: 'red' }] });
      assert.ok(sneaky.status === 400 || sneaky.answer.frames.every((frame) => (frame.data.values[1] ?? []).length === 0), JSON.stringify(sneaky));
    } finally {
      await server.stop();
    }
  });
});
