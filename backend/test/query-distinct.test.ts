import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseCsv } from 'csv-parse/sync';
import { JSDOM } from 'jsdom';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { DEFAULT_CATALOG_FILE } from '../src/catalog/load.js';
import { foldPendingTotals } from '../src/jobs/fold-totals.js';
import { redisUrlForTest } from './support/databases.js';
import { startTestServer, type TestServer } from './support/server.js';

// @grafana/data is a browser library: give it a DOM, then load it as Grafana's own code would run.
const dom = new JSDOM('<!doctype html><html><head></head><body></body></html>', { url: 'http://localhost/' });
for (const key of ['window', 'document', 'navigator', 'localStorage', 'HTMLElement', 'getComputedStyle', 'matchMedia'] as const) {
  const value = key === 'window' ? dom.window : (dom.window as unknown as Record<string, unknown>)[key];
  Object.defineProperty(globalThis, key, { value, configurable: true, writable: true });
}
const grafana = createRequire(import.meta.url)('@grafana/data') as typeof import('@grafana/data');

const T0 = Date.UTC(2026, 1, 1); // 2026-02-01T00:00:00Z
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const at = (ms: number) => new Date(ms).toISOString();

interface Event {
  id: string;
  type: string;
  occurredAt: string;
  attributes: Record<string, unknown>;
}

const contact = (n: number) => `contact-${n}`;
/** Contacts 0-49 write on sms, 50 and up on whatsapp. */
const channelOf = (n: number) => (n < 50 ? 'sms' : 'whatsapp');

/**
 * Organization A, computed by hand:
 *   hour 00: contacts 0-49 each sent two messages (agent a1)    -> 50 contacts (sms 50)
 *   hour 01: contacts 25-99 each sent one message               -> 75 contacts (sms 25, whatsapp 50)
 *   both hours: 0-99                                            -> 100 contacts (sms 50, whatsapp 50), not 125
 *   Feb 2 10:00: contacts 0, 1 and 200                          -> 3 contacts
 *   bots: hour 00 faq and sales, hour 01 sales and billing      -> 2 and 2, 3 over both
 *   users: bot users 7, u2 (hour 00), u2 then conversation users "7", u2 (hour 01) -> 2, 2, 2 over both
 */
function datasetA(): Event[] {
  const events: Event[] = [];
  for (let n = 0; n < 50; n += 1) {
    for (const copy of [1, 2]) {
      events.push({ id: `sent-${n}-${copy}`, type: 'message.sent', occurredAt: at(T0 + n * 60_000 + copy), attributes: { messageId: `m-${n}-${copy}`, channel: channelOf(n), agentId: 'a1', contactId: contact(n) } });
    }
  }
  for (let n = 25; n < 100; n += 1) {
    events.push({ id: `received-${n}`, type: 'message.received', occurredAt: at(T0 + HOUR + n * 30_000), attributes: { messageId: `r-${n}`, channel: channelOf(n), contactId: contact(n) } });
  }
  for (const n of [0, 1, 200]) {
    events.push({ id: `later-${n}`, type: 'message.sent', occurredAt: at(T0 + DAY + 10 * HOUR), attributes: { messageId: `later-${n}`, channel: channelOf(n), contactId: contact(n) } });
  }
  const bot = (id: string, ms: number, botId: string, userId: string | number): Event => ({ id, type: 'bot.response', occurredAt: at(ms), attributes: { botId, success: true, userId, channel: 'web' } });
  events.push(bot('b1', T0 + 60_000, 'faq', 7), bot('b2', T0 + 120_000, 'sales', 'u2'), bot('b3', T0 + HOUR + 60_000, 'sales', 'u2'), bot('b4', T0 + HOUR + 120_000, 'billing', 'u2'));
  events.push(
    // A number counts as its decimal string: 7 and "7" are one user.
    { id: 'conv-1', type: 'conversation.status_changed', occurredAt: at(T0 + HOUR + 300_000), attributes: { from: 'pending', to: 'open', channel: 'web', userId: '7' } },
    { id: 'conv-2', type: 'conversation.status_changed', occurredAt: at(T0 + HOUR + 400_000), attributes: { from: 'open', to: 'done', channel: 'web', userId: 'u2' } },
  );
  return events;
}

