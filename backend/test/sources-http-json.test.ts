import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { parseCatalog, type Catalog } from '../src/catalog/load.js';
import { loadConfig } from '../src/config/env.js';
import type { AppContext } from '../src/context.js';
import { createLogger } from '../src/logger.js';
import { buildContext } from '../src/server.js';
import { ADAPTER_TYPES } from '../src/sources/adapters/index.js';
import { SourceError } from '../src/sources/errors.js';
import { SourceRegistry } from '../src/sources/registry.js';
import type { SourceQuery } from '../src/sources/types.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { sourceQuery } from './support/source-query.js';

const HOUR = 3_600_000;
const START = Date.UTC(2026, 2, 1);
const ORG = randomUUID();
const OTHER_ORG = randomUUID();

/** Signups, three per page, linked by `links.next`; each point has an ISO time, a count and a plan. */
const SIGNUPS = [
  { at: new Date(START + 10).toISOString(), count: 2, plan: 'free' },
  { at: new Date(START + 20).toISOString(), count: 3, plan: 'pro' },
  { at: new Date(START + 30).toISOString(), count: 5, plan: 'free' },
  { at: new Date(START + HOUR + 1).toISOString(), count: 7, plan: 'pro' },
  { at: new Date(START + 2 * HOUR + 1).toISOString(), count: 11, plan: 'free' },
  { at: new Date(START - 1).toISOString(), count: 1000, plan: 'free' },
];

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  body: string;
}

let api: http.Server;
let baseUrl: string;
const seen: Seen[] = [];
let abortedRequests = 0;

function startApi(): Promise<void> {
  api = http.createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      seen.push({ method: request.method!, url: request.url!, authorization: request.headers.authorization, body });
      const url = new URL(request.url!, 'http://localhost');
      const json = (status: number, payload: unknown) => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(payload));
      };
      if (request.headers.authorization !== 'Bearer s3cret') return json(401, { message: 'bad token' });
      if (url.pathname === '/v1/signups') {
        const page = Number(url.searchParams.get('page') ?? '0');
        const items = SIGNUPS.slice(page * 3, page * 3 + 3);
        const next = (page + 1) * 3 < SIGNUPS.length ? `/v1/signups?page=${page + 1}&from=${encodeURIComponent(url.searchParams.get('from')!)}` : null;
        return json(200, { data: items, links: { next } });
      }
      if (url.pathname === '/v1/report' && request.method === 'POST') {
        const parsed = JSON.parse(body) as { range: { start: number; end: number } };
        return json(200, { rows: [{ ts: Math.floor(parsed.range.start / 1000), v: '4.5' }, { ts: Math.floor(parsed.range.start / 1000) + 60, v: 5.5 }] });
      }
      if (url.pathname === '/v1/slow') {
        response.on('close', () => {
          if (!response.writableEnded) abortedRequests += 1;
        });
        setTimeout(() => json(200, []), 5_000).unref();
        return;
      }
      if (url.pathname === '/v1/garbled') return json(200, [{ at: 'yesterday-ish', count: 1 }]);
      if (url.pathname === '/health') return json(200, { ok: true });
      json(404, { message: 'not found' });
    });
  });
  return new Promise((resolve) => api.listen(0, '127.0.0.1', () => resolve()));
}

let database: TestDatabase;
let context: AppContext;
let catalog: Catalog;
let registry: SourceRegistry;

function queryOf(metric: string, overrides: Partial<SourceQuery> = {}): SourceQuery {
  return sourceQuery(catalog, metric, { organizationId: ORG, start: START, bucketMs: HOUR }, overrides);
}

before(async () => {
  await startApi();
  baseUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  process.env.MH_TEST_API_TOKEN = 'Bearer s3cret';
  database = await createTestDatabase('sources_http');
  context = await buildContext(loadConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'silent' }), createLogger('silent'), database.url);
  catalog = parseCatalog(
    `
sources:
  - id: saas
    type: http-json
    baseUrl: ${baseUrl}
    headers: { Authorization: env:MH_TEST_API_TOKEN }
    healthUrl: /health
    timeoutMs: 500
  - id: shared
    type: http-json
    baseUrl: ${baseUrl}
    headers: { Authorization: env:MH_TEST_API_TOKEN }
    organizations: [${ORG}]
  - id: tokenless
    type: http-json
    baseUrl: ${baseUrl}
metrics:
  - key: signups
    label: Signups
    source: saas
    kind: gauge
    dimensions: [plan]
    query:
      url: /v1/signups?from=:from
      points: $.data[*]
      time: at
      value: $.count
      labels: { plan: $.plan }
      next: $.links.next
  - key: report_value
    label: Report value
    source: saas
    kind: gauge
    query:
      url: /v1/report
      method: POST
      body: { range: { start: ":from_ms", end: ":to_ms" }, title: "from :from" }
      points: $.rows[*]
      time: ts
      timeFormat: epoch_s
      value: v
  - key: slow
    label: Slow
    source: saas
    kind: counter
    query: { url: /v1/slow, time: at }
  - key: garbled
    label: Garbled
    source: saas
    kind: counter
    query: { url: /v1/garbled, time: at }
  - key: shared_signups
    label: Shared signups
    source: shared
    kind: gauge
    query: { url: /v1/signups, points: "$.data[*]", time: at, value: count }
  - key: tokenless_signups
    label: Tokenless
    source: tokenless
    kind: gauge
    query: { url: /v1/signups, points: "$.data[*]", time: at, value: count }
`,
    'http.yaml',
  );
  registry = await SourceRegistry.create(catalog, context, ADAPTER_TYPES);
});

