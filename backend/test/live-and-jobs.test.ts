import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { describe, test } from 'node:test';
import { redisUrlForTest } from './support/databases.js';
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

      const bad = await server.request('/api/v1/live?metrics=bot_error_rate', { key });
      assert.equal(bad.status, 400);
      assert.match(((await bad.json()) as { error: string }).error, /no live counter/);
    } finally {
      await server.stop();
    }
  });
});

describe('scheduled jobs on BullMQ', () => {
  test('with Redis the evaluator runs from a job scheduler and records alert state', { timeout: 60_000 }, async () => {
    const redisUrl = redisUrlForTest(11);
    const redis = new Redis(redisUrl);
    await redis.flushdb();
    const server = await startTestServer('jobs', { REDIS_URL: redisUrl, ALERT_EVALUATION_INTERVAL_SECONDS: '1' });
    try {
      assert.equal(server.running.context.jobs?.mode, 'bullmq');
      const key = await server.keyFor('acme');
      const now = Date.now();
      const events = Array.from({ length: 10 }, (_, i) => ({
        id: `wf${i}`,
        type: 'workflow.finished',
        occurredAt: new Date(now - 60_000 - i * 1000).toISOString(),
        value: 500,
        attributes: { status: i < 3 ? 'FAILED' : 'SUCCESS' },
      }));
      assert.equal((await server.request('/api/v1/events', { key, method: 'POST', json: { events } })).status, 200);
      const alert = await waitFor(async () => {
        const res = await server.request('/api/v1/alerts?state=active', { key });
        const body = (await res.json()) as { alerts: Array<{ rule: string; state: string }> };
        return body.alerts.find((one) => one.rule === 'workflow_failure_rate_high');
      }, 30_000, 'the scheduled evaluation');
      assert.equal(alert.state, 'pending');
      // The fold job, on the same scheduler, moves the batch's pending totals into the totals.
      const pool = server.running.context.pool;
      await waitFor(async () => {
        const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM rollup_totals_hourly_pending');
        return rows[0]!.n === 0 ? true : undefined;
      }, 30_000, 'the scheduled fold of pending totals');
      const folded = await pool.query<{ count: number }>(`SELECT count::int FROM rollup_totals_hourly WHERE event_type = 'workflow.finished'`);
      assert.equal(folded.rows.reduce((sum, row) => sum + row.count, 0), 10);
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
