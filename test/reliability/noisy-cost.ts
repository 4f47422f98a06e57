/**
 * Where a backend's CPU goes under the noisy-neighbour flood (issue 23): the
 * backend CPU time one request of each kind costs, read from the backend's own
 * `metricshub_process_cpu_seconds_total` before and after a few hundred of
 * them (4 at a time). CPU time, unlike latency, hardly depends on what else
 * runs on the machine, so two versions can be compared on a busy one.
 *
 *   npm run reliability -- --mode noisy-cost [--only "huge query,hostile"]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createApiKey, createOrganization } from '../../backend/src/auth/keys.js';
import { table } from './report.js';
import { Backend, freePort, Postgres, RedisServer } from './services.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;

export async function runNoisyCost(only: string[] | undefined): Promise<number> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mh-noisy-cost-'));
  if (os.userInfo().uid === 0) fs.chmodSync(work, 0o755);
  const postgres = new Postgres(path.join(work, 'pg'));
  const redis = new RedisServer(await freePort());
  await postgres.start();
  await redis.start();
  // No rate limit: every request of a kind is that kind's work, never a 429.
  const backend = new Backend('cost', await freePort(), { DATABASE_URL: postgres.url, REDIS_URL: redis.url, DEMO_DATA: 'off', LOG_LEVEL: 'warn', RATE_LIMIT_PER_MINUTE: '0' }, path.join(work, 'backend.log'));
  const admin = new pg.Pool({ connectionString: postgres.url, max: 2 });
  const rows: Array<[string, string]> = [];
  try {
    await backend.start();
    const keyOf = async (name: string) => {
      await createOrganization(admin, name);
      return (await createApiKey(admin, name)).key;
    };
    const quietKey = await keyOf('quiet');
    const noisyKey = await keyOf('noisy');
    const send = async (key: string, pathname: string, init: { json?: unknown; body?: string; headers?: Record<string, string> } = {}) => {
      const response = await fetch(`${backend.url}${pathname}`, {
        method: init.json !== undefined || init.body !== undefined ? 'POST' : 'GET',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...init.headers },
        body: init.body ?? (init.json !== undefined ? JSON.stringify(init.json) : undefined),
      });
      await response.arrayBuffer();
      return response.status;
    };
    // The same data as the noisy mode at --products 1000 --days 10.
    const now = Date.now();
    await send(quietKey, '/api/v1/events', {
      json: { events: Array.from({ length: 3_000 }, (_, i) => ({ id: `q-${i}`, type: 'order.created', occurredAt: new Date(now - (i % 168) * HOUR - 60_000).toISOString(), value: 10 + (i % 7), attributes: { channel: ['web', 'mobile', 'pos'][i % 3] } })) },
    });
    for (let start = 0; start < 10_000; start += 5_000) {
      const events = Array.from({ length: 5_000 }, (_, offset) => ({ id: `n-${start + offset}`, type: 'order.created', occurredAt: new Date(now - Math.floor((start + offset) / 1_000) * DAY - 120_000).toISOString(), value: 1, attributes: { product: `p-${(start + offset) % 1_000}`, channel: 'web' } }));
      await send(noisyKey, '/api/v1/events', { json: { events } });
    }
    const cpuSeconds = async () => Number(/^metricshub_process_cpu_seconds_total (\S+)/m.exec(await (await fetch(`${backend.url}/metrics`)).text())![1]);
    const huge = { from: new Date(now - 399 * DAY).toISOString(), to: new Date(now).toISOString(), intervalMs: 1, maxDataPoints: 100_000 };
    const hugeQuery = (refId: string) => ({ refId, metric: 'orders_created', groupBy: ['product'], compareToPrevious: true });
    const bigEvent = JSON.stringify({ events: [{ id: 'h-1', type: 'Order.Created', occurredAt: new Date(now).toISOString(), attributes: { big: 'x'.repeat(2_000_000) } }] });
    const kinds: Array<[string, () => Promise<number>]> = [
      ['quiet dashboard query', () => send(quietKey, '/api/v1/query', { json: { from: new Date(Date.now() - 7 * DAY).toISOString(), to: new Date().toISOString(), intervalMs: HOUR, maxDataPoints: 1000, queries: [{ refId: 'kpi', metric: 'orders_created', format: 'kpi' }, { refId: 'trend', metric: 'orders_created', groupBy: ['channel'] }, { refId: 'value', metric: 'order_value', compareToPrevious: true }] } })],
      ['quiet summary', () => send(quietKey, '/api/v1/summary?metrics=orders_created,order_value')],
      ['huge query (3 x 422)', () => send(noisyKey, '/api/v1/query', { json: { ...huge, queries: [hugeQuery('A'), hugeQuery('B'), hugeQuery('C')] } })],
      ['huge export (422)', () => send(noisyKey, `/api/v1/export.csv?from=${huge.from}&to=${huge.to}&intervalMs=1&maxDataPoints=100000&metric=orders_created&groupBy=product`)],
      ['hostile: from in year 1', () => send(noisyKey, '/api/v1/query', { json: { from: '0001-01-01T00:00:00Z', to: huge.to, queries: [{ refId: 'A', metric: 'orders_created' }] } })],
      ['hostile: NUL in a filter', () => send(noisyKey, '/api/v1/query', { json: { ...huge, queries: [{ refId: '__proto__', metric: 'orders_created', filters: [{ dimension: 'channel', op: 'eq', value: 'a\u0000b' }] }] } })],
      ['hostile: gzip header, plain body', () => send(noisyKey, '/api/v1/events', { body: '{"events":[]}', headers: { 'content-encoding': 'gzip' } })],
      ['hostile: 2 MB attribute', () => send(noisyKey, '/api/v1/events', { body: bigEvent })],
      ['smallest request (whoami)', () => send(noisyKey, '/api/v1/whoami')],
    ];
    for (const [name, run] of kinds) {
      if (only && !only.some((prefix) => name.startsWith(prefix))) continue;
      const count = name.includes('2 MB') ? 60 : 300;
      for (let i = 0; i < 20; i += 1) await run();
      const before = await cpuSeconds();
      const started = performance.now();
      const statuses = new Set<number>();
      await Promise.all(Array.from({ length: 4 }, async () => {
        for (let i = 0; i < count / 4; i += 1) statuses.add(await run());
      }));
      const cpuMs = ((await cpuSeconds()) - before) * 1000;
      rows.push([name, `${(cpuMs / count).toFixed(2)} ms CPU, ${((performance.now() - started) / count).toFixed(1)} ms wall per request (status ${[...statuses].join(', ')})`]);
    }
  } finally {
    await backend.stop();
    await admin.end();
    await redis.stop();
    await postgres.stop();
  }
  console.log(`\n| request | backend cost |\n|---|---|\n${table(rows)}\n(load average ${os.loadavg().map((load) => load.toFixed(2)).join(' ')})`);
  fs.rmSync(work, { recursive: true, force: true });
  return 0;
}
