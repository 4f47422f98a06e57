import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from './support/server.js';

/** Top-N of table queries: `orderBy` (value or a group-by dimension) and `limit`, per query. */

let server: TestServer;
let key: string;
const FROM = '2026-02-01T00:00:00Z';
const TO = '2026-02-02T00:00:00Z';
const COUNTS = { web: 5, app: 3, pos: 1, kiosk: 7, phone: 3 } as const;

interface Result {
  status: number;
  error?: string;
  frames: Array<{ data: { values: unknown[][] } }>;
}

async function ask(queries: Array<Record<string, unknown>>): Promise<Record<string, Result>> {
  const response = await server.request('/api/v1/query', { method: 'POST', key, json: { from: FROM, to: TO, queries } });
  assert.equal(response.status, 200);
  return ((await response.json()) as { results: Record<string, Result> }).results;
}

const table = (result: Result | undefined) => {
  const [channels, values] = result!.frames[0]!.data.values;
  return channels!.map((channel, index) => [channel, values![index]]);
};

before(async () => {
  server = await startTestServer('query_top_n');
  key = await server.keyFor('acme');
  const events = Object.entries(COUNTS).flatMap(([channel, count]) =>
    Array.from({ length: count }, (_, n) => ({ id: `${channel}-${n}`, type: 'order.created', occurredAt: '2026-02-01T10:00:00Z', value: 10, attributes: { channel } })),
  );
  const response = await server.request('/api/v1/events', { method: 'POST', key, json: { events } });
  assert.equal(response.status, 200);
});

after(async () => {
  await server?.stop();
});

describe('top-N table queries', () => {
  test('orderBy value desc with a limit gives the top rows; ties break by label', async () => {
    const { A } = await ask([{ refId: 'A', metric: 'orders_created', format: 'table', groupBy: ['channel'], orderBy: { by: 'value', direction: 'desc' }, limit: 3 }]);
    assert.equal(A!.status, 200, A!.error);
    assert.deepEqual(table(A), [['kiosk', 7], ['web', 5], ['app', 3]]);
  });

  test('orderBy a group-by dimension, ascending, and a limit alone keeps the default order', async () => {
    const { B, C } = await ask([
      { refId: 'B', metric: 'orders_created', format: 'table', groupBy: ['channel'], orderBy: { by: 'channel', direction: 'asc' } },
      { refId: 'C', metric: 'orders_created', format: 'table', groupBy: ['channel'], limit: 2 },
    ]);
    assert.deepEqual(table(B).map(([channel]) => channel), ['app', 'kiosk', 'phone', 'pos', 'web']);
    assert.deepEqual(table(C).map(([channel]) => channel), ['app', 'kiosk']);
  });

  test('bad values are that query’s 400 naming the field; the other queries still answer', async () => {
    const results = await ask([
      { refId: 'ok', metric: 'orders_created', format: 'table', groupBy: ['channel'], limit: 1000 },
      { refId: 'by', metric: 'orders_created', format: 'table', groupBy: ['channel'], orderBy: { by: 'market', direction: 'desc' } },
      { refId: 'dir', metric: 'orders_created', format: 'table', groupBy: ['channel'], orderBy: { by: 'value', direction: 'down' } },
      { refId: 'zero', metric: 'orders_created', format: 'table', limit: 0 },
      { refId: 'big', metric: 'orders_created', format: 'table', limit: 1001 },
      { refId: 'frac', metric: 'orders_created', format: 'table', limit: 2.5 },
      { refId: 'series', metric: 'orders_created', format: 'timeseries', limit: 5 },
    ]);
    assert.equal(results.ok!.status, 200);
    assert.equal(table(results.ok).length, 5);
    const expectations: Record<string, RegExp> = {
      by: /^orderBy\.by: 'market' must be 'value' or one of the query's groupBy dimensions \(channel\)/,
      dir: /^orderBy\.direction: must be 'asc' or 'desc'/,
      zero: /^limit: must be a whole number from 1 to 1000/,
      big: /^limit: must be a whole number from 1 to 1000/,
      frac: /^limit: must be a whole number from 1 to 1000/,
      series: /^limit: applies to table queries only/,
    };
    for (const [refId, pattern] of Object.entries(expectations)) {
      assert.equal(results[refId]!.status, 400, refId);
      assert.match(results[refId]!.error!, pattern, refId);
    }
  });
});
