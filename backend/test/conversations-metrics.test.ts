import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { DEFAULT_CATALOG_FILE } from '../src/catalog/load.js';
import { startTestServer, type TestServer } from './support/server.js';

/**
 * Conversation, agent, bot and contact metrics (issue 16) against hand-computed
 * values, on a real PostgreSQL: hourly and daily, grouped and filtered, with
 * repeated callbacks and state changes that must count once.
 */

const T0 = Date.UTC(2026, 1, 1); // 2026-02-01T00:00:00Z
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const at = (ms: number) => new Date(ms).toISOString();

interface Event {
  id: string;
  type: string;
  occurredAt: string;
  value?: number;
  attributes: Record<string, unknown>;
}

const change = (id: string, ms: number, conversationId: string | undefined, from: string, to: string, extra: Record<string, unknown> = {}, value?: number): Event => ({
  id,
  type: 'conversation.status_changed',
  occurredAt: at(ms),
  ...(value !== undefined && { value }),
  attributes: { from, to, ...(conversationId && { conversationId }), ...extra },
});
const c1 = { channel: 'sms', agentId: 'a1', source: 'google', market: 'de' };
const c2 = { channel: 'email', agentId: 'a2', source: 'meta', market: 'fr' };
const c3 = { channel: 'sms', agentId: 'a1', source: 'google', market: 'de' };
const faq = { botId: 'faq', channel: 'web' };
const booking = { botId: 'booking', channel: 'web' };
const availability = (id: string, ms: number, status: string): Event => ({ id, type: 'agent.status_changed', occurredAt: at(ms), attributes: { agentId: 'a1', status } });
const sent = (id: string, ms: number, contactId: string, channel: string): Event => ({ id, type: 'message.sent', occurredAt: at(ms), attributes: { messageId: id, contactId, channel } });

/**
 * Conversations: c1 opens 00:10 (resent with a new id, then "opened" again at
 * 00:20: both count nothing), done 01:10 after 4200 s with satisfaction 4; c2
 * opens 00:30, pending 02:05; c3 opens 01:20, spam 01:30, and a late pending
 * at 01:25 arrives after its spam; c4 (no conversationId) opens 02:10.
 * Agent a1: online 00:30, away 01:15, online 01:45 (again at 01:50), offline 02:30.
 * Bots: x1 faq 00:05-00:20 resolved (6 messages, 900 s, satisfaction 5), start
 * and end each sent twice; x2 faq 00:40-01:10 escalated (10 messages, 1800 s);
 * x3 booking starts 01:30; x4 booking ends 02:05 (resolved, 2 messages, 60 s)
 * before its start (02:01) arrives.
 */
