import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MAINTENANCE_JOB } from '../src/anomalies/module.js';
import { ConfigError, loadConfig } from '../src/config/env.js';
import { pruneStates } from '../src/jobs/state-retention.js';
import { startTestServer, type TestServer } from './support/server.js';

/**
 * Retention of conversation_states and agent_availability (the state ingestion
 * keeps per conversation and agent): closed and idle state past the cutoff is
 * deleted, open and pending conversations are kept, and what comes after a
 * deletion still counts right.
 */

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const NOW = Date.now();
const at = (ms: number) => new Date(ms).toISOString();
const OLD = Math.floor((NOW - 3 * DAY) / HOUR) * HOUR;
const RECENT = NOW - 2 * HOUR;

const change = (id: string, ms: number, conversationId: string, from: string, to: string) => ({
  id,
  type: 'conversation.status_changed',
  occurredAt: at(ms),
  attributes: { conversationId, from, to, channel: 'sms', agentId: 'a1' },
});
const availability = (id: string, ms: number, agentId: string, status: string) => ({ id, type: 'agent.status_changed', occurredAt: at(ms), attributes: { agentId, status } });

const events = [
  change('old-done-open', OLD, 'old-done', 'pending', 'open'),
  change('old-done-done', OLD + 10 * MIN, 'old-done', 'open', 'done'),
  change('old-open-open', OLD + 5 * MIN, 'old-open', 'pending', 'open'),
  change('old-pending-pending', OLD + 6 * MIN, 'old-pending', 'open', 'pending'),
  change('recent-spam-open', RECENT, 'recent-spam', 'pending', 'open'),
  change('recent-spam-spam', RECENT + 30 * MIN, 'recent-spam', 'open', 'spam'),
  availability('a-old-online', OLD, 'a-old', 'online'),
  availability('a-recent-online', RECENT, 'a-recent', 'online'),
];

let server: TestServer;
let key: string;
let organizationId: string;

async function send(batch: unknown[]): Promise<{ accepted: number; duplicates: number; rejected: unknown[] }> {
  const response = await server.request('/api/v1/events', { method: 'POST', key, json: { events: batch } });
  assert.equal(response.status, 200);
  return (await response.json()) as never;
}

async function kpi(metric: string): Promise<number> {
  const response = await server.request('/api/v1/query', { method: 'POST', key, json: { from: at(OLD - DAY), to: 'now', queries: [{ refId: 'A', metric, format: 'table' }] } });
  const { results } = (await response.json()) as { results: { A: { status: number; error?: string; frames: Array<{ schema: { fields: Array<{ name: string }> }; data: { values: unknown[][] } }> } } };
  assert.equal(results.A.status, 200, results.A.error);
  const frame = results.A.frames[0]!;
  return frame.data.values[frame.schema.fields.findIndex((field) => field.name === 'value')]![0] as number;
}

async function stateIds(): Promise<{ conversations: string[]; agents: string[] }> {
  const pool = server.running.context.pool;
  const conversations = await pool.query<{ id: string }>('SELECT conversation_id AS id FROM conversation_states WHERE organization_id = $1 ORDER BY 1', [organizationId]);
  const agents = await pool.query<{ id: string }>('SELECT agent_id AS id FROM agent_availability WHERE organization_id = $1 ORDER BY 1', [organizationId]);
  return { conversations: conversations.rows.map((row) => row.id), agents: agents.rows.map((row) => row.id) };
}

before(async () => {
  server = await startTestServer('state_retention');
  key = await server.keyFor('acme');
  organizationId = (await server.running.context.pool.query<{ id: string }>("SELECT id FROM organizations WHERE name = 'acme'")).rows[0]!.id;
  assert.deepEqual((await send(events)).rejected, []);
  // A blank row, as a batch leaves behind when none of its changes counted.
  await server.running.context.pool.query("INSERT INTO conversation_states (organization_id, conversation_id) VALUES ($1, 'blank')", [organizationId]);
});