/** Organization B: ten of A's contact ids in hour 00; A never counts them. */
const datasetB: Event[] = Array.from({ length: 10 }, (_, n) => ({
  id: `b-sent-${n}`,
  type: 'message.sent',
  occurredAt: at(T0 + n * 60_000),
  attributes: { messageId: `b-${n}`, channel: 'sms', contactId: contact(n) },
}));

interface WireResult {
  status: number;
  error?: string;
  frames: Array<{ schema: { meta: { custom: { cached: boolean } } } }>;
}

let server: TestServer;
let keyA: string;
let keyB: string;
let catalogFile: string;

/** The default catalog's events metrics only: what is asserted depends on nothing else. */
async function eventsCatalogFile(): Promise<string> {
  const catalog = parseYaml(await fs.readFile(DEFAULT_CATALOG_FILE, 'utf8')) as { sources: Array<{ id: string }>; metrics: Array<{ key: string; source: string; rules?: unknown }> };
  const file = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'mh-distinct-')), 'catalog.yaml');
  const metrics = catalog.metrics.filter((metric) => metric.source === 'events').map(({ rules: _rules, ...metric }) => metric);
  await fs.writeFile(file, stringifyYaml({ version: 1, sources: catalog.sources.filter((source) => source.id === 'events'), metrics }));
  return file;
}

async function send(key: string, events: unknown[]): Promise<{ accepted: number; rejected: Array<{ index: number; error: string }> }> {
  const res = await server.request('/api/v1/events', { method: 'POST', key, json: { events } });
  assert.equal(res.status, 200);
  return (await res.json()) as { accepted: number; rejected: Array<{ index: number; error: string }> };
}

async function one(q: Record<string, unknown>, range: { from?: number; to?: number; intervalMs?: number } = {}, key = keyA): Promise<WireResult> {
  const res = await server.request('/api/v1/query', {
    method: 'POST',
    key,
    json: { from: at(range.from ?? T0), to: at(range.to ?? T0 + 3 * HOUR), intervalMs: range.intervalMs ?? HOUR, maxDataPoints: 1000, queries: [{ refId: 'A', ...q }] },
  });
  assert.equal(res.status, 200);
  return ((await res.json()) as { results: Record<string, WireResult> }).results.A!;
}

/** Every frame read by Grafana's own parser: {labels, times, values} per series. */
function series(result: WireResult) {
  assert.equal(result.status, 200, result.error);
  return result.frames.map((wire) => {
    const frame = grafana.dataFrameFromJSON(wire as never);
    const time = frame.fields.find((field) => field.type === grafana.FieldType.time)!;
    const value = frame.fields.find((field) => field.name === 'value')!;
    return { labels: value.labels ?? {}, times: [...time.values], values: [...value.values] };
  });
}

/** A table or KPI frame read by Grafana's parser, as {field name: values}. */
function columns(result: WireResult): Record<string, unknown[]> {
  assert.equal(result.status, 200, result.error);
  const frame = grafana.dataFrameFromJSON(result.frames[0] as never);
  return Object.fromEntries(frame.fields.map((field) => [field.name, [...field.values]]));
}

before(async () => {
  catalogFile = await eventsCatalogFile();
  server = await startTestServer('query_distinct', { REDIS_URL: redisUrlForTest(13), RAW_RETENTION_DAYS: '36500', CATALOG_FILE: catalogFile });
  const redis = server.running.context.redis!;
  if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
  await redis.flushdb();
  keyA = await server.keyFor('org-a');
  keyB = await server.keyFor('org-b');
  for (const [key, events] of [
    [keyA, datasetA()],
    [keyB, datasetB],
  ] as const) {
    const answer = await send(key, events);
    assert.deepEqual(answer.rejected, []);
    assert.equal(answer.accepted, events.length);
  }
});

after(async () => {
  await server?.stop();
  await fs.rm(path.dirname(catalogFile), { recursive: true, force: true });
});

