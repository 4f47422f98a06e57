import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { wilsonInterval } from '../src/anomalies/detectors/index.js';
import { column, type QueryResult as Result } from './support/frames.js';
import { startTestServer, type TestServer } from './support/server.js';
import { workflowRuns } from './support/workflows.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/**
 * The `rolling` option answers exactly [from, to) from raw events. Evaluated at `at`, 20 minutes
 * into an hour whose start is `hour`: the hour is partial, and hourly buckets would either miss
 * its 20 minutes or count the whole previous hour.
 */
describe('the rolling query option: a metric over exactly the last N minutes', () => {
  let server: TestServer;
  let key: string;
  const hour = Math.floor(Date.now() / HOUR) * HOUR - 2 * HOUR;
  const at = hour + 20 * MINUTE;
  const order = (id: string, time: number, value: number, channel = 'web') => ({ id, type: 'order.created', occurredAt: new Date(time).toISOString(), value, attributes: { channel } });
  const message = (id: string, type: string, time: number, messageId: string) => ({ id, type, occurredAt: new Date(time).toISOString(), attributes: { messageId, channel: 'sms' } });

  before(async () => {
    server = await startTestServer('rolling', { REDIS_URL: undefined });
    key = await server.keyFor('rolling-co');
    const events = [
      // 40 and 25 minutes before `at` (the previous hour), then 15, 10 and 5 minutes before (this hour).
      order('o1', at - 40 * MINUTE, 100),
      order('o2', at - 25 * MINUTE, 10),
      order('o3', at - 15 * MINUTE, 1, 'app'),
      order('o4', at - 10 * MINUTE, 2),
      order('o5', at - 5 * MINUTE, 4),
      // After `at`: not yet happened at `at`.
      order('o6', at + MINUTE, 1000),
      // 10 messages sent in the window; m1..m6 delivered, m7 only read (counts as delivered), m1's delivery repeated.
      ...Array.from({ length: 10 }, (_, n) => message(`s${n + 1}`, 'message.sent', at - 20 * MINUTE + n * MINUTE, `m${n + 1}`)),
      ...Array.from({ length: 6 }, (_, n) => message(`d${n + 1}`, 'message.delivered', at - 19 * MINUTE + n * MINUTE, `m${n + 1}`)),
      message('d1-again', 'message.delivered', at - 2 * MINUTE, 'm1'),
      message('r7', 'message.read', at - 3 * MINUTE, 'm7'),
      // 20 runs in the window, 12 failed.
      ...workflowRuns('w', 20, 12, at - MINUTE),
      // Bot responses of 100..400 ms in the window, and a 9000 ms one before it.
      ...[100, 200, 300, 400].map((ms, n) => ({ id: `b${n}`, type: 'bot.response', occurredAt: new Date(at - (n + 1) * MINUTE).toISOString(), value: ms, attributes: { botId: 'faq', success: true } })),
      { id: 'b-old', type: 'bot.response', occurredAt: new Date(at - 50 * MINUTE).toISOString(), value: 9000, attributes: { botId: 'faq', success: true } },
      { id: 'c1', type: 'conversation.status_changed', occurredAt: new Date(at - MINUTE).toISOString(), attributes: { conversationId: 'c1', to: 'open' } },
    ];
    const res = await server.request('/api/v1/events', { key, method: 'POST', json: { events } });
    assert.equal(res.status, 200, await res.clone().text());
  });
  after(() => server.stop());

  const query = async (minutes: number, extra: Record<string, unknown>, to = at): Promise<Result> => {
    const res = await server.request('/api/v1/query', {
      key,
      method: 'POST',
      json: { from: to - minutes * MINUTE, to, intervalMs: 1000, maxDataPoints: 43_200, queries: [{ refId: 'A', rolling: true, ...extra }] },
    });
    assert.equal(res.status, 200);
    return ((await res.json()) as { results: Record<string, Result> }).results.A!;
  };
  const single = (result: Result) => {
    assert.equal(result.status, 200, result.error);
    assert.equal(result.frames.length, 1);
    assert.deepEqual(column(result.frames[0]!, 'time'), [at], 'one point, at the end of the window');
    return column(result.frames[0]!, 'value')[0];
  };

  test('counts and sums exactly the events of the last N minutes, the partial hour included', async () => {
    assert.equal(single(await query(30, { metric: 'orders_created', aggregation: 'count' })), 4);
    assert.equal(single(await query(20, { metric: 'orders_created', aggregation: 'count' })), 3, 'only this hour so far');
    assert.equal(single(await query(30, { metric: 'order_value', aggregation: 'sum' })), 17);
    assert.equal(single(await query(30, { metric: 'order_value', aggregation: 'max' })), 10);
    assert.equal(single(await query(60, { metric: 'order_value', aggregation: 'avg' })), 117 / 5);
    // Exact percentiles of the raw values (linear interpolation), not sketch bins.
    assert.equal(single(await query(30, { metric: 'bot_response_time_ms', aggregation: 'p50' })), 250);
    assert.equal(single(await query(60, { metric: 'bot_response_time_ms', aggregation: 'p50' })), 300);
  });

  test('compareToPrevious adds the window of equal length just before, at the same time', async () => {
    const result = await query(20, { metric: 'orders_created', aggregation: 'count', compareToPrevious: true });
    assert.equal(result.status, 200, result.error);
    assert.deepEqual(result.frames.map((frame) => [column(frame, 'time')[0], column(frame, 'value')[0]]), [[at, 3], [at, 2]]);
    assert.deepEqual(result.frames[1]!.schema.fields[1]!.labels, { period: 'previous' });
  });

  test('no events at all: a count is 0, an average null, a ratio null (no data, not 0 %)', async () => {
    const quiet = at - 6 * HOUR;
    const count = await query(30, { metric: 'orders_created', aggregation: 'count' }, quiet);
    assert.deepEqual(column(count.frames[0]!, 'value'), [0]);
    const avg = await query(30, { metric: 'order_value', aggregation: 'avg' }, quiet);
    assert.deepEqual(column(avg.frames[0]!, 'value'), [null]);
    const rate = await query(30, { metric: 'delivery_rate', aggregation: 'rate' }, quiet);
    assert.deepEqual(column(rate.frames[0]!, 'value'), [null]);
  });

  test('group-by and filters apply to the raw rows as to the rollups', async () => {
    const result = await query(30, { metric: 'orders_created', aggregation: 'count', groupBy: ['channel'] });
    assert.equal(result.status, 200, result.error);
    const byChannel = Object.fromEntries(result.frames.map((frame) => [frame.schema.fields[1]!.labels!.channel, column(frame, 'value')[0]]));
    assert.deepEqual(byChannel, { app: 1, web: 3 });
    assert.equal(single(await query(30, { metric: 'orders_created', aggregation: 'count', filters: [{ dimension: 'channel', op: 'neq', value: 'app' }] })), 3);
  });

  test('a delivery counts once per message, a read message counts as delivered, as ingestion counts them', async () => {
    assert.equal(single(await query(30, { metric: 'delivery_rate', aggregation: 'rate' })), 7 / 10);
  });

  test("a ratio rule's band over the window: its Wilson interval over exactly the query's range", async () => {
    const result = await query(30, { metric: 'workflow_failure_rate', band: 'workflow_failure_rate_high', bandField: 'lower' });
    assert.equal(result.status, 200, result.error);
    const expected = wilsonInterval(12, 20, 1.96).lower;
    assert.ok(Math.abs(column(result.frames[0]!, 'lower')[0]! - expected) < 1e-12);
    const none = await query(30, { metric: 'workflow_failure_rate', band: 'workflow_failure_rate_high', bandField: 'lower' }, at - 6 * HOUR);
    assert.deepEqual(column(none.frames[0]!, 'lower'), [null], 'fewer runs than minVolume: not judged');
  });

  test('what has no rolling window is refused, naming the reason', async () => {
    const cases: Array<[Record<string, unknown>, RegExp, number?]> = [
      [{ metric: 'orders_created', format: 'kpi' }, /rolling: applies to formats timeseries and table/],
      [{ metric: 'orders_unusual_missing' }, /not in the catalog/],
      [{ metric: 'orders_created', band: 'orders_unusual' }, /seasonal baseline; turn off rolling/],
      [{ metric: 'conversations_opened' }, /derives from the state it keeps/],
    ];
    for (const [extra, message] of cases) {
      const result = await query(30, extra);
      assert.equal(result.status, 400, JSON.stringify(result));
      assert.match(result.error!, message);
    }
    const long = await query(25 * 60, { metric: 'orders_created' });
    assert.equal(long.status, 400);
    assert.match(long.error!, /at most 1440 minutes/);
  });
});
