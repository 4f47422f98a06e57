/**
 * Noisy-neighbour mode (issue 23): one organization floods a backend with the
 * abusive patterns an adversarial probe found (high-cardinality group-by over
 * 400 days at intervalMs 1 with the previous period, huge exports, many live
 * streams at 250 ms, hostile input) while another runs its normal dashboard
 * load. Reports the quiet organization's p50/p99 and the process RSS with and
 * without the noisy one, /health/ready latency and unexpected 5xx.
 *
 *   npm run reliability -- --mode noisy [--seconds 30] [--products 2000] [--days 20] [--rate-limit 6000] [--flood process|inline]
 *
 * `--rate-limit` is the backend's RATE_LIMIT_PER_MINUTE: the shipped default
 * unless given, so the flood meets what a deployment runs; `0` turns it off and
 * leaves the admission limits alone against the flood. The flood runs in a
 * process of its own (noisy-flood.ts) so that its client-side work does not
 * show up in the quiet timings; `--flood inline` runs it in this process, as
 * the mode first did, to compare.
 *
 * Targets: quiet p99 at most 2x solo, RSS under 512 MB, /health/ready always
 * under 200 ms, 0 unexpected 5xx. Exit code 1 on a 5xx or a leak; latency and
 * memory targets are reported (the machine is shared).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createApiKey, createOrganization } from '../../backend/src/auth/keys.js';
import { table } from './report.js';
import { flood, Probe, untilOver, type FloodReport, type Sample } from './noisy-flood.js';
import { Backend, freePort, Postgres, RedisServer, sleep } from './services.js';

interface Options {
  seconds: number;
  products: number;
  days: number;
  /** RATE_LIMIT_PER_MINUTE of the backend; undefined: the shipped default. */
  rateLimitPerMinute?: number;
  /** Where the noisy organization's clients run: their own process (default), or inline in this one (how the mode first measured). */
  flood: 'process' | 'inline';
}

const FLOOD = fileURLToPath(new URL('./noisy-flood.ts', import.meta.url));

/**
 * Starts the noisy organization's flood; `stop` ends it and returns what it
 * was answered. Inline, its clients share this process's event loop with the
 * quiet ones, whose timings then include the flood's client-side work.
 */
async function startFlood(where: Options['flood'], probe: Probe, key: string, baseUrl: string): Promise<{ stop: () => Promise<FloodReport> }> {
  if (where === 'inline') {
    let over = false;
    const first = probe.samples.length;
    const loops = flood(probe, key, baseUrl, () => over);
    return {
      stop: async () => {
        over = true;
        await Promise.all(loops);
        const samples = probe.samples.slice(first).filter((s) => s.who === 'noisy');
        const counts: Record<string, number> = {};
        for (const s of samples) counts[`${s.kind} ${s.status}`] = (counts[`${s.kind} ${s.status}`] ?? 0) + 1;
        return { counts, failures: samples.filter((s) => s.status >= 500 || s.status === 0) };
      },
    };
  }
  const child = spawn(process.execPath, ['--import', 'tsx', FLOOD, baseUrl, key], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout! });
  const iterator = lines[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const { value, done } = await iterator.next();
    if (done) throw new Error(`the flood process ended early (exit code ${child.exitCode})`);
    return value as string;
  };
  if ((await next()) !== 'flooding') throw new Error('the flood process did not start');
  return {
    stop: async () => {
      child.stdin!.write('stop\n');
      const report = JSON.parse(await next()) as FloodReport;
      lines.close();
      if (child.exitCode === null) await once(child, 'exit');
      return report;
    },
  };
}