const firstBatch: Event[] = [
  change('cv1', T0 + 10 * MIN, 'c1', 'pending', 'open', c1),
  change('cv1-resent', T0 + 10 * MIN, 'c1', 'pending', 'open', c1),
  change('cv1-again', T0 + 20 * MIN, 'c1', 'pending', 'open', c1),
  change('cv2', T0 + 30 * MIN, 'c2', 'pending', 'open', c2),
  change('cv3', T0 + HOUR + 10 * MIN, 'c1', 'open', 'done', { ...c1, satisfaction: 4 }, 4200),
  change('cv4', T0 + HOUR + 20 * MIN, 'c3', 'pending', 'open', c3),
  change('cv5', T0 + HOUR + 30 * MIN, 'c3', 'open', 'spam', c3),
  change('cv6', T0 + 2 * HOUR + 5 * MIN, 'c2', 'open', 'pending', c2),
  change('cv7', T0 + 2 * HOUR + 10 * MIN, undefined, 'pending', 'open', { channel: 'email', agentId: 'a2' }),
  { id: 'fr1', type: 'conversation.first_response', occurredAt: at(T0 + 12 * MIN), value: 60, attributes: { conversationId: 'c1', ...c1 } },
  { id: 'fr1-again', type: 'conversation.first_response', occurredAt: at(T0 + 13 * MIN), value: 90, attributes: { conversationId: 'c1', ...c1 } },
  { id: 'fr2', type: 'conversation.first_response', occurredAt: at(T0 + 35 * MIN), value: 120, attributes: { conversationId: 'c2', ...c2 } },
  availability('av1', T0 + 30 * MIN, 'online'),
  availability('av2', T0 + HOUR + 15 * MIN, 'away'),
  availability('av3', T0 + HOUR + 45 * MIN, 'online'),
  availability('av4', T0 + HOUR + 50 * MIN, 'online'),
  availability('av5', T0 + 2 * HOUR + 30 * MIN, 'offline'),
  { id: 'bs1', type: 'bot.conversation_started', occurredAt: at(T0 + 5 * MIN), attributes: { conversationId: 'x1', ...faq } },
  { id: 'bs1-again', type: 'bot.conversation_started', occurredAt: at(T0 + 5 * MIN), attributes: { conversationId: 'x1', ...faq } },
  { id: 'be1', type: 'bot.conversation_ended', occurredAt: at(T0 + 20 * MIN), value: 900, attributes: { conversationId: 'x1', ...faq, status: 'resolved', messages: 6, satisfaction: 5 } },
  { id: 'bs2', type: 'bot.conversation_started', occurredAt: at(T0 + 40 * MIN), attributes: { conversationId: 'x2', ...faq } },
  { id: 'be2', type: 'bot.conversation_ended', occurredAt: at(T0 + HOUR + 10 * MIN), value: 1800, attributes: { conversationId: 'x2', ...faq, status: 'escalated', messages: 10 } },
  { id: 'bs3', type: 'bot.conversation_started', occurredAt: at(T0 + HOUR + 30 * MIN), attributes: { conversationId: 'x3', ...booking } },
  { id: 'be4', type: 'bot.conversation_ended', occurredAt: at(T0 + 2 * HOUR + 5 * MIN), value: 60, attributes: { conversationId: 'x4', ...booking, status: 'resolved', messages: 2 } },
  { id: 'r1', type: 'bot.response', occurredAt: at(T0 + 6 * MIN), value: 300, attributes: { ...faq, success: true, tokens: 100, cost: 0.002, fallback: false, knowledgeBase: 'hit' } },
  { id: 'r2', type: 'bot.response', occurredAt: at(T0 + 7 * MIN), value: 500, attributes: { ...faq, success: true, tokens: 300, cost: 0.006, fallback: true, knowledgeBase: 'miss' } },
  { id: 'r3', type: 'bot.response', occurredAt: at(T0 + HOUR + 31 * MIN), value: 200, attributes: { ...booking, success: true, tokens: 50, cost: 0.001, knowledgeBase: 'hit' } },
  sent('m1', T0 + MIN, 'k1', 'sms'),
  sent('m2', T0 + 2 * MIN, 'k1', 'sms'),
  sent('m3', T0 + HOUR, 'k2', 'email'),
  sent('m4', T0 + DAY + MIN, 'k1', 'sms'),
  { id: 'm1-delivered', type: 'message.delivered', occurredAt: at(T0 + MIN + 1000), attributes: { messageId: 'm1', channel: 'sms' } },
  { id: 'm1-delivered-again', type: 'message.delivered', occurredAt: at(T0 + MIN + 2000), attributes: { messageId: 'm1', channel: 'sms' } },
  { id: 'oo1', type: 'contact.opted_out', occurredAt: at(T0 + 3 * MIN), attributes: { contactId: 'k1', channel: 'sms', initiatedBy: 'contact' } },
  { id: 'oo2', type: 'contact.opted_out', occurredAt: at(T0 + HOUR + 5 * MIN), attributes: { contactId: 'k3', channel: 'email', initiatedBy: 'agent' } },
  { id: 'kc1', type: 'contact.created', occurredAt: at(T0 + MIN), attributes: { contactId: 'k1', source: 'google', market: 'de' } },
  { id: 'kc3', type: 'contact.created', occurredAt: at(T0 + HOUR), attributes: { contactId: 'k3', source: 'meta', market: 'fr' } },
];
/** Arrives after the first batch: a late pending of c3 and x4's start after its end, and every repeat again. */
const secondBatch: Event[] = [
  change('cv8', T0 + HOUR + 25 * MIN, 'c3', 'open', 'pending', c3),
  change('cv2-again', T0 + 2 * HOUR + 40 * MIN, 'c2', 'open', 'pending', c2),
  { id: 'bs4', type: 'bot.conversation_started', occurredAt: at(T0 + 2 * HOUR + MIN), attributes: { conversationId: 'x4', ...booking } },
  { id: 'be1-again', type: 'bot.conversation_ended', occurredAt: at(T0 + 21 * MIN), value: 900, attributes: { conversationId: 'x1', ...faq, status: 'resolved', messages: 6 } },
  { id: 'm1-delivered-third', type: 'message.delivered', occurredAt: at(T0 + MIN + 3000), attributes: { messageId: 'm1', channel: 'sms' } },
];

