import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadCatalog, type Catalog } from '../src/catalog/load.js';
import { loadConfig } from '../src/config/env.js';
import type { AppContext } from '../src/context.js';
import { migrateUp } from '../src/db/migrate.js';
import { emptyRows, generateHour, type DemoEvent } from '../src/demo/generate.js';
import { INCIDENT_KINDS, planIncidents, type Incident } from '../src/demo/incidents.js';
import { Random } from '../src/demo/random.js';
import { describeDemo, runDemo, type DemoResult } from '../src/demo/run.js';
import { createLogger } from '../src/logger.js';
import { buildContext } from '../src/server.js';
import { ADAPTER_TYPES } from '../src/sources/adapters/index.js';
import { SourceRegistry } from '../src/sources/registry.js';
import type { Series, SourceQuery } from '../src/sources/types.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';

/** Two weeks keep the test quick; `metrics-hub demo` generates 90 days the same way. */
const DAYS = 14;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = new Date('2026-03-02T12:00:00Z');

let database: TestDatabase;
let context: AppContext;
let dataDir: string;
let catalog: Catalog;
let registry: SourceRegistry;
let demo: DemoResult;
let acme: string;

const sum = (series: Series[]) => series.flatMap((entry) => entry.values).reduce<number>((total, value) => total + (value ?? 0), 0);

async function ask(metric: string, from: number, to: number, overrides: Partial<SourceQuery> = {}): Promise<Series[]> {
  const entry = catalog.metric(metric)!;
  return registry.query(entry.source, {
    organizationId: acme,
    metric: entry,
    aggregation: 'sum',
    groupBy: [],
    filters: [],
    from: new Date(from),
    to: new Date(to),
    bucketMs: HOUR,
    ...overrides,
  });
}

function incident(kind: Incident['kind']): { start: number; end: number } {
  const found = demo.incidents.find((entry) => entry.organization === 'acme-demo' && entry.kind === kind)!;
  return { start: Date.parse(found.start), end: Date.parse(found.end) };
}

before(async () => {
  database = await createTestDatabase('sources_demo');
  await migrateUp(database.url, createLogger('silent'));
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mh-demo-'));
  context = await buildContext(loadConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'silent', DATA_DIR: dataDir }), createLogger('silent'), database.url);
  demo = await runDemo(context, { days: DAYS, now: NOW, progress: false });
  acme = demo.organizations.find((organization) => organization.name === 'acme-demo')!.id;
  catalog = loadCatalog();
  registry = await SourceRegistry.create(catalog, context, ADAPTER_TYPES);
});

after(async () => {
  await registry?.close();
  for (const hook of [...(context?.onClose ?? [])].reverse()) await hook();
  await database?.drop();
  await fs.rm(dataDir, { recursive: true, force: true });
});

