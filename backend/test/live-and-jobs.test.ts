import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { describe, test } from 'node:test';
import { FOLD_DIMENSIONS_EVERY_MS } from '../src/jobs/fold-totals.js';
import { redisUrlForTest } from './support/databases.js';
import { clearOfBoundary } from './support/clock.js';
import { startTestServer } from './support/server.js';

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Reads SSE `counters` events from a fetch response until `count` arrived. */
async function readCounters(res: Response, count: number): Promise<Array<{ time: number; values: Record<string, number> }>> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const events: Array<{ time: number; values: Record<string, number> }> = [];
  let buffer = '';
  while (events.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (block.includes('event: counters')) events.push(JSON.parse(block.split('\n').find((line) => line.startsWith('data: '))!.slice(6)));
    }
  }
  await reader.cancel();
  return events;
}

describe('live counters', () => {
  test('stream each metric over the last 60 s for the key organization only', async () => {
    const server = await startTestServer('live', { REDIS_URL: undefined });
    try {
      const key = await server.keyFor('acme');
      const other = await server.keyFor('globex');
      const now = Date.now();
      const events = [
        ...Array.from({ length: 3 }, (_, i) => ({ id: `o${i}`, type: 'order.created', occurredAt: new Date(now - 5_000).toISOString(), value: 10 + i, attributes: { channel: 'web' } })),
        { id: 'old', type: 'order.created', occurredAt: new Date(now - 5 * 60_000).toISOString(), value: 99 },
        { id: 'b1', type: 'bot.response', occurredAt: new Date(now - 1_000).toISOString(), value: 300, attributes: { botId: 'faq', success: false } },
        { id: 'b2', type: 'bot.response', occurredAt: new Date(now - 1_000).toISOString(), value: 200, attributes: { botId: 'faq', success: true } },
      ];
      assert.equal((await server.request('/api/v1/events', { key, method: 'POST', json: { events } })).status, 200);
      await server.request('/api/v1/events', { key: other, method: 'POST', json: { events: [{ id: 'x', type: 'order.created', occurredAt: new Date(now - 1000).toISOString() }] } });

      const res = await server.request('/api/v1/live?metrics=orders_created,order_value,bot_errors&intervalMs=250', { key });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
      const [first] = await readCounters(res, 1);
      assert.deepEqual(first!.values, { orders_created: 3, order_value: 33, bot_errors: 1 });

      const bad = await server.request('/api/v1/live?metrics=revenue', { key });
      assert.equal(bad.status, 400);
      assert.match(((await bad.json()) as { error: string }).error, /no live counter: only metrics of the events source stream/);
    } finally {
      await server.stop();
    }
  });

  test('count what the rollups count: repeated delivery and bot-conversation callbacks once; ratios, averages and levels', async () => {
    const server = await startTestServer('live_dedupe', { REDIS_URL: undefined });
    try {
      const key = await server.keyFor('acme');
      const now = Date.now();
      const at = (msAgo: number) => new Date(now - msAgo).toISOString();
      const bot = { botId: 'faq', channel: 'web' };
      const events = [
        { id: 's1', type: 'message.sent', occurredAt: at(9_000), attributes: { messageId: 'm1' } },
        { id: 'd1', type: 'message.delivered', occurredAt: at(8_000), attributes: { messageId: 'm1' } },
        { id: 'd1-again', type: 'message.delivered', occurredAt: at(7_000), attributes: { messageId: 'm1' } },
        // A message delivered before the window: its repeated callback inside the window counts nothing.
        { id: 'd2', type: 'message.delivered', occurredAt: at(5 * 60_000), attributes: { messageId: 'm2' } },
        { id: 'd2-again', type: 'message.delivered', occurredAt: at(6_000), attributes: { messageId: 'm2' } },
        { id: 'c1', type: 'bot.conversation_started', occurredAt: at(30_000), attributes: { conversationId: 'x1', ...bot } },
        { id: 'c2', type: 'bot.conversation_started', occurredAt: at(20_000), attributes: { conversationId: 'x2', ...bot } },
        { id: 'e1', type: 'bot.conversation_ended', occurredAt: at(10_000), value: 20, attributes: { conversationId: 'x1', ...bot, status: 'resolved' } },
        { id: 'e1-again', type: 'bot.conversation_ended', occurredAt: at(9_000), value: 21, attributes: { conversationId: 'x1', ...bot, status: 'resolved' } },
        { id: 'r1', type: 'bot.response', occurredAt: at(4_000), value: 300, attributes: { ...bot, success: true } },
        { id: 'r2', type: 'bot.response', occurredAt: at(3_000), value: 500, attributes: { ...bot, success: true } },
      ];
      const stored = (await (await server.request('/api/v1/events', { key, method: 'POST', json: { events } })).json()) as { accepted: number; rejected: unknown[] };
      assert.deepEqual(stored.rejected, []);
      const metrics = 'messages_delivered,bot_conversations_ended,bot_success_rate,bot_response_time_ms,bot_active_conversations,bot_conversation_duration_s';
      const [first] = await readCounters(await server.request(`/api/v1/live?metrics=${metrics}&intervalMs=250`, { key }), 1);
      assert.deepEqual(first!.values, {
        messages_delivered: 1,
        bot_conversations_ended: 1,
        bot_success_rate: 1,
        bot_response_time_ms: 400,
        bot_active_conversations: 1,
        bot_conversation_duration_s: 20,
      });
    } finally {
      await server.stop();
    }
  });
});

