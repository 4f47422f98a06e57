import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { parseCatalog, type Catalog } from '../src/catalog/load.js';
import { loadConfig } from '../src/config/env.js';
import type { AppContext } from '../src/context.js';
import { createLogger } from '../src/logger.js';
import { buildContext } from '../src/server.js';
import { ADAPTER_TYPES } from '../src/sources/adapters/index.js';
import { SourceError } from '../src/sources/errors.js';
import { SourceRegistry } from '../src/sources/registry.js';
import type { SourceQuery } from '../src/sources/types.js';
import { BigqueryQueryError, startBigqueryFake } from './fakes/bigquery.js';
import type { FakeServer } from './fakes/http.js';
import { startHubspotFake } from './fakes/hubspot.js';
import { SalesforceQueryError, startSalesforceFake } from './fakes/salesforce.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { sourceQuery } from './support/source-query.js';

/**
 * The SaaS adapters run their official clients (@google-cloud/bigquery,
 * jsforce, @hubspot/api-client) against local fakes of the services' REST APIs.
 */
const DAY = 86_400_000;
const START = Date.UTC(2026, 1, 1);
const ORG = randomUUID();

let database: TestDatabase;
let context: AppContext;
let catalog: Catalog;
let registry: SourceRegistry;
let bigquery: FakeServer;
let salesforce: FakeServer;
let hubspot: FakeServer;
let slowBigquery: FakeServer;
const bigqueryQueries: Array<{ sql: string; parameters: Record<string, string> }> = [];
const soqlQueries: string[] = [];

function queryOf(metric: string, overrides: Partial<SourceQuery> = {}): SourceQuery {
  return sourceQuery(catalog, metric, { organizationId: ORG, start: START, bucketMs: DAY }, overrides);
}