const DAY = 86_400_000;
const log = (message: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${message}`);

function quantile(values: number[], q: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * q) - 1)];
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

    const PHASES = ['warm-up', 'solo', 'noisy', 'solo again'] as const;
    type Phase = (typeof PHASES)[number];
    const perPhase = <T>(make: () => T) => Object.fromEntries(PHASES.map((name) => [name, make()])) as Record<Phase, T>;
    const rss = perPhase<number[]>(() => []);
    const health = perPhase<number[]>(() => []);
    const quiet = perPhase<Sample[]>(() => []);
    const machine = perPhase(() => ({ backendCpu: 0, load: 0, gcSeconds: 0 }));
    const loopLag = perPhase<number[]>(() => []);
    /** The backend's CPU seconds and its seconds of garbage collection so far (all kinds). */
    const backendCounters = async () => {
      const text = (await probe.send('health', 'metrics', '/metrics')).text;
      const gc = [...text.matchAll(/^metricshub_nodejs_gc_duration_seconds_sum\{[^}]*\} (\S+)/gm)].reduce((sum, match) => sum + Number(match[1]), 0);
      return { cpu: Number(/^metricshub_process_cpu_seconds_total (\S+)/m.exec(text)?.[1] ?? NaN), gc };
    };
    async function phase(name: Phase, seconds: number): Promise<void> {
      log(`phase ${name}: ${seconds} s`);
      let over = false;
      // The flood starts (and its process has compiled) before the clock of the phase does.
      const noisy = name === 'noisy' ? await startFlood(options.flood, probe, noisyKey, backend.url) : undefined;
      const first = probe.samples.length;
      const before = await backendCounters();
      const started = performance.now();
      const watchers = [
        untilOver(() => over, async () => {
          const started = performance.now();
          const answer = await probe.send('health', 'ready', '/health/ready');
          health[name].push(performance.now() - started);
          if (answer.status !== 200) failures.push(`${name}: /health/ready answered ${answer.status}`);
        }, 250),
        untilOver(() => over, async () => {
          const text = (await probe.send('health', 'metrics', '/metrics')).text;
          const match = /^metricshub_process_resident_memory_bytes (\d+)/m.exec(text);
          if (match) rss[name].push(Number(match[1]));
          // The longest event-loop delay since the previous scrape (prom-client resets it at every collect).
          const lag = /^metricshub_nodejs_eventloop_lag_max_seconds (\S+)/m.exec(text);
          if (lag) loopLag[name].push(Number(lag[1]) * 1000);
        }, 1_000),
        ...Array.from({ length: 2 }, () => untilOver(() => over, () => dashboard(probe, quietKey), 200)),
      ];
      await sleep(seconds * 1000);
      over = true;
      await Promise.all(watchers);
      const after = await backendCounters();
      const wallSeconds = (performance.now() - started) / 1000;
      machine[name] = { backendCpu: (after.cpu - before.cpu) / wallSeconds, load: os.loadavg()[0]!, gcSeconds: after.gc - before.gc };
      quiet[name] = probe.samples.slice(first).filter((s) => s.who === 'quiet' && s.status === 200);
      if (noisy) floodReport = await noisy.stop();
    }
    let floodReport: FloodReport = { counts: {}, failures: [] };
    // Unmeasured: the first requests compile code paths and fill caches, which would inflate the solo baseline.
    await phase('warm-up', 3);
    await phase('solo', options.seconds);
    await phase('noisy', options.seconds);
    // The baseline again: a solo p99 that moved between before and after says the machine changed under the run.
    await phase('solo again', options.seconds);
    const quietMs = { solo: quiet.solo.map((s) => s.ms), noisy: quiet.noisy.map((s) => s.ms), again: quiet['solo again'].map((s) => s.ms) };

    const fiveXX = [...probe.samples.filter((s) => s.status >= 500 || s.status === 0), ...floodReport.failures.map((f) => ({ ...f, who: 'noisy' }))];
    for (const s of fiveXX.slice(0, 10)) failures.push(`unexpected ${s.status || 'connection error'} on ${s.who} ${s.kind}`);
    const ms = (value: number | undefined) => (value === undefined ? 'n/a' : `${value.toFixed(0)} ms`);
    const mb = (values: number[]) => (values.length ? `${(Math.max(...values) / 1_048_576).toFixed(0)} MB` : 'n/a');
    const noisyCounts = new Map(Object.entries(floodReport.counts));
    const byKind = (samples: Sample[], kind: string) => ms(quantile(samples.filter((s) => s.kind === kind).map((s) => s.ms), 0.99));
    const percent = (share: number) => `${(share * 100).toFixed(0)} %`;
    const soloP99 = quantile(quietMs.solo!, 0.99);
    const noisyP99 = quantile(quietMs.noisy!, 0.99);
    const againP99 = quantile(quietMs.again, 0.99);
    const times = (over: number | undefined, base: number | undefined) => (over && base ? `${(over / base).toFixed(2)}x` : 'n/a');
    rows.push(
      ['phase length', `${options.seconds} s each (after 3 s of unmeasured warm-up); noisy data ${options.products} products x ${options.days} days; ${rateLimit}; flood ${options.flood === 'process' ? 'from its own process' : 'from the quiet client\'s process'}`],
      ['quiet requests (solo / noisy)', `${quietMs.solo!.length} / ${quietMs.noisy!.length}`],
      ['quiet p50 (solo / noisy)', `${ms(quantile(quietMs.solo!, 0.5))} / ${ms(quantile(quietMs.noisy!, 0.5))}`],
      ['quiet p99 (solo / noisy)', `${ms(soloP99)} / ${ms(noisyP99)} (${times(noisyP99, soloP99)}; target <= 2x)`],
      ['quiet solo again after the flood: requests, p50, p99', `${quietMs.again.length}, ${ms(quantile(quietMs.again, 0.5))}, ${ms(againP99)} (noisy p99 ${times(noisyP99, againP99)} of it)`],
      ['quiet p99 by request (solo / noisy)', `query ${byKind(quiet.solo, 'query')} / ${byKind(quiet.noisy, 'query')}; summary ${byKind(quiet.solo, 'summary')} / ${byKind(quiet.noisy, 'summary')}`],
      ['backend CPU, one core = 100 % (solo / noisy)', `${percent(machine.solo.backendCpu)} / ${percent(machine.noisy.backendCpu)}`],
      ['load average, 1 min, at the end (solo / noisy / solo again)', `${machine.solo.load.toFixed(2)} / ${machine.noisy.load.toFixed(2)} / ${machine['solo again'].load.toFixed(2)}`],
      ['backend event loop: longest delay; garbage collection (solo / noisy)', `${ms(Math.max(...loopLag.solo))} / ${ms(Math.max(...loopLag.noisy))}; ${ms(machine.solo.gcSeconds * 1000)} / ${ms(machine.noisy.gcSeconds * 1000)} in all`],
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
