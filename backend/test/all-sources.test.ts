import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from './support/server.js';

/** The "All sources" table: every catalog source with its status, last success and last error. */

let server: TestServer;
let key: string;

before(async () => {
  server = await startTestServer('all_sources');
  key = await server.keyFor('acme');
});

after(async () => {
  await server?.stop();
});

async function sourcesTable(
  query: Record<string, unknown> = { metric: 'source_status', groupBy: ['source', 'status', 'lastSuccess', 'lastError'] },
  range = { from: new Date(Date.now() - 3_600_000).toISOString(), to: new Date().toISOString() },
  apiKey = key,
): Promise<Array<Record<string, unknown>>> {
  const response = await server.request('/api/v1/query', {
    method: 'POST',
    key: apiKey,
    json: { ...range, queries: [{ refId: 'S', format: 'table', orderBy: { by: 'source', direction: 'asc' }, ...query }] },
  });
  const { results } = (await response.json()) as { results: Record<string, { status: number; error?: string; frames: Array<{ schema: { fields: Array<{ name: string }> }; data: { values: unknown[][] } }> }> };
  assert.equal(results.S!.status, 200, results.S!.error);
  const frame = results.S!.frames[0]!;
  const names = frame.schema.fields.map((field) => field.name);
  return frame.data.values[0]!.map((_, row) => Object.fromEntries(names.map((name, column) => [name, frame.data.values[column]![row]])));
}

describe('all sources', () => {
  test('one row per catalog source (but itself), up as 1, with its status', async () => {
    const rows = await sourcesTable();
    const catalog = (await (await server.request('/api/v1/catalog', { key })).json()) as { sources: Array<{ id: string; type: string }> };
    assert.deepEqual(rows.map((row) => row.source), catalog.sources.filter((source) => source.type !== 'system').map((source) => source.id).sort());
    for (const row of rows) assert.equal(row.value, row.status === 'up' ? 1 : 0, String(row.source));
  });

  test('a source that answered shows when; a source that is down shows why, but not one organization\'s own missing setting', async () => {
    const answer = await server.request('/api/v1/query', { method: 'POST', key, json: { from: '2026-02-01T00:00:00Z', to: '2026-02-02T00:00:00Z', queries: [{ refId: 'A', metric: 'orders_created' }, { refId: 'B', metric: 'revenue' }] } });
    const { results } = (await answer.json()) as { results: Record<string, { status: number; error?: string }> };
    // acme has no module_user_id setting: its bookkeeping query fails, with the reason, for acme alone.
    assert.match(results.B!.error ?? '', /no module_user_id setting/);
    const rows = Object.fromEntries((await sourcesTable()).map((row) => [row.source, row]));
    assert.ok(Date.parse(String(rows.events!.lastSuccess)) > Date.now() - 60_000, `events last success ${rows.events!.lastSuccess}`);
    // The shared table every organization reads never carries another organization's problem (issue 23).
    assert.doesNotMatch(String(rows.bookkeeping!.lastError), /module_user_id/);
    for (const row of Object.values(rows) as Array<Record<string, unknown>>) if (row.status === 'down') assert.ok(String(row.lastError).length > 0, `${row.source} is down without a reason`);
  });

  test('beside each source its headline metric over the range, for the key organization only; a source that fails has none', async () => {
    const range = { from: '2026-02-01T00:00:00Z', to: '2026-02-02T00:00:00Z' };
    const order = (id: string, at: string) => ({ id, type: 'order.created', occurredAt: at, value: 10, attributes: { channel: 'web' } });
    await server.request('/api/v1/events', { method: 'POST', key, json: { events: [order('h1', '2026-02-01T10:00:00Z'), order('h2', '2026-02-01T11:00:00Z'), order('h3', '2026-02-03T11:00:00Z')] } });
    const other = await server.keyFor('globex');
    await server.request('/api/v1/events', { method: 'POST', key: other, json: { events: [order('g1', '2026-02-01T10:00:00Z')] } });
    const rows = Object.fromEntries((await sourcesTable({ metric: 'source_headline', groupBy: ['source', 'headline', 'metric'] }, range)).map((row) => [row.source, row]));
    const catalog = (await (await server.request('/api/v1/catalog', { key })).json()) as { sources: Array<{ id: string; type: string }> };
    assert.deepEqual(Object.keys(rows).sort(), catalog.sources.filter((source) => source.type !== 'system').map((source) => source.id).sort());
    // The events source's headline is its first counter, orders_created: the two orders of acme on that day.
    assert.equal(rows.events!.metric, 'orders_created');
    assert.equal(rows.events!.headline, 'Orders created');
    assert.equal(rows.events!.value, 2);
    // acme has no module_user_id: the bookkeeping headline is empty, not another tenant's figure.
    assert.equal(rows.bookkeeping!.value, null);
    const globex = Object.fromEntries((await sourcesTable({ metric: 'source_headline', groupBy: ['source'] }, range, other)).map((row) => [row.source, row]));
    assert.equal(globex.events!.value, 1);
  });
});
