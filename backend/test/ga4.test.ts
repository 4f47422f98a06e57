import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadCatalog } from '../src/catalog/load.js';
import { BigqueryQueryError, startBigqueryFake, type BigqueryTable } from './fakes/bigquery.js';
import type { FakeServer } from './fakes/http.js';
import { startTestServer, type TestServer } from './support/server.js';

/**
 * The hub's GA4 metrics of the vpa-core preset against the local BigQuery fake
 * holding rows in the GA4 export schema (events_YYYYMMDD tables, event_name,
 * event_params key/value records, user_pseudo_id, page_location). The fake
 * cannot run SQL: it answers each preset query with what that SQL computes
 * over the export rows (one small function per query below), so these tests
 * check the catalog entries' wiring, parameters, default dataset, label maps
 * and top-N, not BigQuery's SQL engine.
 */

const PRESET = path.resolve(import.meta.dirname, '../catalog/presets/vpa-core.yaml');
const PROJECT = 'vpa-analytics';
const DATASET = 'analytics_123456';
const TOKEN = 'ga4-token';
const DAY = 86_400_000;
const START = Date.UTC(2026, 1, 1);

interface ExportRow {
  event_date: string;
  event_timestamp: number;
  event_name: string;
  event_params: Array<{ key: string; value: { string_value?: string; int_value?: number } }>;
  user_pseudo_id: string;
}

const suffix = (ms: number) => new Date(ms).toISOString().slice(0, 10).replaceAll('-', '');
/** events_YYYYMMDD -> rows, as the export writes them. */
const tables = new Map<string, ExportRow[]>();

function event(day: number, minute: number, name: string, user: string, client: string): void {
  const time = START + day * DAY + minute * 60_000;
  const row: ExportRow = {
    event_date: suffix(time),
    event_timestamp: time * 1000,
    event_name: name,
    event_params: [
      { key: 'page_location', value: { string_value: `https://${client}.vpa.example/app/${name}` } },
      { key: 'ga_session_id', value: { int_value: 1 } },
    ],
    user_pseudo_id: user,
  };
  const table = `events_${row.event_date}`;
  tables.set(table, [...(tables.get(table) ?? []), row]);
}

// Three days: acme busiest, then globex, then initech; some events are not features.
const PLAN: Array<[day: number, client: string, users: number, events: string[]]> = [
  [0, 'acme', 3, ['page_view', 'page_view', 'invoice_created', 'session_start']],
  [0, 'globex', 2, ['page_view', 'message_sent']],
  [1, 'acme', 2, ['page_view', 'time_entry_logged', 'report_viewed']],
  [1, 'initech', 1, ['page_view']],
  [2, 'globex', 1, ['page_view', 'invoice_created', 'invoice_created']],
  [5, 'acme', 4, ['page_view']], // outside the queried range
];
for (const [day, client, users, events] of PLAN) {
  for (let user = 0; user < users; user += 1) events.forEach((name, index) => event(day, user * 10 + index, name, `${client}-user-${user}`, client));
}

const pageLocation = (row: ExportRow) => row.event_params.find((param) => param.key === 'page_location')?.value.string_value ?? '';
const clientOf = (row: ExportRow) => /^https?:\/\/([^./]+)\./.exec(pageLocation(row))?.[1] ?? null;

/** What each preset query computes over the rows of the tables its _TABLE_SUFFIX range selects. */
const ENGINE: Record<string, (rows: ExportRow[]) => BigqueryTable> = {
  ga4_users: (rows) => perDay(rows, (day) => new Set(day.map((row) => row.user_pseudo_id)).size),
  ga4_active_clients: (rows) => perDay(rows, (day) => new Set(day.map(clientOf).filter(Boolean)).size),
  ga4_page_views: (rows) => perEvent(rows.filter((row) => row.event_name === 'page_view'), (row) => [clientOf(row)]),
  ga4_client_activity: (rows) => perEvent(rows, (row) => [clientOf(row)]),
  ga4_feature_usage: (rows) => perEvent(rows, (row) => [row.event_name, clientOf(row)], ['feature', 'client']),
};

function perDay(rows: ExportRow[], value: (day: ExportRow[]) => number): BigqueryTable {
  const days = new Map<string, ExportRow[]>();
  for (const row of rows) days.set(row.event_date, [...(days.get(row.event_date) ?? []), row]);
  return {
    fields: [{ name: 'time', type: 'DATE' }, { name: 'value', type: 'INTEGER' }],
    rows: [...days.entries()].map(([date, day]) => [`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6)}`, value(day)]),
  };
}

function perEvent(rows: ExportRow[], labels: (row: ExportRow) => Array<string | null>, names = ['client']): BigqueryTable {
  return {
    fields: [{ name: 'time', type: 'TIMESTAMP' }, { name: 'value', type: 'INTEGER' }, ...names.map((name) => ({ name, type: 'STRING' as const }))],
    rows: rows.map((row) => [row.event_timestamp / 1000, 1, ...labels(row)]),
  };
}

let fake: FakeServer;
let server: TestServer;
let key: string;
let dir: string;
const seen: Array<{ parameters: Record<string, string>; dataset: string | undefined }> = [];