before(async () => {
  const ga4Table = {
    fields: [
      { name: 'time', type: 'DATE' as const },
      { name: 'value', type: 'INTEGER' as const },
      { name: 'platform', type: 'STRING' as const },
    ],
    rows: [
      ['2026-02-01', 120, 'web'],
      ['2026-02-01', 30, 'ios'],
      ['2026-02-02', 140, 'web'],
      ['2026-02-02', 45, 'ios'],
      ['2026-02-03', 90, 'web'],
    ],
  };
  bigquery = await startBigqueryFake({
    projectId: 'acme-analytics',
    token: 'bq-token',
    answer: (sql, parameters) => {
      bigqueryQueries.push({ sql, parameters });
      if (sql.includes('events_by_hour')) {
        return { fields: [{ name: 'time', type: 'TIMESTAMP' }, { name: 'value', type: 'FLOAT' }], rows: [[START + 3_600_000, 2.5], [START + 7_200_000, 3.5]] };
      }
      if (sql.includes('SELEC ')) throw new BigqueryQueryError('Syntax error: Unexpected identifier "SELEC" at [1:1]');
      return ga4Table;
    },
  });
  slowBigquery = await startBigqueryFake({ projectId: 'acme-analytics', token: 'bq-token', slowJobs: true, answer: () => ga4Table });
  salesforce = await startSalesforceFake({
    apiVersion: '59.0',
    token: 'sf-token',
    answer: (soql) => {
      soqlQueries.push(soql);
      if (soql.includes('FROMM')) throw new SalesforceQueryError("unexpected token: 'FROMM'");
      return [
        { CloseDate: '2026-02-01', Amount: 1000, StageName: 'Closed Won', Owner: { Name: 'Ada' } },
        { CloseDate: '2026-02-01', Amount: 500, StageName: 'Closed Won', Owner: { Name: 'Grace' } },
        { CloseDate: '2026-02-02', Amount: 250, StageName: 'Closed Won', Owner: { Name: 'Ada' } },
        { CloseDate: '2026-02-03', Amount: null, StageName: 'Closed Won', Owner: { Name: 'Ada' } },
        { CloseDate: '2026-02-03', Amount: 4000, StageName: 'Closed Won', Owner: null },
      ];
    },
  });
  hubspot = await startHubspotFake({
    token: 'hs-token',
    objects: {
      deals: [
        { createdate: '2026-02-01T09:00:00.000Z', amount: '100', dealstage: 'closedwon', pipeline: 'default' },
        { createdate: '2026-02-01T10:00:00.000Z', amount: '300', dealstage: 'closedlost', pipeline: 'default' },
        { createdate: '2026-02-01T11:00:00.000Z', amount: '50', dealstage: 'closedwon', pipeline: 'partners' },
        { createdate: '2026-02-02T11:00:00.000Z', amount: '75.5', dealstage: 'closedwon', pipeline: 'default' },
        { createdate: '2026-01-31T23:59:59.000Z', amount: '9999', dealstage: 'closedwon', pipeline: 'default' },
        ...Array.from({ length: 450 }, (_, index) => ({ createdate: new Date(START + 2 * DAY + index * 1000).toISOString(), amount: '1', dealstage: 'closedwon', pipeline: 'default' })),
      ],
      contacts: [{ createdate: '2026-02-01T00:00:00.000Z', email: 'a@example.com' }],
    },
  });
  Object.assign(process.env, { MH_TEST_BQ_TOKEN: 'bq-token', MH_TEST_SF_TOKEN: 'sf-token', MH_TEST_HS_TOKEN: 'hs-token', MH_TEST_HS_WRONG: 'nope' });
  database = await createTestDatabase('sources_saas');
  context = await buildContext(loadConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'silent' }), createLogger('silent'), database.url);
  catalog = parseCatalog(
    `
sources:
  - { id: ga4, type: bigquery, projectId: acme-analytics, location: EU, apiEndpoint: "${bigquery.url}", accessToken: env:MH_TEST_BQ_TOKEN }
  - { id: ga4_slow, type: bigquery, projectId: acme-analytics, apiEndpoint: "${slowBigquery.url}", accessToken: env:MH_TEST_BQ_TOKEN }
  - { id: crm, type: salesforce, instanceUrl: "${salesforce.url}", accessToken: env:MH_TEST_SF_TOKEN, apiVersion: "59.0" }
  - { id: hub, type: hubspot, basePath: "${hubspot.url}", accessToken: env:MH_TEST_HS_TOKEN }
  - { id: hub_wrong_token, type: hubspot, basePath: "${hubspot.url}", accessToken: env:MH_TEST_HS_WRONG }
metrics:
  - key: ga4_users
    label: GA4 users
    source: ga4
    kind: gauge
    dimensions: [platform]
    query:
      sql: >
        SELECT PARSE_DATE('%Y%m%d', event_date) AS time, COUNT(DISTINCT user_pseudo_id) AS value, platform
        FROM \`acme-analytics.analytics_123.events_*\`
        WHERE _TABLE_SUFFIX BETWEEN FORMAT_TIMESTAMP('%Y%m%d', @from) AND FORMAT_TIMESTAMP('%Y%m%d', @to)
        GROUP BY time, platform
  - key: ga4_hourly
    label: GA4 hourly
    source: ga4
    kind: gauge
    query: { sql: "SELECT * FROM events_by_hour WHERE t >= @from AND t < @to" }
  - key: ga4_broken
    label: Broken
    source: ga4
    kind: gauge
    query: { sql: "SELEC 1" }
  - key: ga4_slow_users
    label: GA4 users (slow job)
    source: ga4_slow
    kind: gauge
    dimensions: [platform]
    query: { sql: "SELECT 1 AS value WHERE @from < @to" }
  - key: won_revenue
    label: Won revenue
    source: crm
    kind: gauge
    dimensions: [owner]
    query:
      soql: "SELECT CloseDate, Amount, Owner.Name FROM Opportunity WHERE IsWon = true AND CloseDate >= :from AND CloseDate < :to"
      time: CloseDate
      value: Amount
      labels: { owner: Owner.Name }
  - key: won_deals
    label: Won deals
    source: crm
    kind: counter
    query: { soql: "SELECT CloseDate FROM Opportunity WHERE IsWon = true AND CloseDate >= :from AND CloseDate < :to", time: CloseDate }
  - key: crm_broken
    label: Broken SOQL
    source: crm
    kind: counter
    query: { soql: "SELECT Id FROMM Opportunity WHERE CloseDate >= :from AND CloseDate < :to", time: CloseDate }
  - key: hs_won_amount
    label: HubSpot won amount
    source: hub
    kind: gauge
    dimensions: [pipeline]
    query:
      objectType: deals
      time: createdate
      value: amount
      labels: { pipeline: pipeline }
      filters: [{ propertyName: dealstage, operator: EQ, value: closedwon }]
  - key: hs_deals
    label: HubSpot deals
    source: hub
    kind: counter
    query: { objectType: deals, time: createdate }
  - key: hs_wrong
    label: HubSpot with a wrong token
    source: hub_wrong_token
    kind: counter
    query: { objectType: deals, time: createdate }
`,
    'saas.yaml',
  );
  registry = await SourceRegistry.create(catalog, context, ADAPTER_TYPES);
});