interface WireResult {
  status: number;
  error?: string;
  frames: Array<{ schema: { fields: Array<{ name: string; labels?: Record<string, string> }> }; data: { values: unknown[][] } }>;
}

let server: TestServer;
let key: string;
let otherKey: string;
let catalogFile: string;

/** The default catalog's events source and metrics, without rules (this file checks values, not alerts). */
async function eventsCatalogFile(): Promise<string> {
  const catalog = parseYaml(await fs.readFile(DEFAULT_CATALOG_FILE, 'utf8')) as { sources: Array<{ id: string }>; metrics: Array<{ source: string; rules?: unknown }> };
  const file = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'mh-conv-')), 'catalog.yaml');
  const metrics = catalog.metrics.filter((metric) => metric.source === 'events').map(({ rules: _rules, ...metric }) => metric);
  await fs.writeFile(file, stringifyYaml({ version: 1, sources: catalog.sources.filter((source) => source.id === 'events'), metrics }));
  return file;
}

async function send(events: Event[], apiKey = key): Promise<{ accepted: number; duplicates: number; rejected: Array<{ index: number; error: string }> }> {
  const res = await server.request('/api/v1/events', { method: 'POST', key: apiKey, json: { events } });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as never;
}

/** {labels-as-string: values} of one query; hourly over 00:00-03:00 unless told. */
async function values(query: Record<string, unknown>, range: { from?: number; to?: number; intervalMs?: number } = {}, apiKey = key): Promise<Record<string, Array<number | null>>> {
  const res = await server.request('/api/v1/query', {
    method: 'POST',
    key: apiKey,
    json: { from: at(range.from ?? T0), to: at(range.to ?? T0 + 3 * HOUR), intervalMs: range.intervalMs ?? HOUR, queries: [{ refId: 'A', ...query }] },
  });
  assert.equal(res.status, 200);
  const result = ((await res.json()) as { results: Record<string, WireResult> }).results.A!;
  assert.equal(result.status, 200, result.error);
  const out: Record<string, number[]> = {};
  for (const frame of result.frames) {
    const index = frame.schema.fields.findIndex((field) => field.name === 'value');
    const labels = frame.schema.fields[index]!.labels ?? {};
    out[Object.keys(labels).length > 0 ? Object.values(labels).join(',') : 'all'] = (frame.data.values[index] as number[]).map((value) => (value === null ? value : Math.round(value * 1e6) / 1e6));
  }
  return out;
}

before(async () => {
  catalogFile = await eventsCatalogFile();
  server = await startTestServer('conversations', { LOG_LEVEL: 'error', RAW_RETENTION_DAYS: '36500', CATALOG_FILE: catalogFile });
  key = await server.keyFor('org-a');
  otherKey = await server.keyFor('org-b');
  const first = await send(firstBatch);
  assert.deepEqual(first.rejected, []);
  assert.equal(first.accepted, firstBatch.length, 'repeats are stored raw; they only count nothing');
  assert.deepEqual((await send(secondBatch)).rejected, []);
  // The whole first batch again (a retried request) changes nothing.
  assert.equal((await send(firstBatch)).duplicates, firstBatch.length);
});

after(async () => {
  await server?.stop();
  await fs.rm(path.dirname(catalogFile), { recursive: true, force: true });
});

