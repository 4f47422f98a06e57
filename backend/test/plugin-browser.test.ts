import assert from 'node:assert/strict';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { runDemo } from '../src/demo/run.js';
import { startEditorHarness, type EditorHarness } from './support/editorHarness.js';
import { startTestServer, type TestServer } from './support/server.js';

/**
 * The plugin's editors with the real @grafana/ui in headless Chromium, against
 * the real backend with demo data, used as an analyst would (issue 24). Each
 * flow asserts the query model the editor leaves and that every change sends
 * exactly one query. Screenshots go to a temp folder; with SCREENSHOTS=1 to
 * plugin/src/img/ for plugin.json and the README (so `npm test` never rewrites
 * files of the checkout).
 */

const GRAFANA_ASSET = /\/public\/fonts\/|\/favicon\.ico$/;
const REPOSITORY_IMG_DIR = path.resolve(import.meta.dirname, '../../plugin/src/img');
let imgDir: string;

interface Recorded {
  changes: Array<Record<string, unknown>>;
  runs: number;
  query: Record<string, unknown>;
  queryErrors: string[];
}

declare global {
  interface Window {
    metricsHub: Recorded & { ready: boolean };
  }
}

let server: TestServer;
let harness: EditorHarness;
let dataDir: string;
let channels: string[];
let catalog: { metrics: Array<{ key: string; label: string; source: string; defaultAggregation: string }> };

before(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mh-browser-'));
  imgDir = process.env.SCREENSHOTS === '1' ? REPOSITORY_IMG_DIR : path.join(dataDir, 'img');
  server = await startTestServer('plugin_browser', { DATA_DIR: dataDir });
  const demo = await runDemo(server.running.context, { days: 3, progress: false });
  const acme = demo.organizations.find((organization) => organization.name === 'acme-demo')!;
  harness = await startEditorHarness(server.baseUrl, acme.apiKey);
  catalog = (await (await server.request('/api/v1/catalog', { key: acme.apiKey })).json()) as typeof catalog;
  const answer = await server.request('/api/v1/variables', { method: 'POST', key: acme.apiKey, json: { query: 'dimension_values', metric: 'bot_responses', dimension: 'channel' } });
  channels = ((await answer.json()) as Array<{ value: string }>).map((v) => v.value);
  assert.ok(channels.length >= 2, `the demo has several bot channels: ${channels.join(', ')}`);
});

after(async () => {
  await harness?.stop();
  await server?.stop();
  await fs.rm(dataDir, { recursive: true, force: true });
});