describe('live windows', () => {
  test('a metric with liveWindowSeconds 3600 streams the last hour; the 60-s metrics of the same stream keep their minute', async () => {
    const server = await startTestServer('live_window', { REDIS_URL: undefined });
    try {
      const key = await server.keyFor('acme');
      const now = Date.now();
      const response = (id: string, msAgo: number, botId = 'faq') => ({ id, type: 'bot.response', occurredAt: new Date(now - msAgo).toISOString(), value: 100, attributes: { botId, success: true } });
      // Inside the last minute: 2; inside the last hour: 2 + 3; before the hour: 1 (not counted).
      const events = [response('r1', 5_000), response('r2', 20_000, 'booking'), response('r3', 5 * 60_000), response('r4', 30 * 60_000), response('r5', 58 * 60_000), response('r6', 62 * 60_000)];
      assert.equal((await server.request('/api/v1/events', { key, method: 'POST', json: { events } })).status, 200);
      const [first] = await readCounters(await server.request('/api/v1/live?metrics=bot_messages_per_hour,bot_responses&intervalMs=250', { key }), 1);
      assert.deepEqual(first!.values, { bot_messages_per_hour: 5, bot_responses: 2 });
    } finally {
      await server.stop();
    }
  });
});

describe('scheduled jobs on BullMQ', () => {
  test('with Redis the evaluator runs from a job scheduler and records alert state', { timeout: 150_000 }, async () => {
    // The scheduled evaluation reads the real clock: the hour must not roll over before it has run.
    await clearOfBoundary(3_600_000, 60_000);
    const redisUrl = redisUrlForTest(11);
    const redis = new Redis(redisUrl);
    await redis.flushdb();
    const server = await startTestServer('jobs', { REDIS_URL: redisUrl, ALERT_EVALUATION_INTERVAL_SECONDS: '1' });
    try {
      assert.equal(server.running.context.jobs?.mode, 'bullmq');
      const key = await server.keyFor('acme');
      // The shipped rule judges complete hours on the Wilson interval: 10 failures in 20 runs
      // in the last complete hour are a breach whatever the current hour holds.
      const lastHour = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000;
      const events = Array.from({ length: 20 }, (_, i) => ({
        id: `wf${i}`,
        type: 'workflow.finished',
        occurredAt: new Date(lastHour + 1_800_000 + i * 1000).toISOString(),
        value: 500,
        attributes: { status: i < 10 ? 'FAILED' : 'SUCCESS' },
      }));
      assert.equal((await server.request('/api/v1/events', { key, method: 'POST', json: { events } })).status, 200);
      const alert = await waitFor(async () => {
        const res = await server.request('/api/v1/alerts?state=active', { key });
        const body = (await res.json()) as { alerts: Array<{ rule: string; state: string }> };
        return body.alerts.find((one) => one.rule === 'workflow_failure_rate_high');
      }, 30_000, 'the scheduled evaluation');
      assert.equal(alert.state, 'pending');
      // The fold job, on the same scheduler, moves the batch's pending totals into the totals (every 5 s) and its
      // per-dimension totals into theirs (every 30 s, FOLD_DIMENSIONS_EVERY_MS).
      const pool = server.running.context.pool;
      await waitFor(async () => {
        const { rows } = await pool.query<{ n: number }>(
          'SELECT (SELECT count(*) FROM rollup_totals_hourly_pending) + (SELECT count(*) FROM rollup_dimension_totals_hourly_pending) AS n',
        );
        return Number(rows[0]!.n) === 0 ? true : undefined;
      }, 30_000 + FOLD_DIMENSIONS_EVERY_MS, 'the scheduled folds of pending totals and per-dimension totals');
      const folded = await pool.query<{ count: number }>(`SELECT count::int FROM rollup_totals_hourly WHERE event_type = 'workflow.finished'`);
      assert.equal(folded.rows.reduce((sum, row) => sum + row.count, 0), 20);
      const metrics = await (await server.request('/metrics')).text();
      assert.match(metrics, /^metricshub_rollup_totals_folded_rows_total [1-9]/m);
      assert.match(metrics, /^metricshub_rollup_totals_pending_rows 0$/m);
      const schedulers = await redis.keys('bull:metricshub-jobs:repeat:*');
      assert.ok(schedulers.length > 0, 'job schedulers are stored in Redis');
    } finally {
      await server.stop();
      await redis.quit();
    }
  });
});
