import { CoreApp, DataQueryRequest, DataQueryResponse, LiveChannelScope, dateTime } from '@grafana/data';
import { GrafanaLiveSrv, LiveDataStreamOptions, setGrafanaLiveSrv } from '@grafana/runtime';
import { firstValueFrom, of, toArray } from 'rxjs';

import { installBackendSrv } from './test/backendSrv';
import { CATALOG, RESOURCES, createDataSource } from './test/fixtures';
import { installTemplateSrv } from './test/templateSrv';
import { MetricsHubVariableSupport } from './variableSupport';
import { QUERY_MODEL_VERSION } from './query/migrate';
import { ANNOTATIONS_QUERY_TYPE, DEFAULT_QUERY, MetricsHubQuery } from './types';

const FROM = Date.UTC(2026, 1, 1);
const TO = Date.UTC(2026, 1, 2);

function request(targets: MetricsHubQuery[]): DataQueryRequest<MetricsHubQuery> {
  return {
    requestId: 'Q1',
    interval: '1h',
    intervalMs: 3_600_000,
    maxDataPoints: 100,
    range: { from: dateTime(FROM), to: dateTime(TO), raw: { from: 'now-1d', to: 'now' } },
    scopedVars: {},
    targets,
    timezone: 'utc',
    app: CoreApp.Dashboard,
    startTime: 0,
  };
}

// A frame as Grafana's /api/ds/query returns it from the Go component.
const ORDERS_FRAME = {
  schema: {
    name: 'orders_created',
    refId: 'A',
    fields: [
      { name: 'time', type: 'time' },
      { name: 'value', type: 'number', labels: { channel: 'web' } },
    ],
  },
  data: { values: [[FROM, FROM + 3_600_000], [12, 15]] },
};

beforeEach(() => {
  installTemplateSrv([
    { name: 'bot', options: ['faq', 'sales', 'support'], current: ['faq', 'sales'] },
    { name: 'channel', options: ['web', 'app'], current: '$__all' },
    { name: 'metric', options: ['orders_created'], current: 'orders_created' },
  ]);
});

describe('DataSource defaults and filterQuery', () => {
  it('starts a new query on orders created, summed, as a time series', () => {
    expect(createDataSource().getDefaultQuery(CoreApp.PanelEditor)).toEqual(DEFAULT_QUERY);
    expect(DEFAULT_QUERY).toMatchObject({ source: 'events', metric: 'orders_created', aggregation: 'sum', format: 'timeseries' });
  });

  it('runs complete queries and skips incomplete or hidden ones', () => {
    const ds = createDataSource();
    expect(ds.filterQuery({ refId: 'A', ...DEFAULT_QUERY })).toBe(true);
    expect(ds.filterQuery({ refId: 'A', ...DEFAULT_QUERY, metric: '' })).toBe(false);
    expect(ds.filterQuery({ refId: 'A', ...DEFAULT_QUERY, hide: true })).toBe(false);
    expect(ds.filterQuery({ refId: 'A', ...DEFAULT_QUERY, filters: [{ dimension: 'channel', op: 'eq', value: '' }] })).toBe(false);
  });
});