describe('distinct counts from sketches', () => {
  test('per hour and over the range: 50 and 75 contacts with 25 in common are 100, not 125', async () => {
    assert.deepEqual(series(await one({ metric: 'unique_contacts' })), [{ labels: {}, times: [T0, T0 + HOUR, T0 + 2 * HOUR], values: [50, 75, 0] }]);
    assert.deepEqual(columns(await one({ metric: 'unique_contacts', format: 'table' }, { to: T0 + 2 * HOUR })), { value: [100] });
  });

  test('the same answers once pending totals are folded, and from the dimensioned rows', async () => {
    await foldPendingTotals(server.running.context.pool);
    assert.deepEqual(columns(await one({ metric: 'unique_contacts', format: 'table' }, { to: T0 + 2 * HOUR })), { value: [100] });
    // A filter that keeps everything reads the dimensioned sketches instead of the totals.
    const everyChannel = { dimension: 'channel', op: 'in', value: ['sms', 'whatsapp'] };
    assert.deepEqual(columns(await one({ metric: 'unique_contacts', format: 'table', filters: [everyChannel] }, { to: T0 + 2 * HOUR })), { value: [100] });
    assert.deepEqual(series(await one({ metric: 'unique_contacts', filters: [everyChannel] }))[0]!.values, [50, 75, 0]);
    // The repair step rebuilds the same totals from the dimensioned sketches.
    const pool = server.running.context.pool;
    const totals = 'SELECT organization_id, event_type, attribute, bucket, (sketch).sparse, encode((sketch).dense, $$hex$$) AS dense FROM rollup_totals_distinct_daily ORDER BY 1, 2, 3, 4';
    const folded = (await pool.query(totals)).rows;
    await pool.query('SELECT rebuild_distinct_totals()');
    assert.deepEqual((await pool.query(totals)).rows, folded);
  });

  test('daily buckets and a range of whole days plus ragged hours merge daily and hourly sketches', async () => {
    assert.deepEqual(series(await one({ metric: 'unique_contacts' }, { to: T0 + 2 * DAY, intervalMs: DAY }))[0]!.values, [100, 3]);
    // Jan 31 23:00 to Feb 2 11:00: the whole of Feb 1 from the daily rows, Feb 2 00-11 from the hourly ones; contacts 0 and 1 count once.
    assert.deepEqual(columns(await one({ metric: 'unique_contacts', format: 'table' }, { from: T0 - HOUR, to: T0 + DAY + 11 * HOUR })), { value: [101] });
  });

  test('group-by and filters: one sketch union per label', async () => {
    const byChannel = series(await one({ metric: 'unique_contacts', groupBy: ['channel'] }));
    assert.deepEqual(
      byChannel.map(({ labels, values }) => ({ labels, values })),
      [
        { labels: { channel: 'sms' }, values: [50, 25, 0] },
        { labels: { channel: 'whatsapp' }, values: [0, 50, 0] },
      ],
    );
    assert.deepEqual(columns(await one({ metric: 'unique_contacts', format: 'table', groupBy: ['channel'] }, { to: T0 + 2 * HOUR })), { channel: ['sms', 'whatsapp'], value: [50, 50] });
    assert.deepEqual(series(await one({ metric: 'unique_contacts', filters: [{ dimension: 'channel', op: 'eq', value: 'whatsapp' }] }))[0]!.values, [0, 50, 0]);
    assert.deepEqual(columns(await one({ metric: 'unique_contacts', format: 'table', groupBy: ['agentId'] }, { to: T0 + 2 * HOUR })), { agentId: ['', 'a1'], value: [75, 50] });
  });

  test('KPI: the value and the previous period, each a union of its own range', async () => {
    const kpi = columns(await one({ metric: 'unique_contacts', format: 'kpi' }, { from: T0 + DAY, to: T0 + 2 * DAY }));
    assert.deepEqual(kpi.value, [3]);
    assert.deepEqual(kpi.previous, [100]);
    assert.deepEqual(kpi.deltaPercent, [-97]);
    assert.deepEqual(kpi.trend, ['down']);
  });

  test('active bots and active users count across event types', async () => {
    assert.deepEqual(series(await one({ metric: 'active_bots' }))[0]!.values, [2, 2, 0]);
    assert.deepEqual(columns(await one({ metric: 'active_bots', format: 'table' })), { value: [3] });
    assert.deepEqual(series(await one({ metric: 'active_users' }))[0]!.values, [2, 2, 0]);
    assert.deepEqual(columns(await one({ metric: 'active_users', format: 'table' })), { value: [2] });
  });

  test('organizations never see each other: B has 10 contacts where A has 50', async () => {
    assert.deepEqual(series(await one({ metric: 'unique_contacts' }, {}, keyB))[0]!.values, [10, 0, 0]);
    assert.deepEqual(series(await one({ metric: 'unique_contacts' }))[0]!.values, [50, 75, 0]);
  });

  test('CSV export merges the range the same way', async () => {
    const res = await server.request(`/api/v1/export.csv?from=${at(T0)}&to=${at(T0 + 2 * HOUR)}&metric=unique_contacts&groupBy=channel&format=table`, { key: keyA });
    assert.equal(res.status, 200);
    assert.deepEqual(parseCsv(await res.text(), { columns: true }), [
      { channel: 'sms', unique_contacts: '50' },
      { channel: 'whatsapp', unique_contacts: '50' },
    ]);
  });

  test('a write invalidates cached answers: a new contact shows at once', async () => {
    const range = { from: T0 + 2 * HOUR, to: T0 + 3 * HOUR };
    await one({ metric: 'unique_contacts', format: 'table' }, range);
    const cached = await one({ metric: 'unique_contacts', format: 'table' }, range);
    assert.equal(cached.frames[0]!.schema.meta.custom.cached, true);
    assert.deepEqual(columns(cached), { value: [0] });
    const answer = await send(keyA, [
      { id: 'new-1', type: 'message.sent', occurredAt: at(T0 + 2 * HOUR + 60_000), attributes: { messageId: 'new-1', channel: 'sms', contactId: contact(0) } },
      { id: 'new-2', type: 'message.received', occurredAt: at(T0 + 2 * HOUR + 90_000), attributes: { messageId: 'new-2', channel: 'sms', contactId: contact(0) } },
    ]);
    assert.equal(answer.accepted, 2);
    const fresh = await one({ metric: 'unique_contacts', format: 'table' }, range);
    assert.equal(fresh.frames[0]!.schema.meta.custom.cached, false);
    assert.deepEqual(columns(fresh), { value: [1] });
  });
});