after(async () => {
  await registry?.close();
  for (const hook of [...(context?.onClose ?? [])].reverse()) await hook();
  await database?.drop();
  api?.close();
});

describe('http-json source', () => {
  test('follows next links, maps time/value/labels by JSONPath and sums per bucket', async () => {
    seen.length = 0;
    const [series] = await registry.query('saas', queryOf('signups'));
    assert.deepEqual(series!.times, [START, START + HOUR, START + 2 * HOUR]);
    assert.deepEqual(series!.values, [10, 7, 11]);
    assert.deepEqual(
      seen.map((request) => request.url),
      [`/v1/signups?from=${encodeURIComponent(new Date(START).toISOString())}`, `/v1/signups?page=1&from=${encodeURIComponent(new Date(START).toISOString())}`],
    );
    assert.ok(seen.every((request) => request.authorization === 'Bearer s3cret'));
  });

  test('groups by labels, filters and aggregates (avg, count, max)', async () => {
    const grouped = await registry.query('saas', queryOf('signups', { groupBy: ['plan'], to: new Date(START + HOUR) }));
    assert.deepEqual(Object.fromEntries(grouped.map((entry) => [entry.labels.plan, entry.values])), { free: [7], pro: [3] });
    const free = await registry.query('saas', queryOf('signups', { aggregation: 'avg', filters: [{ dimension: 'plan', op: 'eq', value: 'free' }] }));
    assert.deepEqual(free[0]!.values, [3.5, 11]);
    const counted = await registry.query('saas', queryOf('signups', { aggregation: 'count', filters: [{ dimension: 'plan', op: 'not_in', value: ['free'] }] }));
    assert.deepEqual(counted[0]!.values, [1, 1]);
    const max = await registry.query('saas', queryOf('signups', { aggregation: 'max', bucketMs: 3 * HOUR, from: new Date(START), to: new Date(START + 3 * HOUR) }));
    assert.deepEqual(max[0]!.values, [11]);
  });

  test('POSTs a JSON body with typed parameters and reads epoch seconds and numeric strings', async () => {
    seen.length = 0;
    const [series] = await registry.query('saas', queryOf('report_value', { aggregation: 'avg' }));
    assert.deepEqual(series!.values, [5]);
    const body = JSON.parse(seen[0]!.body) as unknown;
    assert.deepEqual(body, { range: { start: START, end: START + 3 * HOUR }, title: `from ${new Date(START).toISOString()}` });
  });

  test('a slow API fails alone with a timeout and the HTTP request is aborted', async () => {
    const before = abortedRequests;
    const results = await Promise.allSettled([registry.query('saas', queryOf('slow')), registry.query('saas', queryOf('signups'))]);
    assert.equal(results[0].status, 'rejected');
    assert.equal(((results[0] as PromiseRejectedResult).reason as SourceError).status, 504);
    assert.equal(results[1].status, 'fulfilled');
    // The abort reaches the fake API asynchronously (a loaded machine may take seconds): poll up to 30 s.
    for (const deadline = Date.now() + 30_000; Date.now() < deadline && abortedRequests === before; ) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(abortedRequests, before + 1);
  });

  test('an unreadable time names the metric, the path and the value', async () => {
    await assert.rejects(registry.query('saas', queryOf('garbled')), /metric 'garbled': at gave "yesterday-ish", which is not a time/);
  });

  test('an HTTP error status is reported with the URL, never the token', async () => {
    await assert.rejects(registry.query('tokenless', queryOf('tokenless_signups')), (error: unknown) => {
      assert.ok(error instanceof SourceError);
      assert.match(error.message, new RegExp(`HTTP 401 from ${baseUrl}/v1/signups: .*bad token`));
      return true;
    });
  });

  test('a source restricted to some organizations refuses the others before calling the API', async () => {
    assert.deepEqual((await registry.query('shared', queryOf('shared_signups')))[0]!.values, [10]);
    seen.length = 0;
    await assert.rejects(registry.query('shared', queryOf('shared_signups', { organizationId: OTHER_ORG })), /not shared with this organization/);
    assert.equal(seen.length, 0);
  });

  test('health check probes healthUrl', async () => {
    const status = Object.fromEntries((await registry.checkHealth()).map((entry) => [entry.id, entry]));
    assert.equal(status.saas!.status, 'up');
    assert.equal(status.saas!.lastError, null);
  });
});