after(async () => {
  await registry?.close();
  for (const hook of [...(context?.onClose ?? [])].reverse()) await hook();
  await database?.drop();
  await Promise.all([bigquery, slowBigquery, salesforce, hubspot].map((server) => server?.close()));
});

describe('bigquery source (official client against a local BigQuery REST fake)', () => {
  test('runs Standard SQL through jobs.query with named TIMESTAMP parameters and a bearer token, following pageToken', async () => {
    bigquery.requests.length = 0;
    const [series] = await registry.query('ga4', queryOf('ga4_users'));
    assert.deepEqual(series!.times, [START, START + DAY, START + 2 * DAY]);
    assert.deepEqual(series!.values, [150, 185, 90]);
    const paths = bigquery.requests.map((request) => `${request.method} ${request.path}`);
    assert.equal(paths[0], 'POST /bigquery/v2/projects/acme-analytics/queries');
    assert.ok(paths.slice(1).every((path) => /^GET \/bigquery\/v2\/projects\/acme-analytics\/queries\/job_fake_\d+$/.test(path)));
    assert.equal(paths.length, 3, 'five rows in pages of two: one jobs.query and two getQueryResults');
    assert.ok(bigquery.requests.every((request) => request.headers.authorization === 'Bearer bq-token'));
    const last = bigqueryQueries.at(-1)!;
    assert.deepEqual(Object.keys(last.parameters).sort(), ['from', 'to']);
    assert.equal(Date.parse(last.parameters.from!.replace(' ', 'T')), START);
    assert.equal((bigquery.requests[0]!.body as { location?: string }).location, 'EU');
  });

  test('groups by a dimension column and filters on it', async () => {
    const grouped = await registry.query('ga4', queryOf('ga4_users', { groupBy: ['platform'], filters: [{ dimension: 'platform', op: 'eq', value: 'ios' }] }));
    assert.deepEqual(
      grouped.map((entry) => [entry.labels.platform, entry.values]),
      [['ios', [30, 45]]],
    );
  });

  test('reads TIMESTAMP columns (int64 microseconds on the wire)', async () => {
    const [series] = await registry.query('ga4', queryOf('ga4_hourly', { aggregation: 'avg', to: new Date(START + DAY) }));
    assert.deepEqual(series!.times, [START]);
    assert.deepEqual(series!.values, [3]);
  });

  test('polls getQueryResults when the job is not complete on the first answer', async () => {
    const [series] = await registry.query('ga4_slow', queryOf('ga4_slow_users'));
    assert.deepEqual(series!.values, [150, 185, 90]);
    assert.ok(slowBigquery.requests.some((request) => request.method === 'GET' && request.path.includes('/queries/job_fake_')));
  });

  test('an invalid query is a 400 bad query with BigQuery\'s message', async () => {
    await assert.rejects(registry.query('ga4', queryOf('ga4_broken')), (error: unknown) => {
      assert.ok(error instanceof SourceError);
      assert.equal(error.status, 400);
      assert.match(error.message, /metric 'ga4_broken': BigQuery 400 Syntax error: Unexpected identifier "SELEC"/);
      return true;
    });
  });
});

