/**
 * Reliability and security suite (issue 10). Starts its own PostgreSQL, Redis
 * and two backend processes, loads them while injecting faults, then checks
 * bad input, isolation, revocation and limits, and prints a report.
 *
 *   node --import tsx test/reliability/run.ts --mode short|long [--seed N]
 *
 * Exit code 1 when events are lost or doubled, a tenant sees another's data,
 * or an unexpected 5xx occurs; latency targets only warn (shared machine).
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createApiKey, createOrganization } from '../../backend/src/auth/keys.js';
import { createPool } from '../../backend/src/db/pool.js';
import { createLogger } from '../../backend/src/logger.js';
import { Client, Recorder } from './client.js';
import { forgetLostEvents, ReplicatedPostgres, type Replication } from './failover.js';
import { hangingSourceWorker, ingestWorker, queryTotals, queryWorker, seeded, type Org } from './load.js';
import { faultLatency, latencyRows, table, type Fault } from './report.js';
import { fuzzApi, fuzzCatalog, isolation, limits, revocation, type Findings } from './scenarios.js';
import { Backend, freePort, Postgres, RedisServer, sleep } from './services.js';
import { SentinelGroup } from '../../backend/test/support/redis-sentinel.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.resolve(HERE, '../../backend/bin/metrics-hub.js');
const CATALOG_TEMPLATE = path.join(HERE, 'catalog.yaml');

const { values: args } = parseArgs({
  options: { mode: { type: 'string', default: 'short' }, seed: { type: 'string' }, seconds: { type: 'string' }, products: { type: 'string' }, days: { type: 'string' }, 'rate-limit': { type: 'string' }, flood: { type: 'string', default: 'process' }, only: { type: 'string' } },
});
if (args.mode === 'noisy') {
  const { runNoisy } = await import('./noisy.js');
  if (args.flood !== 'process' && args.flood !== 'inline') {
    console.error('--flood must be process (the noisy clients in their own process) or inline (in the quiet clients\' process)');
    process.exit(2);
  }
  process.exit(
    await runNoisy({ seconds: Number(args.seconds ?? 30), products: Number(args.products ?? 2000), days: Number(args.days ?? 20), rateLimitPerMinute: args['rate-limit'] === undefined ? undefined : Number(args['rate-limit']), flood: args.flood }),
  );
}
if (args.mode === 'noisy-cost') {
  const { runNoisyCost } = await import('./noisy-cost.js');
  process.exit(await runNoisyCost(args.only?.split(',').map((name) => name.trim())));
}
if (args.mode !== 'short' && args.mode !== 'long') {
  console.error('usage: run.ts --mode short|long|noisy|noisy-cost [--seed N] [--seconds S --products N --days D --rate-limit PER_MINUTE --flood process|inline] [--only KIND,...]');
  process.exit(2);
}
const LONG = args.mode === 'long';
const SEED = Number(args.seed ?? Date.now() % 1_000_000);
const PLAN = LONG
  ? { loadS: Number(args.seconds ?? 600), ingestClients: 6, queryClients: 4, orgs: 5, fuzzRuns: 1000, isolationQueries: 2000, cycles: 4 }
  : { loadS: 70, ingestClients: 4, queryClients: 3, orgs: 3, fuzzRuns: 100, isolationQueries: 200, cycles: 1 };
/** Long mode runs a primary and a hot standby and fails over between them (failover.ts); short mode one embedded server. */
const FAILOVER = LONG;

