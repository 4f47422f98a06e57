/**
 * Noisy-neighbour mode (issue 23): one organization floods a backend with the
 * abusive patterns an adversarial probe found (high-cardinality group-by over
 * 400 days at intervalMs 1 with the previous period, huge exports, many live
 * streams at 250 ms, hostile input) while another runs its normal dashboard
 * load. Reports the quiet organization's p50/p99 and the process RSS with and
 * without the noisy one, /health/ready latency and unexpected 5xx.
 *
 *   npm run reliability -- --mode noisy [--seconds 30] [--products 2000] [--days 20] [--rate-limit 6000]
 *
 * `--rate-limit` is the backend's RATE_LIMIT_PER_MINUTE: the shipped default
 * unless given, so the flood meets what a deployment runs; `0` turns it off and
 * leaves the admission limits alone against the flood.
 *
 * Targets: quiet p99 at most 2x solo, RSS under 512 MB, /health/ready always
 * under 200 ms, 0 unexpected 5xx. Exit code 1 on a 5xx or a leak; latency and
 * memory targets are reported (the machine is shared).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createApiKey, createOrganization } from '../../backend/src/auth/keys.js';
import { table } from './report.js';
import { Backend, freePort, Postgres, RedisServer, sleep } from './services.js';

interface Options {
  seconds: number;
  products: number;
  days: number;
  /** RATE_LIMIT_PER_MINUTE of the backend; undefined: the shipped default. */
  rateLimitPerMinute?: number;
}