describe('conversation states', () => {
  test('states entered count each change once; resends and repeats of the current state count nothing', async () => {
    assert.deepEqual(await values({ metric: 'conversations_opened' }), { all: [2, 1, 1] });
    assert.deepEqual(await values({ metric: 'conversations_spam' }), { all: [0, 1, 0] });
    assert.deepEqual(await values({ metric: 'conversations_resolved' }), { all: [0, 1, 0] });
    // c3's late pending counts as entered; c2's second pending is a repeat.
    assert.deepEqual(await values({ metric: 'conversations_pending' }), { all: [0, 1, 1] });
    assert.deepEqual(await values({ metric: 'conversation_state_changes', groupBy: ['to'] }), { done: [0, 1, 0], open: [2, 1, 1], pending: [0, 1, 1], spam: [0, 1, 0] });
  });

  test('spam and unsubscribe rates are of conversations opened', async () => {
    assert.deepEqual(await values({ metric: 'spam_rate' }), { all: [0, 1, 0] });
    assert.deepEqual(await values({ metric: 'unsubscribe_rate' }), { all: [0, 0, 0] });
    assert.deepEqual(await values({ metric: 'spam_rate', format: 'table' }), { all: [0.25] });
  });

  test('open and pending now are levels at each bucket end, late changes leave them alone', async () => {
    assert.deepEqual(await values({ metric: 'conversations_open_now' }), { all: [2, 1, 0] });
    assert.deepEqual(await values({ metric: 'conversations_pending_now' }), { all: [0, 0, 1] });
    // The next day starts from everything before it (daily rollups), hourly and daily.
    assert.deepEqual(await values({ metric: 'conversations_pending_now' }, { from: T0 + DAY, to: T0 + DAY + 2 * HOUR }), { all: [1, 1] });
    assert.deepEqual(await values({ metric: 'conversations_pending_now' }, { from: T0, to: T0 + 2 * DAY, intervalMs: DAY }), { all: [1, 1] });
    assert.deepEqual(await values({ metric: 'conversations_open_now', format: 'table' }), { all: [0] });
  });

  test('lead-source performance: conversations and resolution time per source, filters by market', async () => {
    assert.deepEqual(await values({ metric: 'conversations_opened', groupBy: ['source'] }), { '': [0, 0, 1], google: [1, 1, 0], meta: [1, 0, 0] });
    assert.deepEqual(await values({ metric: 'conversation_resolution_s', aggregation: 'avg', groupBy: ['source'] }), { google: [null, 4200, null] } as never);
    assert.deepEqual(await values({ metric: 'conversations_opened', filters: [{ dimension: 'market', op: 'eq', value: 'fr' }] }), { all: [1, 0, 0] });
    assert.deepEqual(await values({ metric: 'contacts_created', groupBy: ['source'] }), { google: [1, 0, 0], meta: [0, 1, 0] });
  });
});

describe('agents', () => {
  test('workload is open and pending conversations per agent at each bucket end', async () => {
    assert.deepEqual(await values({ metric: 'agent_workload', groupBy: ['agentId'] }), { a1: [1, 0, 0], a2: [1, 1, 1] });
    assert.deepEqual(await values({ metric: 'agent_workload', filters: [{ dimension: 'agentId', op: 'eq', value: 'a2' }], format: 'table' }), { all: [1] });
  });

  test('first response counts once per conversation; satisfaction averages closed conversations', async () => {
    assert.deepEqual(await values({ metric: 'conversation_first_response_s', aggregation: 'avg' }), { all: [90, null, null] } as never);
    assert.deepEqual(await values({ metric: 'conversation_first_response_s', aggregation: 'count', groupBy: ['agentId'] }), { a1: [1, 0, 0], a2: [1, 0, 0] });
    assert.deepEqual(await values({ metric: 'conversation_satisfaction', groupBy: ['agentId'] }, { from: T0, to: T0 + DAY, intervalMs: DAY }), { a1: [4] });
  });

  test('availability hours per status, split across hours, and per day', async () => {
    assert.deepEqual(await values({ metric: 'agent_availability_hours', groupBy: ['status'] }), { away: [0, 0.5, 0], online: [0.5, 0.5, 0.5] });
    assert.deepEqual(await values({ metric: 'agent_availability_hours', groupBy: ['status'] }, { from: T0, to: T0 + DAY, intervalMs: DAY }), { away: [0.5], online: [1.5] });
  });

  test('messages handled per agent', async () => {
    assert.deepEqual(await values({ metric: 'agent_messages_handled', groupBy: ['agentId'] }), { '': [2, 1, 0] });
  });
});