const log = (message: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${message}`);
const startedAt = Date.now();
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mh-reliability-'));
if (os.userInfo().uid === 0) fs.chmodSync(work, 0o755);
log(`mode ${args.mode}, seed ${SEED}, work dir ${work}`);

// A source that accepts connections and never answers.
const hangingSockets = new Set<import('node:net').Socket>();
const hanging = http.createServer(() => undefined);
hanging.on('connection', (socket) => hangingSockets.add(socket));
await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
const hangUrl = `http://127.0.0.1:${(hanging.address() as import('node:net').AddressInfo).port}`;
const CATALOG = path.join(work, 'catalog.yaml');
fs.writeFileSync(CATALOG, fs.readFileSync(CATALOG_TEMPLATE, 'utf8').replace('baseUrl: HANG_URL', `baseUrl: ${hangUrl}`));

const postgres = FAILOVER ? new ReplicatedPostgres('reliability-pg') : new Postgres(path.join(work, 'pg'));
await postgres.start();
// Long mode runs Redis as production would beyond one machine: a master, a replica and three
// sentinels (issue 22), so it can also kill the master and let Sentinel promote the replica.
const sentinel = LONG ? await SentinelGroup.start() : undefined;
const redis = sentinel ? undefined : new RedisServer(await freePort());
await redis?.start();
const redisEnv: Record<string, string> = sentinel ? sentinel.env : { REDIS_URL: redis!.url };
const backendEnv = (extra: Record<string, string> = {}) => ({
  DATABASE_URL: postgres.url,
  ...(FAILOVER && { DATABASE_READ_URL: postgres.url }),
  ...redisEnv,
  CATALOG_FILE: CATALOG,
  DEMO_DATA: 'off',
  LOG_LEVEL: 'warn',
  // High enough for the load, but on: the limiter is in every request's path during the faults.
  RATE_LIMIT_PER_MINUTE: '1000000',
  ...extra,
});
const backends = [
  new Backend('A', await freePort(), backendEnv(), path.join(work, 'backend-a.log')),
  new Backend('B', await freePort(), backendEnv(), path.join(work, 'backend-b.log')),
];
await backends[0]!.start();
await backends[1]!.start();
log(`backends on ${backends.map((b) => b.url).join(', ')}; postgres ${postgres.url}; redis ${JSON.stringify(redisEnv)}`);

// The backend's own pool: it follows the primary through a failover like the backends do.
// The suite restarts PostgreSQL itself: an idle admin connection dropping then is expected (logged silently).
const admin = createPool(postgres.url, 2, createLogger('silent'));
async function newOrg(name: string): Promise<Org> {
  const { id } = await createOrganization(admin, name);
  const { key } = await createApiKey(admin, name);
  return { name, id, key, truth: new Map(), maxSeen: { count: 0, sum: 0 } };
}
const runTag = Date.now().toString(36);
const orgs = await Promise.all(Array.from({ length: PLAN.orgs }, (_, i) => newOrg(`rel-${runTag}-${i}`)));

const recorder = new Recorder();
const client = new Client(() => backends.map((b) => b.url), recorder);
const failures: string[] = [];
const faults: Fault[] = [];
const scenarioFindings: Array<[string, Findings]> = [];
let lost = 0;
let doubled = 0;
/** When an events query beside the hanging source answered its own 503 (database unavailable). */
const eventsUnavailableAt: number[] = [];
/** Acknowledged events lost in each failover, by replication mode. */
const failoverLosses: Array<{ mode: Replication; lost: number }> = [];
let loadStart = Date.now();
let loadEnd = Date.now();
let limited: Backend | undefined;
try {

  // Sustained load with faults.
  let loadOver = false;
  const rand = seeded(SEED);
  loadStart = Date.now();
  log(`load: ${PLAN.ingestClients} ingest clients, ${PLAN.queryClients} query clients, ${PLAN.orgs} organizations, ${PLAN.loadS} s`);
  const guard = <T>(what: string, work: Promise<T>) => work.catch((error: unknown) => void failures.push(`${what}: ${String(error)}`));
  const workers = [
    ...Array.from({ length: PLAN.ingestClients }, (_, i) => guard('ingest client', ingestWorker(client, orgs[i % orgs.length]!, i, () => loadOver, seeded(SEED + i)))),
    ...Array.from({ length: PLAN.queryClients }, (_, i) => guard('query client', queryWorker(client, orgs, () => loadOver, seeded(SEED + 100 + i)))),
    guard('hanging-source client', hangingSourceWorker(client, orgs[0]!, () => loadOver, failures, eventsUnavailableAt)),
  ];

  async function fault(name: string, inject: () => Promise<void>, downMs: number, recover: () => Promise<void>): Promise<void> {
    log(`fault: ${name}`);
    const start = Date.now();
    await inject();
    await sleep(downMs);
    await recover();
    faults.push({ name, start, recovered: Date.now() });
    log(`recovered: ${name} after ${((Date.now() - start) / 1000).toFixed(1)} s`);
  }

  const perCycle = 3 + (sentinel ? 1 : 0) + (FAILOVER ? 1 : 0);
  const slot = (PLAN.loadS * 1000) / (PLAN.cycles * perCycle + 1);
  const at = (cycle: number, step: number) => sleep(Math.max(0, loadStart + slot * (cycle * perCycle + step) - Date.now()));
  for (let cycle = 0; cycle < PLAN.cycles; cycle += 1) {
    const victim = backends[(cycle + 1) % 2]!;
    await at(cycle, 1);
    await fault(`kill -9 backend ${victim.name}`, () => victim.kill9(), 3_000, () => victim.start());
    await at(cycle, 2);
    // Under Sentinel: every data node down at once (the sentinels stay up and find the master again).
    if (sentinel) await fault('Redis stopped', () => sentinel.killDataNodes(), 4_000, () => sentinel.startDataNodes().then(() => sentinel.waitUntilSettled(60_000)).then(() => undefined));
    else await fault('Redis stopped', () => redis!.stop(), 4_000, () => redis!.start());
    await at(cycle, 3);
    await fault('PostgreSQL restarted', () => postgres.stop(), 2_000, () => postgres.start());
    let step = 4;
    if (sentinel) {
      await at(cycle, step++);
      let killed = 0;
      // Recovered when Sentinel has promoted the replica; the old master then rejoins as a replica.
      await fault(
        'Redis master killed (Sentinel failover)',
        async () => void (killed = await sentinel.killMaster()),
        0,
        async () => void (await sentinel.waitForPromotion(killed)),
      );
      await sentinel.restart(killed);
      await sentinel.waitUntilSettled(60_000);
    }
    if (postgres instanceof ReplicatedPostgres) {
      // Synchronous and asynchronous replication in turn, each under load for a while before the crash.
      const mode: Replication = cycle % 2 === 0 ? 'sync' : 'async';
      await postgres.replication(mode);
      await at(cycle, step++);
      await fault(
        `PostgreSQL failover (${mode})`,
        () => postgres.failover(),
        1_000,
        // Counted once the promoted primary answers: recovered means serving again.
        async () => void failoverLosses.push({ mode, lost: await forgetLostEvents(admin, orgs) }),
      );
      // Under load, outside the fault's window: reads meanwhile go to the primary alone.
      await postgres.rebuildStandby('sync');
    }
  }
  await sleep(Math.max(0, loadStart + PLAN.loadS * 1000 - Date.now()));
  loadOver = true;
  await Promise.all(workers);
  loadEnd = Date.now();
  log('load over; checking totals');

  // Exact totals: the database and the API against the generator's truth.
  async function checkTotals(stage: string): Promise<void> {
    for (const org of orgs) {
      const wantCount = org.truth.size;
      const wantSum = [...org.truth.values()].reduce((a, b) => a + b, 0);
      const { rows } = await admin.query<{ raw: number; count: number; sum: number }>(
        `SELECT (SELECT count(*)::int FROM events WHERE organization_id = $1) AS raw,
                (SELECT coalesce(sum(count), 0)::int FROM rollups_daily WHERE organization_id = $1 AND event_type = 'order.created') AS count,
                (SELECT coalesce(sum(sum), 0)::float8 FROM rollups_daily WHERE organization_id = $1 AND event_type = 'order.created') AS sum`,
        [org.id],
      );
      const db = rows[0]!;
      const api = await queryTotals(client, org);
      for (const [what, got, want] of [
        ['raw events', db.raw, wantCount],
        ['rollup count', db.count, wantCount],
        ['rollup sum', db.sum, wantSum],
        ['API count', api.count, wantCount],
        ['API sum', api.sum, wantSum],
      ] as const) {
        if (got !== want) failures.push(`${stage} ${org.name}: ${what} ${got}, expected ${want}`);
      }
      lost += Math.max(0, wantCount - db.raw);
      doubled += Math.max(0, db.raw - wantCount) + Math.max(0, db.count - wantCount);
      if (org.maxSeen.count > wantCount || org.maxSeen.sum > wantSum) failures.push(`${org.name}: a query during the run saw ${JSON.stringify(org.maxSeen)}, above the final ${wantCount} / ${wantSum}`);
    }
  }
  await checkTotals('after load');

  log('bad input: fuzzing /events, /query and catalog files');
  const fuzzOrg = await newOrg(`rel-${runTag}-fuzz`);
  const storedEvents = async () => (await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM events WHERE organization_id = $1', [fuzzOrg.id])).rows[0]!.n;
  scenarioFindings.push(['fuzz /events and /query', await fuzzApi(client, fuzzOrg, PLAN.fuzzRuns, SEED, storedEvents)]);
  scenarioFindings.push(['fuzz catalog files', fuzzCatalog(CATALOG, PLAN.fuzzRuns, SEED)]);

  log('isolation and revocation');
  scenarioFindings.push(['isolation', await isolation(client, orgs, PLAN.isolationQueries, SEED)]);
  const cliEnv = { ...process.env, DATABASE_URL: postgres.url, LOG_LEVEL: 'warn' };
  scenarioFindings.push([
    'revocation',
    await revocation(client, backends.map((b) => b.url), CLI, cliEnv, orgs[0]!, () => createApiKey(admin, orgs[0]!.name)),
  ]);
  await checkTotals('after isolation');

  log('limits on a third backend with small limits');
  const limitConfig = { maxBodyBytes: 20_000, maxEvents: 50, maxRangeDays: 7, perMinute: 30 };
  limited = new Backend(
    'limits',
    await freePort(),
    backendEnv({
      MAX_BODY_BYTES: String(limitConfig.maxBodyBytes),
      INGEST_MAX_EVENTS: String(limitConfig.maxEvents),
      QUERY_MAX_RANGE_DAYS: String(limitConfig.maxRangeDays),
      RATE_LIMIT_PER_MINUTE: String(limitConfig.perMinute),
    }),
    path.join(work, 'backend-limits.log'),
  );
  await limited.start();
  scenarioFindings.push(['limits', await limits(client, limited.url, await newOrg(`rel-${runTag}-limits`), limitConfig)]);
} catch (error) {
  // A scenario that throws is a failure of the run; the services below are still stopped.
  failures.push(`run aborted: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
} finally {
  await Promise.all([...backends, ...(limited ? [limited] : [])].map((b) => b.stop()));
  await admin.end();
  await redis?.stop();
  await sentinel?.stop();
  await postgres.stop();
  if (postgres instanceof ReplicatedPostgres) await postgres.cleanup();
  for (const socket of hangingSockets) socket.destroy();
  hanging.close();
}

// Report.
const pgFault = faults.filter((f) => f.name.startsWith('PostgreSQL'));
const inPgFault = (at: number) => pgFault.some((f) => at >= f.start && at <= f.recovered + 5_000);
const fiveXX = recorder.samples.filter((s) => s.status >= 500);
// 503 + Retry-After while PostgreSQL is down is the designed answer (clients retry); anything else is not.
const expected5xx = fiveXX.filter((s) => s.status === 503 && s.retryAfter && inPgFault(s.at));
const unexpected5xx = fiveXX.filter((s) => !expected5xx.includes(s));
for (const at of eventsUnavailableAt.filter((time) => !inPgFault(time))) failures.push(`events query beside the hanging source answered 503 at ${new Date(at).toISOString()}, outside any PostgreSQL fault`);
for (const s of unexpected5xx.slice(0, 10)) failures.push(`unexpected ${s.status} on ${s.kind} at ${new Date(s.at).toISOString()}`);
for (const { mode, lost: gone } of failoverLosses) if (mode === 'sync' && gone > 0) failures.push(`synchronous replication lost ${gone} acknowledged events in a failover`);
const leaks = scenarioFindings.reduce((n, [, f]) => n + f.leaks, 0);
for (const [name, findings] of scenarioFindings) for (const failure of findings.failures.slice(0, 10)) failures.push(`${name}: ${failure}`);
const latencies = faults.map((f) => faultLatency(recorder.samples, f));
const slowRecovery = latencies.filter((l) => l.backAfterS === undefined || l.backAfterS > 10);
const events = orgs.reduce((n, o) => n + o.truth.size, 0);

const rows: Array<[string, string]> = [
  ['mode / seed', `${args.mode} / ${SEED}`],
  ['duration', `${((Date.now() - startedAt) / 1000).toFixed(0)} s total, ${((loadEnd - loadStart) / 1000).toFixed(0)} s under load`],
  ['requests handled', `${recorder.samples.filter((s) => s.status > 0).length} (${recorder.samples.filter((s) => s.status === 0).length} connection errors retried)`],
  ['events handled', `${events} distinct events accepted in ${recorder.samples.filter((s) => s.kind === 'ingest' && s.status === 200).length} batches (duplicates and retried batches included)`],
  ['faults injected', faults.map((f) => f.name).join(', ') + ', hanging http-json source throughout'],
  ['bad inputs sent', `${scenarioFindings.filter(([n]) => n.startsWith('fuzz')).reduce((n, [, f]) => n + f.checks, 0)} (fast-check)`],
  ['isolation queries', String(scenarioFindings.find(([n]) => n === 'isolation')?.[1].checks ?? 0)],
  ['events lost', String(lost)],
  ...(FAILOVER
    ? ([['acknowledged events lost in failovers', failoverLosses.map((f) => `${f.mode}: ${f.lost}`).join(', ') || 'no failover ran']] as Array<[string, string]>)
    : []),
  ['events doubled', String(doubled)],
  ['cross-tenant leaks', String(leaks)],
  ['5xx', `${unexpected5xx.length} unexpected; ${expected5xx.length} expected (503 + Retry-After while PostgreSQL was down${FAILOVER ? ' or failing over' : ''}, retried)`],
  ...latencyRows(latencies),
];
console.log(`\n| measure | value |\n|---|---|\n${table(rows).split('\n').map((line) => line).join('\n')}\n`);
if (slowRecovery.length > 0) console.log(`WARNING: p99 not back to pre-fault within 10 s after: ${slowRecovery.map((l) => l.fault.name).join(', ')} (latency targets warn only)`);
if (failures.length > 0) {
  const counted = new Map<string, number>();
  for (const failure of failures) counted.set(failure, (counted.get(failure) ?? 0) + 1);
  console.log(`FAILED (${failures.length}):\n${[...counted].slice(0, 40).map(([f, n]) => `  - ${n > 1 ? `${n}x ` : ''}${f}`).join('\n')}`);
  console.log(`logs: ${work}`);
  console.log(`replay this run: npm run reliability -- --mode ${args.mode} --seed ${SEED}`);
  process.exit(1);
}
fs.rmSync(work, { recursive: true, force: true });
console.log('PASSED: 0 lost, 0 doubled, 0 leaks, 0 unexpected 5xx');
process.exit(0);
