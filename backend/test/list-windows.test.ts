import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { listWindows } from '../src/sources/adapters/events-list.js';
import { seededRandom } from './support/seeded-random.js';
import { startTestServer, type TestServer } from './support/server.js';

/**
 * A list (format list) reads its range newest first in growing windows and
 * stops once it has its rows: the same rows, in the same order, as one read
 * of the whole range, in fewer rows read (bench/README.md, issue 20, step 6).
 */
const HOUR = 3_600_000;
const TO = Date.UTC(2026, 1, 10);
const FROM = TO - 8 * 24 * HOUR;

describe('list windows', () => {
  test('cover [from, to) exactly, disjoint, newest first: the last hour, then 6 times longer each', () => {
    const windows = listWindows(new Date(FROM), new Date(TO));
    assert.deepEqual(
      windows.map((window) => (TO - window.from.getTime()) / HOUR),
      [1, 6, 36, 192],
    );
    assert.equal(windows[0]!.to.getTime(), TO);
    windows.slice(1).forEach((window, index) => assert.equal(window.to.getTime(), windows[index]!.from.getTime()));
    assert.equal(windows.at(-1)!.from.getTime(), FROM);
    assert.deepEqual(listWindows(new Date(TO - 10 * 60_000), new Date(TO)), [{ from: new Date(TO - 10 * 60_000), to: new Date(TO) }]);
  });
});

describe('the newest events of a range, read in windows', () => {
  let server: TestServer;
  let key: string;
  const failures: Array<{ time: number; workflowId: string }> = [];

  before(async () => {
    server = await startTestServer('list_windows', { RAW_RETENTION_DAYS: '36500' });
    key = await server.keyFor('acme');
    const seed = Number(process.env.TEST_SEED ?? Date.now() % 2 ** 31);
    console.log(`list windows: seed ${seed} (TEST_SEED=${seed} replays it)`);
    const random = seededRandom(seed);
    // Runs spread over the 8 days, most of them in the last day, a fifth failing; two failures at one instant, one in the last hour.
    const fixed: Record<number, number> = { 0: TO - 10 * HOUR, 1: TO - 10 * HOUR, 2: TO - HOUR / 2 };
    const events = Array.from({ length: 400 }, (_, index) => {
      const time = fixed[index] ?? Math.floor(TO - 1 - (random() < 0.7 ? random() * 24 * HOUR : random() * 8 * 24 * HOUR));
      const failed = index in fixed || random() < 0.2;
      if (failed) failures.push({ time, workflowId: `flow-${index}` });
      return { id: `wf-${index}`, type: 'workflow.finished', occurredAt: new Date(time).toISOString(), value: 1, attributes: { status: failed ? 'FAILED' : 'SUCCESS', workflowId: `flow-${index}` } };
    });
    assert.equal((await server.request('/api/v1/events', { method: 'POST', key, json: { events } })).status, 200);
    // Newest first; events at one instant by event id, descending (wf-1 before wf-0).
    failures.sort((a, b) => b.time - a.time || (a.workflowId < b.workflowId ? 1 : -1));
  });
  after(async () => server?.stop());

  async function list(limit: number, from = FROM): Promise<string[]> {
    const response = await server.request('/api/v1/query', {
      method: 'POST',
      key,
      json: { from: new Date(from).toISOString(), to: new Date(TO).toISOString(), queries: [{ refId: 'F', metric: 'workflows_failed', format: 'list', limit }] },
    });
    const { results } = (await response.json()) as { results: { F: { status: number; error?: string; frames: Array<{ schema: { fields: Array<{ name: string }> }; data: { values: unknown[][] } }> } } };
    assert.equal(results.F.status, 200, results.F.error);
    const frame = results.F.frames[0]!;
    return frame.data.values[frame.schema.fields.findIndex((field) => field.name === 'workflowId')] as string[];
  }

  test('every limit gives the newest failures in order, whichever windows they came from', async () => {
    for (const limit of [1, 5, 20, failures.length - 1, 1000]) {
      assert.deepEqual(await list(limit), failures.slice(0, limit).map((failure) => failure.workflowId), `limit ${limit}`);
    }
  });

  test('a feed whose rows are all in the last hour reads only the last hour', async () => {
    const lastHour = failures.filter((failure) => failure.time >= TO - HOUR).length;
    const original = pg.Client.prototype.query;
    const reads: string[] = [];
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string } | undefined)?.text;
      if (text?.includes('FROM events e')) reads.push(text);
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof original;
    try {
      // A range of its own (an hour shorter), so no answer of the test before is served from the cache.
      await list(lastHour, FROM + HOUR);
      assert.equal(reads.length, 1);
      reads.length = 0;
      await list(1000, FROM + HOUR);
      assert.equal(reads.length, 4, 'a feed shorter than its limit reads every window once');
    } finally {
      pg.Client.prototype.query = original;
    }
  });
});