describe('DataSource.query', () => {
  it('sends interpolated queries through Grafana to the Go component and reads the frames', async () => {
    const requests = installBackendSrv({
      'POST /api/ds/query': () => ({ body: { results: { A: { status: 200, frames: [ORDERS_FRAME] } } } }),
    });
    const target: MetricsHubQuery = {
      ...DEFAULT_QUERY,
      refId: 'A',
      metric: '$metric',
      filters: [
        { dimension: 'botId', op: 'eq', value: '$bot' },
        { dimension: 'channel', op: 'eq', value: '$channel' },
      ],
    };

    const response = await firstValueFrom(createDataSource().query(request([target])));

    const body = requests[0].data as { queries: MetricsHubQuery[]; from: string; to: string };
    expect(body.from).toBe(String(FROM));
    expect(body.to).toBe(String(TO));
    expect(body.queries[0]).toMatchObject({
      refId: 'A',
      metric: 'orders_created',
      filters: [{ dimension: 'botId', op: 'in', value: ['faq', 'sales'] }],
      datasource: { uid: 'metricshub', type: 'metricshub-metrics-datasource' },
    });
    const frame = response.data[0];
    expect(frame.fields.map((f: { name: string }) => f.name)).toEqual(['time', 'value']);
    expect(frame.fields[1].labels).toEqual({ channel: 'web' });
    expect(frame.fields[1].values).toEqual([12, 15]);
  });

  it('reports a failed query with the message of the Go component', async () => {
    installBackendSrv({
      'POST /api/ds/query': () => ({
        body: { results: { A: { status: 400, error: "metric 'ordrs_created' is not in the catalog" } } },
      }),
    });
    const response = await firstValueFrom(createDataSource().query(request([{ ...DEFAULT_QUERY, refId: 'A' }])));
    expect(response.errors?.[0]).toMatchObject({ refId: 'A', message: "metric 'ordrs_created' is not in the catalog" });
  });

  it('subscribes all live queries of a panel to one Grafana Live channel of their metrics', async () => {
    const requests = installBackendSrv({});
    const subscriptions: LiveDataStreamOptions[] = [];
    const streamed: DataQueryResponse = { key: 'live', data: [] };
    setGrafanaLiveSrv({
      getDataStream: (options: LiveDataStreamOptions) => {
        subscriptions.push(options);
        return of(streamed);
      },
    } as unknown as GrafanaLiveSrv);

    const live: MetricsHubQuery[] = [
      { refId: 'L', source: 'events', metric: '$metric', format: 'timeseries', live: true },
      { refId: 'M', source: 'events', metric: 'deals_won', format: 'timeseries', live: true },
    ];
    const responses = await firstValueFrom(createDataSource().query(request(live)).pipe(toArray()));

    expect(responses).toEqual([streamed]);
    expect(requests).toEqual([]);
    expect(subscriptions).toHaveLength(1);
    expect(subscriptions[0].addr).toMatchObject({
      scope: LiveChannelScope.DataSource,
      stream: 'metricshub',
      namespace: 'metricshub',
      // Sorted, "/"-separated: Grafana Live rejects commas in channel paths.
      path: 'live/deals_won/orders_created',
    });
    expect(subscriptions[0].buffer).toMatchObject({ maxLength: 100, maxDelta: TO - FROM });
  });

  it('migrates saved queries before sending them', async () => {
    const requests = installBackendSrv({
      'POST /api/ds/query': () => ({ body: { results: { A: { status: 200, frames: [] } } } }),
    });
    const saved = { refId: 'A', metric: 'orders_created', groupBy: 'channel' } as unknown as MetricsHubQuery;
    await firstValueFrom(createDataSource().query(request([saved])));
    const body = requests[0].data as { queries: MetricsHubQuery[] };
    expect(body.queries[0]).toMatchObject({ groupBy: ['channel'], format: 'timeseries', version: QUERY_MODEL_VERSION });
  });

  it('applies ad hoc filters only to the dimensions each query\'s metric has', async () => {
    const requests = installBackendSrv({
      [`GET ${RESOURCES}/catalog`]: () => ({ body: CATALOG }),
      'POST /api/ds/query': () => ({ body: { results: { A: { status: 200, frames: [] }, B: { status: 200, frames: [] } } } }),
    });
    const filters = [
      { key: 'channel', operator: '=', value: 'web' },
      { key: 'botId', operator: '=|', value: 'faq', values: ['faq', 'sales'] },
    ];
    const targets: MetricsHubQuery[] = [
      { ...DEFAULT_QUERY, refId: 'A' },
      { ...DEFAULT_QUERY, refId: 'B', metric: 'bot_response_time', aggregation: 'p95' },
    ];
    await firstValueFrom(createDataSource().query({ ...request(targets), filters }));

    const body = requests.find((r) => r.url.startsWith('/api/ds/query'))!.data as { queries: MetricsHubQuery[] };
    expect(body.queries[0].filters).toEqual([{ dimension: 'channel', op: 'eq', value: 'web' }]);
    expect(body.queries[1].filters).toEqual([{ dimension: 'botId', op: 'in', value: ['faq', 'sales'] }]);
  });
});

describe('analyst helpers', () => {
  it('interpolates queries for Explore and "copy to another data source", naming this data source', () => {
    const [query] = createDataSource().interpolateVariablesInQueries(
      [{ ...DEFAULT_QUERY, refId: 'A', metric: '$metric', filters: [{ dimension: 'botId', op: 'eq', value: '$bot' }] }],
      {}
    );
    expect(query).toMatchObject({
      metric: 'orders_created',
      filters: [{ dimension: 'botId', op: 'in', value: ['faq', 'sales'] }],
      datasource: { uid: 'metricshub', type: 'metricshub-metrics-datasource' },
    });
  });

  it('describes a query in one line', () => {
    expect(createDataSource().getQueryDisplayText({ ...DEFAULT_QUERY, refId: 'A', groupBy: ['channel'] })).toBe('sum of orders_created by channel');
  });

  it('offers the dimensions of the dashboard\'s metrics as ad hoc filter keys', async () => {
    installBackendSrv({ [`GET ${RESOURCES}/catalog`]: () => ({ body: CATALOG }) });
    const ds = createDataSource();
    expect(await ds.getTagKeys({ filters: [], queries: [{ refId: 'A', metric: 'orders_created' }] })).toEqual([
      { text: 'channel', value: 'channel' },
      { text: 'market', value: 'market' },
    ]);
    expect((await ds.getTagKeys({ filters: [] })).map((k) => k.value)).toEqual(['botId', 'channel', 'market', 'owner']);
  });

  it('reads ad hoc filter values from the metrics that have the dimension', async () => {
    const requests = installBackendSrv({
      [`GET ${RESOURCES}/catalog`]: () => ({ body: CATALOG }),
      [`POST ${RESOURCES}/variables`]: () => ({ body: [{ text: 'web', value: 'web' }, { text: 'app', value: 'app' }] }),
    });
    const values = await createDataSource().getTagValues({ key: 'channel', filters: [] });
    expect(values).toEqual([
      { text: 'app', value: 'app' },
      { text: 'web', value: 'web' },
    ]);
    const call = requests.find((r) => r.url.endsWith('/variables'))!;
    expect(call.data).toMatchObject({ query: 'dimension_values', metric: 'orders_created', dimension: 'channel' });
  });
});