describe('metrics-hub demo', () => {
  test('creates two organizations with working API keys, events and module rows', async () => {
    assert.deepEqual(
      demo.organizations.map((organization) => organization.name),
      ['acme-demo', 'globex-demo'],
    );
    for (const organization of demo.organizations) {
      assert.match(organization.apiKey, /^mh_[a-z0-9]{8}_[A-Za-z0-9_-]{43}$/);
      assert.ok(organization.generated);
      assert.ok(organization.events > 1000, `${organization.name}: ${organization.events} events`);
      assert.ok(organization.moduleRows > 500, `${organization.name}: ${organization.moduleRows} rows`);
    }
    const [acmeResult, globex] = demo.organizations;
    assert.ok(globex!.events < acmeResult!.events, 'the second organization is the smaller business');
    const printed = describeDemo(demo);
    for (const organization of demo.organizations) assert.ok(printed.includes(`API key: ${organization.apiKey}`));
    assert.ok(printed.includes(demo.incidentsFile));
  });

  test('records the incidents, inside the generated range, in DATA_DIR/demo-incidents.json', async () => {
    assert.equal(demo.incidentsFile, path.resolve(dataDir, 'demo-incidents.json'));
    const file = JSON.parse(await fs.readFile(demo.incidentsFile, 'utf8')) as { from: string; to: string; incidents: Incident[] };
    assert.deepEqual(file.incidents, demo.incidents);
    assert.equal(file.incidents.length, 2 * INCIDENT_KINDS.length);
    assert.deepEqual([...new Set(file.incidents.map((entry) => entry.kind))].sort(), [...INCIDENT_KINDS].sort());
    for (const entry of file.incidents) {
      assert.ok(Date.parse(entry.start) >= Date.parse(file.from) && Date.parse(entry.end) <= Date.parse(file.to), `${entry.organization} ${entry.kind} ${entry.start}`);
      for (const metric of entry.metrics) assert.ok(catalog.metric(metric), `incident metric ${metric} is in the catalog`);
    }
  });

  test('every module metric of the default catalog answers from the demo tables', async () => {
    const from = NOW.getTime() - DAYS * DAY;
    for (const metric of catalog.metrics) {
      if (metric.kind === 'ratio' || catalog.source(metric.source)?.type !== 'postgres') continue;
      const aggregation = metric.defaultAggregation === 'rate' ? 'sum' : metric.defaultAggregation;
      // A level answers the state now; its history comes from snapshots (levels.test.ts).
      const range = metric.level ? [Date.now() - DAY, Date.now() + DAY] : [from, NOW.getTime()];
      const series = await ask(metric.key, range[0]!, range[1]!, { aggregation, bucketMs: DAY });
      assert.ok(series.length > 0 && series[0]!.values.some((value) => value !== null), `${metric.key} has data`);
    }
  });

  test('the revenue spike stands out against the other days', async () => {
    const spike = incident('revenue_spike');
    const [daily] = await ask('revenue', NOW.getTime() - DAYS * DAY, NOW.getTime(), { bucketMs: DAY });
    const inside = daily!.values[daily!.times.indexOf(spike.start)]!;
    const others = daily!.values.filter((_, index) => daily!.times[index] !== spike.start).map(Number).sort((a, b) => a - b);
    const median = others[Math.floor(others.length / 2)]!;
    assert.ok(inside > 3 * median, `spike day ${inside} vs median ${median}`);
  });

  test('utilisation drops during the billable-hours incident', async () => {
    const drop = incident('billable_hours_drop');
    const share = async (from: number, to: number) => sum(await ask('billable_hours', from, to)) / sum(await ask('logged_hours', from, to));
    const during = await share(drop.start, drop.end);
    const before = await share(NOW.getTime() - DAYS * DAY, drop.start);
    assert.ok(during < 0.5 && before > 0.65, `billable share ${during.toFixed(2)} during vs ${before.toFixed(2)} before`);
  });

  test('the average rating falls during the rating incident', async () => {
    const drop = incident('rating_drop');
    const [during] = await ask('average_rating', drop.start, drop.end, { aggregation: 'avg', bucketMs: drop.end - drop.start, from: new Date(drop.start) });
    const [before] = await ask('average_rating', NOW.getTime() - DAYS * DAY, drop.start, { aggregation: 'avg', bucketMs: DAYS * DAY });
    const duringAvg = during!.values.filter((value) => value !== null).map(Number);
    assert.ok(Math.max(...duringAvg) < 3.2, `during ${duringAvg}`);
    assert.ok(before!.values.every((value) => Number(value) > 3.9), `before ${before!.values}`);
  });

  test('workflow failures and undelivered messages spike in their windows (ingested events)', async () => {
    const failures = incident('workflow_failure_spike');
    const rate = sum(await ask('workflows_failed', failures.start, failures.end)) / sum(await ask('workflows_total', failures.start, failures.end));
    const baseline = sum(await ask('workflows_failed', failures.start - 3 * DAY, failures.start)) / sum(await ask('workflows_total', failures.start - 3 * DAY, failures.start));
    assert.ok(rate > 0.2 && baseline < 0.1, `failure rate ${rate.toFixed(2)} vs ${baseline.toFixed(2)}`);
    const delivery = incident('delivery_rate_drop');
    const delivered = sum(await ask('messages_delivered', delivery.start, delivery.end)) / sum(await ask('messages_sent', delivery.start, delivery.end));
    assert.ok(delivered < 0.8, `delivery rate ${delivered.toFixed(2)}`);
  });

  test('conversation, agent, bot and contact incidents show in their metrics (ingested events)', async () => {
    const rate = async (numerator: string, denominator: string, from: number, to: number) => sum(await ask(numerator, from, to)) / sum(await ask(denominator, from, to));
    const spam = incident('spam_wave');
    const spamDuring = await rate('conversations_spam', 'conversations_opened', spam.start, spam.end);
    const spamBefore = await rate('conversations_spam', 'conversations_opened', spam.start - 3 * DAY, spam.start);
    assert.ok(spamDuring > 0.25 && spamBefore < 0.12, `spam rate ${spamDuring.toFixed(2)} vs ${spamBefore.toFixed(2)}`);
    const handoffs = incident('bot_handoff_spike');
    const handoffDuring = await rate('bot_conversations_escalated', 'bot_conversations_ended', handoffs.start, handoffs.end);
    const handoffBefore = await rate('bot_conversations_escalated', 'bot_conversations_ended', handoffs.start - 3 * DAY, handoffs.start);
    assert.ok(handoffDuring > 0.4 && handoffBefore < 0.25, `handoff rate ${handoffDuring.toFixed(2)} vs ${handoffBefore.toFixed(2)}`);
    const optOuts = incident('opt_out_spike');
    const optOutDuring = await rate('opt_outs', 'contacts_contacted', optOuts.start, optOuts.end);
    const optOutBefore = await rate('opt_outs', 'contacts_contacted', optOuts.start - 4 * DAY, optOuts.start);
    assert.ok(optOutDuring > 3 * optOutBefore && optOutBefore < 0.03, `opt-out rate ${optOutDuring.toFixed(3)} vs ${optOutBefore.toFixed(3)}`);
    const unhappy = incident('satisfaction_drop');
    const average = async (from: number, to: number) => (await ask('conversation_satisfaction', from, to, { aggregation: 'avg', bucketMs: 2 ** 52 }))[0]!.values[0]!;
    const satisfactionDuring = await average(unhappy.start, unhappy.end);
    const satisfactionBefore = await average(unhappy.start - 4 * DAY, unhappy.start);
    assert.ok(satisfactionDuring < 3.2 && satisfactionBefore > 3.8, `satisfaction ${satisfactionDuring.toFixed(2)} vs ${satisfactionBefore.toFixed(2)}`);
  });

  test('levels stay realistic: open conversations and active bot conversations never go negative', async () => {
    for (const metric of ['conversations_open_now', 'agent_workload', 'bot_active_conversations']) {
      const series = await ask(metric, NOW.getTime() - DAYS * DAY, NOW.getTime());
      const values = series.flatMap((one) => one.values).map(Number);
      assert.ok(values.length > 0 && values.every((value) => value >= 0) && values.some((value) => value > 0), `${metric}: ${values.join(' ')}`);
    }
  });

  test('running it again adds no data, gives new keys and keeps the recorded incidents', async () => {
    const count = async () => (await context.pool.query<{ n: number }>('SELECT (SELECT count(*) FROM demo_modules.transactions) + (SELECT count(*) FROM demo_comms_acme.message_events) AS n')).rows[0]!.n;
    const before = await count();
    const again = await runDemo(context, { days: DAYS, now: new Date(NOW.getTime() + DAY), progress: false });
    assert.equal(await count(), before);
    assert.ok(again.organizations.every((organization) => !organization.generated && organization.events === 0));
    assert.notEqual(again.organizations[0]!.apiKey, demo.organizations[0]!.apiKey);
    assert.deepEqual(again.incidents, demo.incidents);
  });

  test('the same seed generates the same data', () => {
    const run = () => {
      const random = new Random(7);
      const plan = { name: 'x', slug: 'x', scale: 1, incidents: planIncidents('x', 0, 2 * DAY, 0) };
      const events: DemoEvent[] = [];
      const rows = emptyRows();
      for (let index = 0; index < 48; index += 1) generateHour({ plan, random, hourStart: index * HOUR, rangeStart: 0, now: 2 * DAY, index }, events, rows);
      return { events, rows };
    };
    const first = run();
    assert.ok(first.events.length > 100);
    assert.deepEqual(run(), first);
  });
});