before(async () => {
  const bySql = new Map(loadCatalog(PRESET).metrics.filter((metric) => metric.source === 'ga4').map((metric) => [String(metric.query!.sql), metric.key]));
  fake = await startBigqueryFake({
    projectId: PROJECT,
    token: TOKEN,
    pageSize: 5,
    answer: (sql, parameters, request) => {
      seen.push({ parameters, dataset: request.defaultDataset?.datasetId });
      const metric = bySql.get(sql);
      if (!metric) throw new BigqueryQueryError(`Syntax error: the fake knows no such query: ${sql.slice(0, 60)}`);
      // _TABLE_SUFFIX BETWEEN FORMAT_TIMESTAMP('%Y%m%d', @from) AND FORMAT_TIMESTAMP('%Y%m%d', @to)
      const [low, high] = [suffix(Date.parse(parameters.from!.replace(' ', 'T'))), suffix(Date.parse(parameters.to!.replace(' ', 'T')))];
      const rows = [...tables.entries()].filter(([name]) => name.slice('events_'.length) >= low && name.slice('events_'.length) <= high).flatMap(([, table]) => table);
      return ENGINE[metric]!(rows);
    },
  });
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mh-ga4-'));
  const catalog = path.join(dir, 'ga4.yaml');
  // The preset, with its GA4 source pointed at the fake (the only line a deployment changes is its env).
  await fs.writeFile(
    catalog,
    `extends: ${PRESET}\nsources:\n  - { id: ga4, type: bigquery, projectId: env:MH_TEST_GA4_PROJECT, dataset: env:MH_TEST_GA4_DATASET, apiEndpoint: "${fake.url}", accessToken: env:MH_TEST_GA4_TOKEN, timeoutMs: 10000 }\n`,
  );
  process.env.MH_TEST_GA4_PROJECT = PROJECT;
  process.env.MH_TEST_GA4_DATASET = DATASET;
  process.env.MH_TEST_GA4_TOKEN = TOKEN;
  server = await startTestServer('ga4', { CATALOG_FILE: catalog });
  key = await server.keyFor('acme');
});

after(async () => {
  await server?.stop();
  await fake?.close();
  await fs.rm(dir, { recursive: true, force: true });
});

interface Result {
  status: number;
  error?: string;
  frames: Array<{ schema: { fields: Array<{ name: string; labels?: Record<string, string> }> }; data: { values: unknown[][] } }>;
}

async function ask(queries: Array<Record<string, unknown>>, extra: Record<string, unknown> = {}): Promise<Record<string, Result>> {
  const response = await server.request('/api/v1/query', {
    method: 'POST',
    key,
    json: { from: new Date(START).toISOString(), to: new Date(START + 3 * DAY).toISOString(), queries, ...extra },
  });
  assert.equal(response.status, 200);
  const { results } = (await response.json()) as { results: Record<string, Result> };
  for (const [refId, result] of Object.entries(results)) assert.equal(result.status, 200, `${refId}: ${result.error}`);
  return results;
}

const rowsOf = (result: Result) => {
  const columns = result.frames[0]!.data.values;
  return columns[0]!.map((_, index) => columns.map((column) => column[index]));
};

describe('GA4 metrics (vpa-core preset) on the BigQuery export schema', () => {
  test('top 20 clients by activity is a top-N table; events outside the range do not count', async () => {
    const { top } = await ask([{ refId: 'top', metric: 'ga4_client_activity', format: 'table', groupBy: ['client'], orderBy: { by: 'value', direction: 'desc' }, limit: 20 }]);
    // acme: 3 users x 4 + 2 users x 3 = 18; globex: 2 x 2 + 1 x 3 = 7; initech: 1.
    assert.deepEqual(rowsOf(top!), [['acme', 18], ['globex', 7], ['initech', 1]]);
    const { two } = await ask([{ refId: 'two', metric: 'ga4_client_activity', format: 'table', groupBy: ['client'], orderBy: { by: 'value', direction: 'desc' }, limit: 2 }]);
    assert.deepEqual(rowsOf(two!).map(([client]) => client), ['acme', 'globex']);
  });

  test('page views by client and distinct users per day', async () => {
    const { views, users } = await ask(
      [
        { refId: 'views', metric: 'ga4_page_views', format: 'table', groupBy: ['client'], orderBy: { by: 'client', direction: 'asc' } },
        { refId: 'users', metric: 'ga4_users', format: 'timeseries', aggregation: 'sum' },
      ],
      { intervalMs: DAY },
    );
    // acme: 3 users x 2 page views + 2 users x 1; globex: 2 x 1 + 1 x 1.
    assert.deepEqual(rowsOf(views!), [['acme', 8], ['globex', 3], ['initech', 1]]);
    assert.deepEqual(users!.frames[0]!.data.values[1], [5, 3, 1]);
  });

  test('active clients per day count distinct subdomains', async () => {
    const { clients } = await ask([{ refId: 'clients', metric: 'ga4_active_clients', format: 'timeseries', aggregation: 'sum' }], { intervalMs: DAY });
    assert.deepEqual(clients!.frames[0]!.data.values[1], [2, 2, 1]);
  });

  test("feature usage maps event names through the catalog's table and leaves other events out", async () => {
    const { features } = await ask([{ refId: 'features', metric: 'ga4_feature_usage', format: 'table', groupBy: ['feature'], orderBy: { by: 'value', direction: 'desc' } }]);
    assert.deepEqual(rowsOf(features!), [['Invoicing', 5], ['Messaging', 2], ['Reports', 2], ['Time tracking', 2]]);
  });

  test('queries run in the configured dataset with only the parameters they use', () => {
    assert.ok(seen.length > 0);
    for (const request of seen) {
      assert.equal(request.dataset, DATASET);
      assert.deepEqual(Object.keys(request.parameters).sort(), ['from', 'to']);
    }
  });
});