describe('resource calls', () => {
  it('loads the catalog once through the catalog resource', async () => {
    const requests = installBackendSrv({ [`GET ${RESOURCES}/catalog`]: () => ({ body: CATALOG }) });
    const ds = createDataSource();
    await expect(ds.getCatalog()).resolves.toEqual(CATALOG);
    await ds.getCatalog();
    expect(requests.map((r) => r.url)).toEqual([`${RESOURCES}/catalog`]);
  });

  it('tries the catalog again after a failure', async () => {
    let calls = 0;
    installBackendSrv({
      [`GET ${RESOURCES}/catalog`]: () => (++calls === 1 ? { status: 502, body: { error: 'backend unreachable' } } : { body: CATALOG }),
    });
    const ds = createDataSource();
    await expect(ds.getCatalog()).rejects.toMatchObject({ status: 502, data: { error: 'backend unreachable' } });
    await expect(ds.getCatalog()).resolves.toEqual(CATALOG);
  });

  it('lists variable values through the variables resource and maps them to text/value pairs', async () => {
    const requests = installBackendSrv({
      [`POST ${RESOURCES}/variables`]: () => ({ body: [{ text: 'FAQ bot', value: 'faq' }, { text: 'Sales bot', value: 'sales' }] }),
    });
    const range = { from: dateTime(FROM), to: dateTime(TO), raw: { from: 'now-1d', to: 'now' } };

    const values = await createDataSource().metricFindQuery(
      { refId: 'v', query: 'dimension_values', metric: '$metric', dimension: 'botId' },
      { range }
    );

    expect(values).toEqual([{ text: 'FAQ bot', value: 'faq' }, { text: 'Sales bot', value: 'sales' }]);
    expect(requests[0].data).toEqual({
      query: 'dimension_values',
      metric: 'orders_created',
      dimension: 'botId',
      from: new Date(FROM).toISOString(),
      to: new Date(TO).toISOString(),
    });
  });

  it('reads text variable queries and refuses ones it cannot run', async () => {
    const requests = installBackendSrv({ [`POST ${RESOURCES}/variables`]: () => ({ body: [] }) });
    const ds = createDataSource();
    await ds.metricFindQuery('dimension_values(bot_responses, botId)');
    expect(requests[0].data).toMatchObject({ query: 'dimension_values', metric: 'bot_responses', dimension: 'botId' });
    await expect(ds.metricFindQuery('dimension_values')).rejects.toThrow('Choose a metric and one of its dimensions.');
    await expect(ds.metricFindQuery('bots')).rejects.toThrow(/'bots' is not understood/);
  });

  it('runs the variable support through the same resource', async () => {
    installBackendSrv({ [`POST ${RESOURCES}/variables`]: () => ({ body: [{ text: 'Events', value: 'events' }] }) });
    const support = new MetricsHubVariableSupport(createDataSource());
    const variableRequest = { ...request([]), targets: [{ refId: 'v', query: 'sources' as const }] };
    const response = await firstValueFrom(support.query(variableRequest));
    expect(response.data).toEqual([{ text: 'Events', value: 'events' }]);
  });
});

describe('annotations', () => {
  it('prepares an annotation query from the stored annotation', () => {
    const prepared = createDataSource().annotations!.prepareQuery!({
      name: 'Anomalies',
      enable: true,
      iconColor: 'red',
      target: { refId: 'Anno', metric: 'orders_created', severity: 'critical' },
    });
    expect(prepared).toEqual({ refId: 'Anno', metric: 'orders_created', severity: 'critical', queryType: ANNOTATIONS_QUERY_TYPE });
  });

  it('sends annotation queries to the Go component like any query, variables resolved', async () => {
    const requests = installBackendSrv({
      'POST /api/ds/query': () => ({ body: { results: { Anno: { status: 200, frames: [] } } } }),
    });
    const query: MetricsHubQuery = { refId: 'Anno', queryType: ANNOTATIONS_QUERY_TYPE, metric: '$metric', severity: 'critical' };

    await firstValueFrom(createDataSource().query(request([query])));

    const body = requests[0].data as { queries: MetricsHubQuery[] };
    expect(body.queries[0]).toMatchObject({ refId: 'Anno', queryType: 'annotations', metric: 'orders_created', severity: 'critical' });
  });
});