after(async () => {
  await server?.stop();
});

describe('state retention', () => {
  test('deletes closed conversations and idle agents past the cutoff, keeps open and pending ones and recent state', async () => {
    assert.deepEqual(await stateIds(), { conversations: ['blank', 'old-done', 'old-open', 'old-pending', 'recent-spam'], agents: ['a-old', 'a-recent'] });
    assert.deepEqual(await pruneStates(server.running.context.pool, 2), { conversations: 2, agents: 1 });
    assert.deepEqual(await stateIds(), { conversations: ['old-open', 'old-pending', 'recent-spam'], agents: ['a-recent'] });
    // A second run finds nothing more.
    assert.deepEqual(await pruneStates(server.running.context.pool, 2), { conversations: 0, agents: 0 });
  });

  test('after the deletion, retried changes still count nothing and a reopened conversation counts as new', async () => {
    const openedBefore = await kpi('conversations_opened');
    assert.equal(await kpi('conversations_open_now'), 1);
    // The same done change again under a new event id: its claim outlives the state row.
    const retried = await send([{ ...events[1]!, id: 'old-done-done-retried' }]);
    assert.deepEqual(retried.rejected, []);
    assert.equal(await kpi('conversations_resolved'), 1);
    // old-done reopens: one more opened, one more open now; the open and pending levels stay exact.
    assert.deepEqual((await send([change('old-done-reopened', NOW - 10 * MIN, 'old-done', 'done', 'open')])).rejected, []);
    assert.equal(await kpi('conversations_opened'), openedBefore + 1);
    assert.equal(await kpi('conversations_open_now'), 2);
    assert.equal(await kpi('conversations_pending_now'), 1);
    assert.deepEqual((await stateIds()).conversations, ['old-done', 'old-open', 'old-pending', 'recent-spam']);
  });

  test('the hourly maintenance job prunes with STATE_RETENTION_DAYS', async () => {
    const short = await startTestServer('state_retention_job', { RAW_RETENTION_DAYS: '1' });
    try {
      await short.keyFor('acme');
      const pool = short.running.context.pool;
      const org = (await pool.query<{ id: string }>("SELECT id FROM organizations WHERE name = 'acme'")).rows[0]!.id;
      await pool.query("INSERT INTO conversation_states (organization_id, conversation_id, state, changed_at) VALUES ($1, 'closed', 'done', now() - interval '2 days'), ($1, 'open', 'open', now() - interval '2 days')", [org]);
      await pool.query("INSERT INTO agent_availability (organization_id, agent_id, status, since) VALUES ($1, 'idle', 'offline', now() - interval '2 days'), ($1, 'busy', 'online', now())", [org]);
      await short.running.context.jobs!.runNow(MAINTENANCE_JOB);
      const conversations = await pool.query<{ id: string }>('SELECT conversation_id AS id FROM conversation_states ORDER BY 1');
      const agents = await pool.query<{ id: string }>('SELECT agent_id AS id FROM agent_availability ORDER BY 1');
      assert.deepEqual(conversations.rows.map((row) => row.id), ['open']);
      assert.deepEqual(agents.rows.map((row) => row.id), ['busy']);
    } finally {
      await short.stop();
    }
  });
});

describe('STATE_RETENTION_DAYS', () => {
  test('defaults to RAW_RETENTION_DAYS and may not be shorter', () => {
    assert.equal(loadConfig({ RAW_RETENTION_DAYS: '90' }).STATE_RETENTION_DAYS, 90);
    assert.equal(loadConfig({ RAW_RETENTION_DAYS: '90', STATE_RETENTION_DAYS: '365' }).STATE_RETENTION_DAYS, 365);
    assert.throws(() => loadConfig({ RAW_RETENTION_DAYS: '90', STATE_RETENTION_DAYS: '30' }), (error: unknown) => error instanceof ConfigError && /STATE_RETENTION_DAYS: must be at least RAW_RETENTION_DAYS/.test(error.message));
  });
});
