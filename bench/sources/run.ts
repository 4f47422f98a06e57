import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createApiKey, createOrganization } from '../../backend/src/auth/keys.js';
import { loadCatalog } from '../../backend/src/catalog/load.js';
import { loadConfig } from '../../backend/src/config/env.js';
import { createLogger } from '../../backend/src/logger.js';
import { startServer } from '../../backend/src/server.js';
import { ADAPTER_TYPES } from '../../backend/src/sources/adapters/index.js';
import { SourceRegistry } from '../../backend/src/sources/registry.js';
import { createTestDatabase } from '../../backend/test/support/databases.js';

/**
 * Source fan-out benchmark: eight http-json sources, each a local JSON API that
 * answers after a fixed delay between 50 and 200 ms. Each round first asks
 * every source alone (the baseline, measured in the same run through the same
 * API), then asks all eight in one POST /api/v1/query. A sequential fan-out
 * would take the sum of the latencies; a parallel one about the max.
 * Every round uses a new range so no answer comes from the cache. The same is
 * measured on the source registry alone (adapters + registry, no HTTP API,
 * planner or frames), to show which layer any overhead comes from.
 *
 *   DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/postgres node --import tsx bench/sources/run.ts [--rounds 10]
 */
const { values: flags } = parseArgs({ options: { rounds: { type: 'string', default: '10' } } });
const ROUNDS = Number(flags.rounds);
if (!Number.isInteger(ROUNDS) || ROUNDS <= 0) throw new Error('--rounds must be a positive whole number');
process.env.DATABASE_URL ??= 'postgres://postgres:postgres@127.0.0.1:5432/postgres';

const DELAYS_MS = [50, 70, 90, 110, 130, 150, 175, 200];
const DAY = 86_400_000;
const START = Date.UTC(2026, 0, 1);
const TARGET = 1.1;

async function startApi(delayMs: number): Promise<{ url: string; close: () => void }> {
  const server = http.createServer((request, response) => {
    const from = Date.parse(new URL(request.url!, 'http://local').searchParams.get('from') ?? '');
    setTimeout(() => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(Array.from({ length: 24 }, (_, hour) => ({ at: new Date(from + hour * 3_600_000).toISOString(), v: hour }))));
    }, delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

const apis = await Promise.all(DELAYS_MS.map(startApi));
const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mh-bench-sources-'));
const catalogFile = path.join(dir, 'catalog.yaml');
await fs.writeFile(
  catalogFile,
  'sources:\n  - { id: events, type: events }\n' +
    apis.map((api, index) => `  - { id: api_${index}, type: http-json, baseUrl: "${api.url}", timeoutMs: 2000 }\n`).join('') +
    'metrics:\n' +
    apis.map((_, index) => `  - { key: m_${index}, label: m_${index}, source: api_${index}, kind: gauge, query: { url: "/points?from=:from", time: at, value: v } }\n`).join(''),
);
const database = await createTestDatabase('bench_sources');
const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', DATABASE_URL: database.url, CATALOG_FILE: catalogFile, REDIS_URL: '' });
const running = await startServer(config, createLogger('silent'));
await createOrganization(running.context.pool, 'bench');
const { key } = await createApiKey(running.context.pool, 'bench');

async function timedQuery(round: number, indexes: number[]): Promise<number> {
  const from = START + round * DAY;
  const body = {
    from: new Date(from).toISOString(),
    to: new Date(from + DAY).toISOString(),
    intervalMs: 3_600_000,
    queries: indexes.map((index) => ({ refId: `q${index}`, source: `api_${index}`, metric: `m_${index}` })),
  };
  const started = performance.now();
  const res = await fetch(`http://127.0.0.1:${running.port}/api/v1/query`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const answer = (await res.json()) as { results: Record<string, { status: number; error?: string }> };
  const elapsed = performance.now() - started;
  for (const [refId, result] of Object.entries(answer.results)) if (result.status !== 200) throw new Error(`${refId}: ${result.status} ${result.error}`);
  return elapsed;
}

const catalog = loadCatalog(catalogFile);
const registry = await SourceRegistry.create(catalog, running.context, ADAPTER_TYPES);

async function timedRegistry(round: number, indexes: number[]): Promise<number> {
  const from = START + round * DAY;
  const started = performance.now();
  await Promise.all(
    indexes.map((index) =>
      registry.query(`api_${index}`, { organizationId: 'bench', metric: catalog.metric(`m_${index}`)!, aggregation: 'sum', groupBy: [], filters: [], from: new Date(from), to: new Date(from + DAY), bucketMs: 3_600_000 }),
    ),
  );
  return performance.now() - started;
}

interface Row {
  round: number;
  sum: number;
  max: number;
  wall: number;
}

async function measure(ask: (round: number, indexes: number[]) => Promise<number>): Promise<Row[]> {
  // One unmeasured round warms connections and code paths.
  await ask(-1, DELAYS_MS.map((_, index) => index));
  const rows: Row[] = [];
  for (let round = 0; round < ROUNDS; round += 1) {
    // Baseline: each source alone, in its own range (a different day per source keeps the cache cold).
    const alone: number[] = [];
    for (const index of DELAYS_MS.keys()) alone.push(await ask(1000 + round * DELAYS_MS.length + index, [index]));
    const wall = await ask(round, DELAYS_MS.map((_, index) => index));
    rows.push({ round, sum: alone.reduce((total, value) => total + value, 0), max: Math.max(...alone), wall });
  }
  return rows;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const fmt = (value: number) => value.toFixed(0).padStart(7);

function report(title: string, rows: Row[]): number {
  console.log(`\n${title}`);
  console.log(' round |  sum ms |  max ms | wall ms | wall/max');
  for (const row of rows) console.log(`${String(row.round).padStart(6)} | ${fmt(row.sum)} | ${fmt(row.max)} | ${fmt(row.wall)} | ${(row.wall / row.max).toFixed(2)}`);
  const ratio = median(rows.map((row) => row.wall / row.max));
  console.log(`median | ${fmt(median(rows.map((row) => row.sum)))} | ${fmt(median(rows.map((row) => row.max)))} | ${fmt(median(rows.map((row) => row.wall)))} | ${ratio.toFixed(2)}`);
  console.log(`target: wall within ${Math.round((TARGET - 1) * 100)}% of max -> ${ratio <= TARGET ? 'met' : 'NOT met'}`);
  return ratio;
}

try {
  const api = await measure(timedQuery);
  const direct = await measure(timedRegistry);
  console.log(`sources: 8 http-json APIs answering in ${DELAYS_MS.join('/')} ms; ${ROUNDS} rounds; ${os.cpus().length} CPUs; load average ${os.loadavg()[0]!.toFixed(1)}`);
  const apiRatio = report('POST /api/v1/query (HTTP, auth, planner, cache lookups, frames):', api);
  report('SourceRegistry alone (adapters + registry):', direct);
  process.exitCode = apiRatio <= TARGET ? 0 : 1;
} finally {
  await registry.close();
  await running.close();
  await database.drop();
  for (const api of apis) api.close();
  await fs.rm(dir, { recursive: true, force: true });
}