describe('bots', () => {
  test('conversations started and ended count once each; success and handoff rates', async () => {
    assert.deepEqual(await values({ metric: 'bot_conversations_started' }), { all: [2, 1, 1] });
    assert.deepEqual(await values({ metric: 'bot_conversations_ended', groupBy: ['status'] }), { escalated: [0, 1, 0], resolved: [1, 0, 1] });
    assert.deepEqual(await values({ metric: 'bot_success_rate' }), { all: [1, 0, 1] });
    // A ratio over an hour without conversations has no rate (null), not 0 %.
    assert.deepEqual(await values({ metric: 'bot_handoff_rate', groupBy: ['botId'] }), { booking: [null, null, 0], faq: [0, 1, null] });
  });

  test('active conversations: a level that an end before its start never unbalances', async () => {
    assert.deepEqual(await values({ metric: 'bot_active_conversations' }), { all: [1, 1, 1] });
    assert.deepEqual(await values({ metric: 'bot_active_conversations', groupBy: ['botId'] }), { booking: [0, 1, 1], faq: [1, 0, 0] });
  });

  test('messages per conversation, duration and satisfaction', async () => {
    assert.deepEqual(await values({ metric: 'bot_messages_per_conversation', format: 'table' }), { all: [6] });
    assert.deepEqual(await values({ metric: 'bot_conversation_duration_s', aggregation: 'avg', format: 'table' }), { all: [920] });
    assert.deepEqual(await values({ metric: 'bot_conversation_duration_s', aggregation: 'max', format: 'table' }, { from: T0, to: T0 + DAY, intervalMs: DAY }), { all: [1800] });
    assert.deepEqual(await values({ metric: 'bot_satisfaction', format: 'table' }), { all: [5] });
  });

  test('tokens, cost, fallback and knowledge-base hit rates', async () => {
    assert.deepEqual(await values({ metric: 'bot_tokens' }), { all: [400, 50, 0] });
    assert.deepEqual(await values({ metric: 'bot_cost', groupBy: ['botId'] }), { booking: [0, 0.001, 0], faq: [0.008, 0, 0] });
    assert.deepEqual(await values({ metric: 'bot_fallback_rate' }), { all: [0.5, 0, null] });
    assert.deepEqual(await values({ metric: 'bot_knowledge_hit_rate' }), { all: [0.5, 1, null] });
    assert.deepEqual(await values({ metric: 'bot_tokens_per_conversation', format: 'table' }), { all: [112.5] });
    assert.deepEqual(await values({ metric: 'bot_cost_per_conversation', format: 'table' }, { from: T0, to: T0 + DAY, intervalMs: DAY }), { all: [0.00225] });
  });
});

describe('contacts', () => {
  test('opt-outs by initiator and the opt-out rate of contacted contacts (once per contact and day)', async () => {
    assert.deepEqual(await values({ metric: 'opt_outs', groupBy: ['initiatedBy'] }), { agent: [0, 1, 0], contact: [1, 0, 0] });
    assert.deepEqual(await values({ metric: 'contacts_contacted' }), { all: [1, 1, 0] });
    assert.deepEqual(await values({ metric: 'opt_out_rate' }), { all: [1, 1, null] });
    assert.deepEqual(await values({ metric: 'contacts_contacted' }, { from: T0, to: T0 + 2 * DAY, intervalMs: DAY }), { all: [2, 1] });
    assert.deepEqual(await values({ metric: 'opt_outs', filters: [{ dimension: 'channel', op: 'eq', value: 'email' }] }), { all: [0, 1, 0] });
  });

  test('a message with three delivery callbacks is delivered once', async () => {
    assert.deepEqual(await values({ metric: 'messages_delivered', format: 'table' }), { all: [1] });
  });
});

describe('organizations and validation', () => {
  test('another organization with the same conversation ids has its own states and levels', async () => {
    assert.deepEqual((await send([change('b-cv1', T0 + 10 * MIN, 'c1', 'pending', 'open', c1), change('b-cv2', T0 + 50 * MIN, 'c2', 'pending', 'open', c2)], otherKey)).rejected, []);
    assert.deepEqual(await values({ metric: 'conversations_open_now' }, {}, otherKey), { all: [2, 2, 2] });
    assert.deepEqual(await values({ metric: 'conversations_open_now' }), { all: [2, 1, 0] });
  });

  test('bad attributes are rejected with the field and the reason', async () => {
    const result = await send([
      { id: 'bad1', type: 'agent.status_changed', occurredAt: at(T0), attributes: { agentId: 'a1', status: 'lunch' } },
      { id: 'bad2', type: 'bot.conversation_ended', occurredAt: at(T0), attributes: { conversationId: 'x9', botId: 'faq', status: 'resolved', satisfaction: 6 } },
      { id: 'bad3', type: 'contact.opted_out', occurredAt: at(T0), attributes: { contactId: 'k1', channel: 'sms' } },
      { id: 'bad4', type: 'conversation.first_response', occurredAt: at(T0), attributes: { conversationId: 'c9' } },
      { id: 'bad5', type: 'bot.response', occurredAt: at(T0), attributes: { botId: 'faq', success: true, tokens: -1 } },
    ]);
    assert.equal(result.accepted, 0);
    assert.match(result.rejected[0]!.error, /^attributes\.status: must be one of online, away, offline/);
    assert.match(result.rejected[1]!.error, /^attributes\.satisfaction: must be a whole number from 1 to 5/);
    assert.match(result.rejected[2]!.error, /^attributes\.initiatedBy: must be one of contact, agent, system/);
    assert.match(result.rejected[3]!.error, /^value: required for conversation\.first_response/);
    assert.match(result.rejected[4]!.error, /^attributes\.tokens: must be a whole number >= 0/);
  });
});