/** One editor on a fresh page; console errors and page errors are collected to be asserted empty. */
async function open(editor: string, query: Record<string, unknown> = {}, options?: Record<string, unknown>) {
  const page = await harness.browser.newPage();
  const errors: string[] = [];
  page.on('console', (message) => {
    // Grafana's own fonts and favicon are not part of the plugin and not served here.
    if (message.type() === 'error' && !GRAFANA_ASSET.test(message.location().url)) errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  const params = new URLSearchParams({ editor, query: JSON.stringify(query), ...(options && { options: JSON.stringify(options) }) });
  await page.goto(`${harness.url}?${params}`);
  await page.waitForFunction(() => window.metricsHub?.ready);
  const sentBefore = harness.sent.length;
  return {
    page,
    errors,
    /** Queries sent to /api/ds/query since the page opened. */
    sent: () => harness.sent.slice(sentBefore),
    recorded: () => page.evaluate(() => window.metricsHub as unknown as Recorded),
  };
}
type Opened = Awaited<ReturnType<typeof open>>;

/**
 * Waits until the editor has sent `count` queries and the backend has answered
 * the last, then checks that onChange, onRunQuery and /api/ds/query each
 * happened exactly `count` times: a second call in the same handler would be
 * on the wire before the first answer arrives.
 */
async function expectRuns(opened: Opened, count: number): Promise<Recorded> {
  await opened.page.waitForFunction((n) => window.metricsHub.runs >= n, count);
  await waitUntil(() => opened.sent().length >= count && opened.sent().every((s) => s.status !== 0));
  const recorded = await opened.recorded();
  assert.equal(recorded.changes.length, count, `onChange calls: ${JSON.stringify(recorded.changes)}`);
  assert.equal(recorded.runs, count, 'onRunQuery calls');
  assert.equal(opened.sent().length, count, `queries sent: ${JSON.stringify(opened.sent())}`);
  return recorded;
}

/** Waits, on the stand-in's 'answered' events, until a condition on the request log holds. */
async function waitUntil(condition: () => boolean): Promise<void> {
  while (!condition()) {
    await once(harness.events, 'answered', { signal: AbortSignal.timeout(30_000) });
  }
}

async function catalogLoaded(page: Page) {
  await page.getByLabel('Metric', { exact: true }).waitFor();
}

/** Types into a combobox and waits for the option to be offered. */
async function type(page: Page, label: string, text: string) {
  const box = page.getByRole('combobox', { name: label, exact: true });
  await box.click();
  await box.fill(text);
}

async function screenshot(page: Page, name: string) {
  // A hover tooltip (e.g. of the format buttons) would hide the fields behind it.
  await page.mouse.move(0, 0);
  await page.getByRole('tooltip').waitFor({ state: 'hidden' });
  await page.locator('#editor').screenshot({ path: path.join(imgDir, `${name}.png`), animations: 'disabled' });
}

const ORDERS = { source: 'events', metric: 'orders_created', aggregation: 'sum', format: 'timeseries', groupBy: [], filters: [] };

describe('the query editor in a real browser', { timeout: 240_000 }, () => {
  test('1. a typed metric name and Enter picks the catalog metric, never the typed text', async () => {
    const opened = await open('query', ORDERS);
    await catalogLoaded(opened.page);
    await type(opened.page, 'Metric', 'bot response');
    const first = opened.page.getByRole('option').first();
    await first.waitFor();
    const offered = (await first.textContent()) ?? '';
    await screenshot(opened.page, 'screenshot-metric-search');
    await opened.page.keyboard.press('Enter');
    const { query } = await expectRuns(opened, 1);
    const picked = catalog.metrics.find((metric) => metric.key === query.metric);
    assert.ok(picked, `the query names a catalog metric, not the typed text: ${String(query.metric)}`);
    assert.ok(offered.startsWith(picked.label), `Enter takes the first offered metric: ${offered}`);
    assert.match(picked.label, /^Bot response/);
    assert.equal(query.source, picked.source);
    assert.equal(query.aggregation, picked.defaultAggregation);
    assert.deepEqual(opened.errors, []);
    await opened.page.close();
  });

  test('1b. a saved query on a mistyped metric shows the backend\'s "did you mean"', async () => {
    const opened = await open('query', { ...ORDERS, metric: 'bot response' });
    await opened.page.getByText("Metric 'bot response' is not in the catalog; did you mean 'bot_responses' (Bot responses)?").waitFor();
    assert.deepEqual((await opened.recorded()).changes, []);
    await opened.page.close();
  });

  test('2. filter values are suggested from the backend and a value in the wrong case becomes the known one', async () => {
    const opened = await open('query', { ...ORDERS, metric: 'bot_responses', aggregation: 'count' });
    await catalogLoaded(opened.page);
    await opened.page.getByRole('button', { name: 'Add filter' }).click();
    await type(opened.page, 'Filter 1 dimension', 'channel');
    await opened.page.getByRole('option', { name: /^channel/ }).click();
    const known = channels[0]!;
    const typed = known.charAt(0).toUpperCase() + known.slice(1);
    await type(opened.page, 'Filter 1 value', typed);
    await opened.page.getByRole('option', { name: new RegExp(`^${known}`) }).waitFor();
    const first = opened.page.getByRole('option').first();
    assert.match((await first.textContent()) ?? '', new RegExp(`^${known}`));
    await screenshot(opened.page, 'screenshot-filter-values');
    await opened.page.keyboard.press('Enter');
    const { query } = await expectRuns(opened, 1);
    assert.deepEqual(query.filters, [{ dimension: 'channel', op: 'eq', value: known }]);
    assert.deepEqual(opened.errors, []);
    await opened.page.close();
  });

  test('3. in an "in" filter, text typed without Enter is kept when the field is left, and the field has a name', async () => {
    const opened = await open('query', { ...ORDERS, metric: 'bot_responses', aggregation: 'count', filters: [{ dimension: 'channel', op: 'in', value: [channels[0]] }] });
    await catalogLoaded(opened.page);
    const values = opened.page.getByRole('combobox', { name: 'Filter 1 values', exact: true });
    await values.click();
    await values.fill(channels[1]!);
    await opened.page.getByLabel('Legend').click();
    const { query } = await expectRuns(opened, 1);
    assert.deepEqual(query.filters, [{ dimension: 'channel', op: 'in', value: [channels[0], channels[1]] }]);
    assert.deepEqual(opened.errors, []);
    await opened.page.close();
  });

  test('4. switching metric moves to the new metric\'s default aggregation', async () => {
    const opened = await open('query', ORDERS);
    await catalogLoaded(opened.page);
    await type(opened.page, 'Metric', 'Bot response time');
    await opened.page.getByRole('option', { name: /Bot response time/ }).first().click();
    const { query } = await expectRuns(opened, 1);
    assert.equal(query.metric, 'bot_response_time_ms');
    assert.equal(query.aggregation, 'p95');
    await opened.page.close();
  });

  test('5. one metric search covers every source and shows each metric\'s source', async () => {
    const opened = await open('query', ORDERS);
    await catalogLoaded(opened.page);
    await type(opened.page, 'Metric', 'revenue');
    const option = opened.page.getByRole('option', { name: /Revenue/ }).first();
    await option.waitFor();
    assert.match((await option.textContent()) ?? '', /Bookkeeping|Time & Billing|LeadTracker/);
    await option.click();
    const { query } = await expectRuns(opened, 1);
    assert.notEqual(query.source, 'events');
    assert.equal(query.metric, 'revenue');
    await opened.page.close();
  });

  test('6. each pick of aggregation, operator and format is one change and one query', async () => {
    const opened = await open('query', { ...ORDERS, metric: 'bot_responses', aggregation: 'count', filters: [{ dimension: 'channel', op: 'eq', value: channels[0] }] });
    await catalogLoaded(opened.page);
    await opened.page.getByRole('combobox', { name: 'Aggregation', exact: true }).click();
    await opened.page.getByRole('option', { name: /^sum/ }).click();
    await expectRuns(opened, 1);
    await opened.page.getByRole('combobox', { name: 'Filter 1 operator', exact: true }).click();
    await opened.page.getByRole('option', { name: /^!=/ }).click();
    await expectRuns(opened, 2);
    await opened.page.getByRole('radio', { name: 'Table' }).click({ force: true });
    const { query } = await expectRuns(opened, 3);
    assert.equal(query.aggregation, 'sum');
    assert.deepEqual(query.filters, [{ dimension: 'channel', op: 'neq', value: channels[0] }]);
    assert.equal(query.format, 'table');
    assert.deepEqual(opened.errors, []);
    await opened.page.close();
  });

  test('7. settings that do nothing for the chosen format are not shown', async () => {
    const opened = await open('query', { ...ORDERS, format: 'kpi', groupBy: ['channel'], compareToPrevious: true });
    await catalogLoaded(opened.page);
    assert.equal(await opened.page.getByLabel('Group by').count(), 0);
    assert.equal(await opened.page.getByLabel('Compare to previous period').count(), 0);
    assert.equal(await opened.page.getByLabel('Legend').count(), 0);
    await opened.page.getByRole('radio', { name: 'Time series' }).click({ force: true });
    await expectRuns(opened, 1);
    await opened.page.getByLabel('Compare to previous period').waitFor();
    await opened.page.getByRole('radio', { name: 'List' }).click({ force: true });
    const { query } = await expectRuns(opened, 2);
    assert.equal(query.format, 'list');
    assert.equal(await opened.page.getByLabel('Aggregation').count(), 0);
    assert.equal(await opened.page.getByLabel('Group by').count(), 0);
    await opened.page.getByLabel('Columns').waitFor();
    await opened.page.close();
  });

  test('8. a saved query without format shows and runs as a time series', async () => {
    const { format: _format, ...withoutFormat } = ORDERS;
    const opened = await open('query', withoutFormat);
    await catalogLoaded(opened.page);
    assert.equal(await opened.page.getByRole('radio', { name: 'Time series' }).isChecked(), true);
    await opened.page.getByRole('combobox', { name: 'Aggregation', exact: true }).click();
    await opened.page.getByRole('option', { name: /^count/ }).click();
    const { query } = await expectRuns(opened, 1);
    assert.equal(query.format, undefined);
    assert.equal(opened.sent()[0]!.status, 200);
    await opened.page.close();
  });

  test('9. a filter being made neither warns nor runs, and runs once it is complete', async () => {
    const opened = await open('query', ORDERS);
    await catalogLoaded(opened.page);
    await opened.page.getByRole('button', { name: 'Add filter' }).click();
    await type(opened.page, 'Filter 1 dimension', 'channel');
    await opened.page.getByRole('option', { name: /^channel/ }).click();
    assert.equal(await opened.page.getByText('This query does not run yet').count(), 0);
    assert.equal((await opened.recorded()).runs, 0);
    await screenshot(opened.page, 'screenshot-add-filter');
    await type(opened.page, 'Filter 1 value', channels[1]!);
    await opened.page.getByRole('option', { name: new RegExp(`^${channels[1]}`) }).first().click();
    const { query } = await expectRuns(opened, 1);
    assert.deepEqual(query.filters, [{ dimension: 'channel', op: 'eq', value: channels[1] }]);
    await opened.page.close();
  });

  test('legend template, table top-N and list options go into the query model', async () => {
    const opened = await open('query', { ...ORDERS, metric: 'bot_response_time_ms', aggregation: 'p95', groupBy: ['botId'] });
    await catalogLoaded(opened.page);
    await opened.page.getByLabel('Legend').fill('{{botId}} p95');
    await opened.page.getByLabel('Legend').press('Enter');
    let { query } = await expectRuns(opened, 1);
    assert.equal(query.legend, '{{botId}} p95');
    await screenshot(opened.page, 'screenshot-query-editor');

    await opened.page.getByRole('radio', { name: 'Table' }).click({ force: true });
    await expectRuns(opened, 2);
    await opened.page.getByRole('combobox', { name: /^Order by/ }).click();
    await opened.page.getByRole('option', { name: /^Value/ }).click();
    await expectRuns(opened, 3);
    await opened.page.getByLabel('Limit').fill('5');
    await opened.page.getByLabel('Limit').press('Enter');
    ({ query } = await expectRuns(opened, 4));
    assert.deepEqual(query.orderBy, { by: 'value', direction: 'desc' });
    assert.equal(query.limit, 5);
    await screenshot(opened.page, 'screenshot-table-top-n');

    await opened.page.getByLabel('Limit').fill('0');
    await opened.page.getByText('a whole number from 1 to 1000').waitFor();
    await opened.page.getByRole('radio', { name: 'List' }).click({ force: true });
    ({ query } = await expectRuns(opened, 5));
    assert.equal(query.format, 'list');
    assert.equal(query.limit, 5, 'an invalid limit is not written');
    await opened.page.getByLabel('Columns').waitFor();
    await screenshot(opened.page, 'screenshot-list-format');
    await opened.page.close();
  });

  test('the problems box lists every catalog problem under its own title', async () => {
    const opened = await open('query', { ...ORDERS, aggregation: 'p99', groupBy: ['botId'] });
    await opened.page.getByText('The backend will refuse this query').waitFor();
    await opened.page.getByText(/^Orders created allows .*; not p99\.$/).waitFor();
    await opened.page.getByText(/^'botId' is not a dimension of Orders created/).waitFor();
    assert.equal(await opened.page.getByText('This query does not run yet').count(), 0);
    assert.deepEqual((await opened.recorded()).changes, [], 'showing problems changes nothing');
    await screenshot(opened.page, 'screenshot-query-problems');
    await opened.page.close();
  });

  test('the aggregation list opens at its first option, each with its help', async () => {
    const opened = await open('query', { ...ORDERS, metric: 'bot_response_time_ms', aggregation: 'p99' });
    await catalogLoaded(opened.page);
    await opened.page.getByRole('combobox', { name: 'Aggregation', exact: true }).click();
    const listbox = opened.page.getByRole('listbox');
    const first = opened.page.getByRole('option').first();
    await first.waitFor();
    const [list, option] = [await listbox.boundingBox(), await first.boundingBox()];
    assert.ok(list && option && option.y >= list.y, `the first option is not scrolled away: ${JSON.stringify({ list, option })}`);
    assert.match((await first.textContent()) ?? '', /^avg/);
    await opened.page.getByRole('option', { name: /^p95/ }).getByText('Default for Bot response time').waitFor();
    await opened.page.close();
  });
});

describe('the other editors in a real browser', { timeout: 120_000 }, () => {
  test("the config editor (Grafana's standard connection settings) shows no error before anything is typed and suggests port 4100", async () => {
    const opened = await open('config', {}, {});
    const url = opened.page.getByPlaceholder(/:4100$/).first();
    await url.waitFor();
    assert.equal(await opened.page.locator('[role="alert"], [class*="invalid"], [aria-invalid="true"]').count(), 0, 'no error before anything is typed');
    await url.fill('http://localhost:4100');
    await url.blur();
    await opened.page.waitForFunction(() => (window.metricsHub.query as { url?: string } | undefined)?.url === 'http://localhost:4100');
    await screenshot(opened.page, 'screenshot-config-editor');
    assert.deepEqual(opened.errors, []);
    await opened.page.close();
  });

  test('the variable editor offers the catalog and previews the values the backend knows', async () => {
    const opened = await open('variable', { refId: 'V', query: 'dimension_values', metric: 'bot_responses', dimension: 'botId' });
    const preview = opened.page.getByRole('list', { name: 'Preview of values' });
    await preview.getByRole('listitem').first().waitFor();
    await opened.page.getByRole('combobox', { name: 'Dimension' }).click();
    await opened.page.getByRole('option', { name: /^channel/ }).click();
    await preview.getByText(channels[0]!, { exact: true }).waitFor();
    const recorded = await opened.recorded();
    assert.deepEqual(recorded.query, { refId: 'V', query: 'dimension_values', metric: 'bot_responses', dimension: 'channel' });
    assert.deepEqual(await preview.getByRole('listitem').allTextContents(), channels);
    await screenshot(opened.page, 'screenshot-variable-editor');
    assert.deepEqual(opened.errors, []);
    await opened.page.close();
  });

  test('the annotation editor picks a metric of any source and a severity', async () => {
    const opened = await open('annotation', { refId: 'Anno', queryType: 'annotations' });
    await type(opened.page, 'Metric', 'bot error');
    await opened.page.getByRole('option', { name: /^Bot error rate/ }).waitFor();
    await opened.page.keyboard.press('Enter');
    await opened.page.getByRole('combobox', { name: 'Severity', exact: true }).click();
    await opened.page.getByRole('option', { name: /^critical/ }).click();
    await opened.page.waitForFunction(() => window.metricsHub.query?.severity === 'critical');
    const { query } = await opened.recorded();
    assert.equal(query.metric, 'bot_error_rate');
    await screenshot(opened.page, 'screenshot-annotation-editor');
    assert.deepEqual(opened.errors, []);
    await opened.page.close();
  });
});