describe('salesforce source (jsforce against a local Salesforce REST fake)', () => {
  test('sends SOQL with datetime literals, follows nextRecordsUrl and sums by relationship labels', async () => {
    salesforce.requests.length = 0;
    const series = await registry.query('crm', queryOf('won_revenue', { groupBy: ['owner'] }));
    const byOwner = Object.fromEntries(series.map((entry) => [entry.labels.owner, [entry.times, entry.values]]));
    // A record without an Amount places the owner in the bucket with no value, as SQL's sum of NULLs.
    assert.deepEqual(byOwner.Ada, [[START, START + DAY, START + 2 * DAY], [1000, 250, null]]);
    assert.deepEqual(byOwner.Grace, [[START], [500]]);
    assert.deepEqual(byOwner[''], [[START + 2 * DAY], [4000]]);
    assert.equal(soqlQueries.at(-1), 'SELECT CloseDate, Amount, Owner.Name FROM Opportunity WHERE IsWon = true AND CloseDate >= 2026-02-01T00:00:00Z AND CloseDate < 2026-02-04T00:00:00Z');
    assert.deepEqual(
      salesforce.requests.map((request) => request.path),
      ['/services/data/v59.0/query', '/services/data/v59.0/query/01gD0000002HU6K1-2', '/services/data/v59.0/query/01gD0000002HU6K1-4'],
    );
    assert.ok(salesforce.requests.every((request) => request.headers.authorization === 'Bearer sf-token'));
  });

  test('counts records when the metric has no value field', async () => {
    const [series] = await registry.query('crm', queryOf('won_deals', { aggregation: 'count' }));
    assert.deepEqual(series!.values, [2, 1, 2]);
  });

  test('a malformed query is a bad query with the Salesforce error code', async () => {
    await assert.rejects(registry.query('crm', queryOf('crm_broken')), /metric 'crm_broken': Salesforce MALFORMED_QUERY: unexpected token: 'FROMM'/);
  });

  test('health check reads the API limits', async () => {
    const status = (await registry.checkHealth()).find((entry) => entry.id === 'crm')!;
    assert.equal(status.status, 'up');
  });
});

describe('hubspot source (@hubspot/api-client against a local HubSpot CRM v3 fake)', () => {
  test('searches with the range and catalog filters, pages by paging.next.after, groups by a property', async () => {
    hubspot.requests.length = 0;
    const series = await registry.query('hub', queryOf('hs_won_amount', { groupBy: ['pipeline'] }));
    const byPipeline = Object.fromEntries(series.map((entry) => [entry.labels.pipeline, entry.values]));
    assert.deepEqual(byPipeline, { default: [100, 75.5, 450], partners: [50] });
    const searches = hubspot.requests.filter((request) => request.path === '/crm/v3/objects/deals/search');
    assert.equal(searches.length, 3, '453 matches in pages of 200');
    const first = searches[0]!.body as { filterGroups: Array<{ filters: Array<{ propertyName: string; operator: string; value: string }> }>; limit: number; after?: string };
    assert.deepEqual(first.filterGroups[0]!.filters, [
      { propertyName: 'dealstage', operator: 'EQ', value: 'closedwon' },
      { propertyName: 'createdate', operator: 'GTE', value: String(START) },
      { propertyName: 'createdate', operator: 'LT', value: String(START + 3 * DAY) },
    ]);
    assert.equal(first.limit, 200);
    assert.deepEqual(
      searches.map((request) => (request.body as { after?: string }).after),
      [undefined, '200', '400'],
    );
    assert.ok(hubspot.requests.every((request) => request.headers.authorization === 'Bearer hs-token'));
  });

  test('counts records per bucket', async () => {
    const [series] = await registry.query('hub', queryOf('hs_deals', { aggregation: 'count' }));
    assert.deepEqual(series!.values, [3, 1, 450]);
  });

  test('a rejected token fails this source only, with HubSpot\'s message, and its health check marks it down', async () => {
    const results = await Promise.allSettled([registry.query('hub_wrong_token', queryOf('hs_wrong')), registry.query('hub', queryOf('hs_deals'))]);
    assert.equal(results[0].status, 'rejected');
    assert.match(String((results[0] as PromiseRejectedResult).reason), /HubSpot 401 Authentication credentials not found\.$/);
    assert.equal(results[1].status, 'fulfilled');
    const status = Object.fromEntries((await registry.checkHealth()).map((entry) => [entry.id, entry]));
    assert.equal(status.hub_wrong_token!.status, 'down');
    assert.equal(status.hub_wrong_token!.lastError, 'HubSpot 401 Authentication credentials not found.');
    assert.equal(status.hub!.status, 'up');
    assert.equal(status.ga4!.status, 'up', 'BigQuery health lists datasets');
    assert.ok(bigquery.requests.some((request) => request.method === 'GET' && request.path === '/bigquery/v2/projects/acme-analytics/datasets'));
  });
});