describe('format list', () => {
  async function list(query: Record<string, unknown>, apiKey = key): Promise<WireResult> {
    const res = await server.request('/api/v1/query', { method: 'POST', key: apiKey, json: { from: at(T0), to: at(T0 + 3 * HOUR), queries: [{ refId: 'L', format: 'list', ...query }] } });
    assert.equal(res.status, 200);
    return ((await res.json()) as { results: Record<string, WireResult> }).results.L!;
  }
  const rows = (result: WireResult) => {
    assert.equal(result.status, 200, result.error);
    const [frame] = result.frames;
    const names = frame!.schema.fields.map((field) => field.name);
    return { names, rows: frame!.data.values[0]!.map((_, row) => Object.fromEntries(names.map((name, index) => [name, frame!.data.values[index]![row]]))) };
  };

  test('the newest N events of the metric, newest first, with the catalog columns and values', async () => {
    const { names, rows: listed } = rows(await list({ metric: 'bot_conversations', limit: 3 }));
    assert.deepEqual(names, ['time', 'type', 'conversationId', 'botId', 'channel', 'status', 'value']);
    assert.deepEqual(listed, [
      { time: T0 + 125 * MIN, type: 'bot.conversation_ended', conversationId: 'x4', botId: 'booking', channel: 'web', status: 'resolved', value: 60 },
      { time: T0 + 121 * MIN, type: 'bot.conversation_started', conversationId: 'x4', botId: 'booking', channel: 'web', status: 'active', value: null },
      { time: T0 + 90 * MIN, type: 'bot.conversation_started', conversationId: 'x3', botId: 'booking', channel: 'web', status: 'active', value: null },
    ]);
  });

  test('filters (derived status too), chosen columns, the metric\'s fixed where, and the default limit', async () => {
    assert.deepEqual(rows(await list({ metric: 'bot_conversations', filters: [{ dimension: 'status', op: 'eq', value: 'escalated' }], columns: ['conversationId', 'messages'] })).rows, [
      { time: T0 + 70 * MIN, type: 'bot.conversation_ended', conversationId: 'x2', messages: '10', value: 1800 },
    ]);
    // x1's start was sent twice: listed once, as counted.
    assert.deepEqual(rows(await list({ metric: 'bot_conversations', filters: [{ dimension: 'status', op: 'eq', value: 'active' }] })).rows.map((row) => row.conversationId), ['x4', 'x3', 'x2', 'x1']);
    // x1's end was sent again (another id, a minute later): the first end is the one listed.
    const faq = rows(await list({ metric: 'bot_conversations', filters: [{ dimension: 'botId', op: 'eq', value: 'faq' }], columns: ['conversationId'] })).rows;
    assert.deepEqual(faq.map((row) => [row.conversationId, row.value]), [['x2', 1800], ['x2', null], ['x1', 900], ['x1', null]]);
    const spam = rows(await list({ metric: 'conversations_spam' }));
    assert.deepEqual(spam.rows.map((row) => row.to), ['spam']);
    assert.deepEqual(spam.names, ['time', 'type', 'channel', 'agentId', 'botId', 'source', 'market', 'from', 'to']);
  });

  test('another organization sees only its own events', async () => {
    assert.deepEqual(rows(await list({ metric: 'bot_conversations' }, otherKey)).rows, []);
    assert.deepEqual(rows(await list({ metric: 'conversations_opened' }, otherKey)).rows.map((row) => row.agentId), ['a2', 'a1']);
  });

  test('what a list cannot be is a per-query error naming the reason', async () => {
    assert.match((await list({ metric: 'spam_rate' })).error!, /'spam_rate' is a ratio, so list 'conversations_spam' or 'conversations_opened'/);
    assert.match((await list({ metric: 'bot_conversations', groupBy: ['botId'] })).error!, /groupBy does not apply to format 'list'/);
    // Like a table's top-N limit, a list's limit is checked per query.
    assert.match((await list({ metric: 'bot_conversations', limit: 5000 })).error!, /limit: must be a whole number from 1 to 1000/);
  });
});