describe('distinct errors', () => {
  test('distinct on a metric that does not count distinct values names the allowed aggregations', async () => {
    const result = await one({ metric: 'orders_created', aggregation: 'distinct' });
    assert.equal(result.status, 400);
    assert.equal(result.error, "aggregation 'distinct' is not allowed for metric 'orders_created' (allowed: sum, count)");
    const other = await one({ metric: 'unique_contacts', aggregation: 'sum' });
    assert.equal(other.status, 400);
    assert.match(other.error!, /allowed: distinct\)/);
  });

  test('an event whose counted attribute is not a string or number is rejected alone, by index, naming the field', async () => {
    const answer = await send(keyA, [
      { id: 'ok-1', type: 'message.sent', occurredAt: at(T0 + 5 * HOUR), attributes: { messageId: 'ok-1', contactId: 'contact-x' } },
      { id: 'bad-1', type: 'message.sent', occurredAt: at(T0 + 5 * HOUR), attributes: { messageId: 'bad-1', contactId: { id: 1 } } },
      { id: 'bad-2', type: 'bot.response', occurredAt: at(T0 + 5 * HOUR), attributes: { botId: 'faq', success: true, userId: true } },
      { id: 'ok-2', type: 'message.sent', occurredAt: at(T0 + 5 * HOUR), attributes: { messageId: 'ok-2' } },
    ]);
    assert.equal(answer.accepted, 2);
    assert.deepEqual(
      answer.rejected.map(({ index, error }) => ({ index, field: error.split(':')[0] })),
      [
        { index: 1, field: 'attributes.contactId' },
        { index: 2, field: 'attributes.userId' },
      ],
    );
    assert.deepEqual(columns(await one({ metric: 'unique_contacts', format: 'table' }, { from: T0 + 5 * HOUR, to: T0 + 6 * HOUR })), { value: [1] });
  });
});