const DAY = 86_400_000;
const log = (message: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${message}`);

function quantile(values: number[], q: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * q) - 1)];
}

interface Sample {
  who: 'quiet' | 'noisy' | 'health';
  kind: string;
  ms: number;
  status: number;
}

class Probe {
  readonly samples: Sample[] = [];
  constructor(private readonly baseUrl: string) {}

  async send(who: Sample['who'], kind: string, pathname: string, init: { key?: string; json?: unknown; body?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; text: string }> {
    const started = performance.now();
    try {
      const response = await fetch(`${this.baseUrl}${pathname}`, {
        method: init.json !== undefined || init.body !== undefined ? 'POST' : 'GET',
        headers: { ...(init.key && { authorization: `Bearer ${init.key}` }), 'content-type': 'application/json', ...init.headers },
        body: init.body ?? (init.json !== undefined ? JSON.stringify(init.json) : undefined),
        signal: AbortSignal.timeout(60_000),
      });
      const text = await response.text();
      this.samples.push({ who, kind, ms: performance.now() - started, status: response.status });
      return { status: response.status, text };
    } catch {
      this.samples.push({ who, kind, ms: performance.now() - started, status: 0 });
      return { status: 0, text: '' };
    }
  }
}

const hourly = (days: number) => ({ from: new Date(Date.now() - days * DAY).toISOString(), to: new Date().toISOString(), intervalMs: 3_600_000, maxDataPoints: 1000 });

/** What one quiet dashboard refresh asks: KPI cards, an hourly trend by channel, the summary. */
async function dashboard(probe: Probe, key: string): Promise<void> {
  await Promise.all([
    probe.send('quiet', 'query', '/api/v1/query', {
      key,
      json: {
        ...hourly(7),
        queries: [
          { refId: 'kpi', metric: 'orders_created', format: 'kpi' },
          { refId: 'trend', metric: 'orders_created', groupBy: ['channel'] },
          { refId: 'value', metric: 'order_value', compareToPrevious: true },
        ],
      },
    }),
    probe.send('quiet', 'summary', '/api/v1/summary?metrics=orders_created,order_value', { key }),
  ]);
}

async function untilOver(over: () => boolean, work: () => Promise<unknown>, pauseMs = 0): Promise<void> {
  while (!over()) {
    await work();
    if (pauseMs) await sleep(pauseMs);
  }
}

/** The abusive patterns, each in its own loop. */
function flood(probe: Probe, key: string, baseUrl: string, over: () => boolean): Promise<unknown>[] {
  const huge = { from: new Date(Date.now() - 399 * DAY).toISOString(), to: new Date().toISOString(), intervalMs: 1, maxDataPoints: 100_000 };
  const hugeQuery = (refId: string) => ({ refId, metric: 'orders_created', groupBy: ['product'], compareToPrevious: true });
  const queries = Array.from({ length: 4 }, () =>
    untilOver(over, () => probe.send('noisy', 'huge query', '/api/v1/query', { key, json: { ...huge, queries: [hugeQuery('A'), hugeQuery('B'), hugeQuery('C')] } })),
  );
  const exportParams = `from=${huge.from}&to=${huge.to}&intervalMs=1&maxDataPoints=100000&metric=orders_created&groupBy=product`;
  const exports = untilOver(over, () => probe.send('noisy', 'huge export', `/api/v1/export.csv?${exportParams}`, { key }));
  const hostile = untilOver(over, async () => {
    await probe.send('noisy', 'hostile', '/api/v1/query', { key, json: { from: '0001-01-01T00:00:00Z', to: huge.to, queries: [{ refId: 'A', metric: 'orders_created' }] } });
    await probe.send('noisy', 'hostile', '/api/v1/query', { key, json: { ...huge, queries: [{ refId: '__proto__', metric: 'orders_created', filters: [{ dimension: 'channel', op: 'eq', value: 'a\u0000b' }] }] } });
    await probe.send('noisy', 'hostile', '/api/v1/events', { key, body: '{"events":[]}', headers: { 'content-encoding': 'gzip' } });
    await probe.send('noisy', 'hostile', '/api/v1/events', {
      key,
      json: { events: [{ id: `h-${Date.now()}`, type: 'Order.Created', occurredAt: new Date().toISOString(), attributes: { big: 'x'.repeat(2_000_000) } }] },
    });
  });
  // Twenty streams at 250 ms, reopened as soon as they end or are refused.
  const streams = Array.from({ length: 20 }, () =>
    untilOver(
      over,
      async () => {
        const started = performance.now();
        try {
          const controller = new AbortController();
          const stop = setInterval(() => over() && controller.abort(), 200);
          const response = await fetch(`${baseUrl}/api/v1/live?metrics=orders_created,order_value&intervalMs=250`, { headers: { authorization: `Bearer ${key}` }, signal: controller.signal });
          probe.samples.push({ who: 'noisy', kind: 'live stream', ms: performance.now() - started, status: response.status });
          await response.text().catch(() => undefined);
          clearInterval(stop);
        } catch {
          // Aborted at the end of the phase.
        }
      },
      250,
    ),
  );
  return [...queries, exports, hostile, ...streams];
}

export async function runNoisy(options: Options): Promise<number> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mh-noisy-'));
  if (os.userInfo().uid === 0) fs.chmodSync(work, 0o755);
  const rateLimit = options.rateLimitPerMinute === undefined ? 'the shipped RATE_LIMIT_PER_MINUTE' : options.rateLimitPerMinute === 0 ? 'no rate limit' : `RATE_LIMIT_PER_MINUTE=${options.rateLimitPerMinute}`;
  log(`noisy-neighbour mode: ${options.seconds} s per phase, ${options.products} products x ${options.days} days for the noisy organization, ${rateLimit}; work dir ${work}`);
  const postgres = new Postgres(path.join(work, 'pg'));
  const redis = new RedisServer(await freePort());
  await postgres.start();
  await redis.start();
  const backend = new Backend(
    'noisy',
    await freePort(),
    { DATABASE_URL: postgres.url, REDIS_URL: redis.url, DEMO_DATA: 'off', LOG_LEVEL: 'warn', ...(options.rateLimitPerMinute === undefined ? {} : { RATE_LIMIT_PER_MINUTE: String(options.rateLimitPerMinute) }) },
    path.join(work, 'backend.log'),
  );
  const admin = new pg.Pool({ connectionString: postgres.url, max: 2 });
  const failures: string[] = [];
  const rows: Array<[string, string]> = [];
  try {
    await backend.start();
    const probe = new Probe(backend.url);
    const keyOf = async (name: string) => {
      await createOrganization(admin, name);
      return (await createApiKey(admin, name)).key;
    };
    const quietKey = await keyOf('quiet');
    const noisyKey = await keyOf('noisy');

    log('seeding: the quiet organization\'s week of orders, the noisy one\'s high-cardinality products');
    const now = Date.now();
    const quietEvents = Array.from({ length: 3_000 }, (_, i) => ({ id: `q-${i}`, type: 'order.created', occurredAt: new Date(now - (i % (7 * 24)) * 3_600_000 - 60_000).toISOString(), value: 10 + (i % 7), attributes: { channel: ['web', 'mobile', 'pos'][i % 3] } }));
    for (let start = 0; start < quietEvents.length; start += 1_000) {
      const answer = await probe.send('quiet', 'seed', '/api/v1/events', { key: quietKey, json: { events: quietEvents.slice(start, start + 1_000) } });
      if (answer.status !== 200) throw new Error(`seeding the quiet organization: ${answer.status} ${answer.text.slice(0, 200)}`);
    }
    const total = options.products * options.days;
    for (let start = 0; start < total; start += 5_000) {
      const events = Array.from({ length: Math.min(5_000, total - start) }, (_, offset) => {
        const i = start + offset;
        return { id: `n-${i}`, type: 'order.created', occurredAt: new Date(now - Math.floor(i / options.products) * DAY - 120_000).toISOString(), value: 1, attributes: { product: `p-${i % options.products}`, channel: 'web' } };
      });
      const answer = await probe.send('noisy', 'seed', '/api/v1/events', { key: noisyKey, json: { events } });
      if (answer.status !== 200) throw new Error(`seeding the noisy organization: ${answer.status} ${answer.text.slice(0, 200)}`);
    }

    const rss: Record<string, number[]> = { solo: [], noisy: [] };
    const health: Record<string, number[]> = { solo: [], noisy: [] };
    const quietMs: Record<string, number[]> = { solo: [], noisy: [] };
    async function phase(name: 'solo' | 'noisy'): Promise<void> {
      log(`phase ${name}: ${options.seconds} s`);
      let over = false;
      const first = probe.samples.length;
      const watchers = [
        untilOver(() => over, async () => {
          const started = performance.now();
          const answer = await probe.send('health', 'ready', '/health/ready');
          health[name]!.push(performance.now() - started);
          if (answer.status !== 200) failures.push(`${name}: /health/ready answered ${answer.status}`);
        }, 250),
        untilOver(() => over, async () => {
          const text = (await probe.send('health', 'metrics', '/metrics')).text;
          const match = /^metricshub_process_resident_memory_bytes (\d+)/m.exec(text);
          if (match) rss[name]!.push(Number(match[1]));
        }, 1_000),
        ...Array.from({ length: 2 }, () => untilOver(() => over, () => dashboard(probe, quietKey), 200)),
        ...(name === 'noisy' ? flood(probe, noisyKey, backend.url, () => over) : []),
      ];
      await sleep(options.seconds * 1000);
      over = true;
      await Promise.all(watchers);
      quietMs[name] = probe.samples.slice(first).filter((s) => s.who === 'quiet' && s.status === 200).map((s) => s.ms);
    }
    await phase('solo');
    await phase('noisy');

    const fiveXX = probe.samples.filter((s) => s.status >= 500 || s.status === 0);
    for (const s of fiveXX.slice(0, 10)) failures.push(`unexpected ${s.status || 'connection error'} on ${s.who} ${s.kind}`);
    const ms = (value: number | undefined) => (value === undefined ? 'n/a' : `${value.toFixed(0)} ms`);
    const mb = (values: number[]) => (values.length ? `${(Math.max(...values) / 1_048_576).toFixed(0)} MB` : 'n/a');
    const noisyCounts = new Map<string, number>();
    for (const s of probe.samples.filter((one) => one.who === 'noisy' && one.kind !== 'seed')) noisyCounts.set(`${s.kind} ${s.status}`, (noisyCounts.get(`${s.kind} ${s.status}`) ?? 0) + 1);
    const soloP99 = quantile(quietMs.solo!, 0.99);
    const noisyP99 = quantile(quietMs.noisy!, 0.99);
    rows.push(
      ['phase length', `${options.seconds} s each; noisy data ${options.products} products x ${options.days} days; ${rateLimit}`],
      ['quiet requests (solo / noisy)', `${quietMs.solo!.length} / ${quietMs.noisy!.length}`],
      ['quiet p50 (solo / noisy)', `${ms(quantile(quietMs.solo!, 0.5))} / ${ms(quantile(quietMs.noisy!, 0.5))}`],
      ['quiet p99 (solo / noisy)', `${ms(soloP99)} / ${ms(noisyP99)} (${soloP99 && noisyP99 ? (noisyP99 / soloP99).toFixed(2) : 'n/a'}x; target <= 2x)`],
      ['peak RSS (solo / noisy)', `${mb(rss.solo!)} / ${mb(rss.noisy!)} (target < 512 MB)`],
      ['/health/ready max (solo / noisy)', `${ms(Math.max(...health.solo!))} / ${ms(Math.max(...health.noisy!))} (target < 200 ms)`],
      ['noisy answers', [...noisyCounts].sort().map(([what, n]) => `${what}: ${n}`).join('; ')],
      ['unexpected 5xx', String(fiveXX.length)],
    );
  } catch (error) {
    failures.push(`run aborted: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  } finally {
    await backend.stop();
    await admin.end();
    await redis.stop();
    await postgres.stop();
  }
  if (rows.length) console.log(`\n| measure | value |\n|---|---|\n${table(rows)}\n`);
  if (failures.length > 0) {
    console.log(`FAILED (${failures.length}):\n${failures.slice(0, 20).map((f) => `  - ${f}`).join('\n')}\nlogs: ${work}`);
    return 1;
  }
  fs.rmSync(work, { recursive: true, force: true });
  console.log('PASSED: 0 unexpected 5xx, /health/ready always 200');
  return 0;
}
