import { CoreApp, DataQueryRequest, DataQueryResponse, FieldType, LiveChannelScope, dateTime } from '@grafana/data';
import { GrafanaLiveSrv, LiveDataStreamOptions, setGrafanaLiveSrv } from '@grafana/runtime';
import { firstValueFrom, of, toArray } from 'rxjs';

import { installBackendSrv } from './test/backendSrv';
import { CATALOG, RESOURCES, createDataSource } from './test/fixtures';
import { installTemplateSrv } from './test/templateSrv';
import { MetricsHubVariableSupport } from './variableSupport';
import { ANNOTATIONS_QUERY_TYPE, BackendAnnotation, DEFAULT_QUERY, MetricsHubQuery } from './types';

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

  it('subscribes live queries to the Go component stream of their metric through Grafana Live', async () => {
    const requests = installBackendSrv({});
    const subscriptions: LiveDataStreamOptions[] = [];
    const streamed: DataQueryResponse = { key: 'live', data: [] };
    setGrafanaLiveSrv({
      getDataStream: (options: LiveDataStreamOptions) => {
        subscriptions.push(options);
        return of(streamed);
      },
    } as unknown as GrafanaLiveSrv);

    const live: MetricsHubQuery = { refId: 'L', source: 'events', metric: '$metric', format: 'timeseries', live: true };
    const responses = await firstValueFrom(createDataSource().query(request([live])).pipe(toArray()));

    expect(responses).toEqual([streamed]);
    expect(requests).toEqual([]);
    expect(subscriptions).toHaveLength(1);
    expect(subscriptions[0].addr).toMatchObject({
      scope: LiveChannelScope.DataSource,
      stream: 'metricshub',
      namespace: 'metricshub',
      path: 'live/orders_created',
    });
    expect(subscriptions[0].buffer).toMatchObject({ maxLength: 100, maxDelta: TO - FROM });
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
  const alerts: BackendAnnotation[] = [
    {
      time: FROM,
      timeEnd: FROM + 3_600_000,
      title: 'Workflow failure rate critical',
      text: 'Failure rate 12% over 5%. Recommendation: check the payment provider.',
      tags: ['critical', 'rule:workflow_failure_rate_high', 'metric:workflow_failure_rate'],
      metric: 'workflow_failure_rate',
      severity: 'critical',
      rule: 'workflow_failure_rate_high',
      state: 'resolved',
    },
    {
      time: FROM + 7_200_000,
      timeEnd: null,
      title: 'Orders below baseline',
      text: 'Orders 40% under the usual Monday.',
      metric: 'orders_created',
      severity: 'warning',
      rule: 'orders_drop',
      state: 'firing',
    },
  ];

  it('prepares an annotation query from the stored annotation', () => {
    const prepared = createDataSource().annotations!.prepareQuery!({
      name: 'Anomalies',
      enable: true,
      iconColor: 'red',
      target: { refId: 'Anno', metric: 'orders_created', severity: 'critical' },
    });
    expect(prepared).toEqual({ refId: 'Anno', metric: 'orders_created', severity: 'critical', queryType: ANNOTATIONS_QUERY_TYPE });
  });

  it('fetches anomalies in the range through the annotations resource and maps them to annotation fields', async () => {
    const requests = installBackendSrv({ [`GET ${RESOURCES}/annotations`]: () => ({ body: alerts }) });
    const query: MetricsHubQuery = { refId: 'Anno', queryType: ANNOTATIONS_QUERY_TYPE, metric: '$metric', severity: 'critical' };

    const response = await firstValueFrom(createDataSource().query(request([query])));

    expect(requests[0].params).toEqual({ from: String(FROM), to: String(TO), metric: 'orders_created', severity: 'critical' });
    const frame = response.data[0];
    const field = (name: string) => frame.fields.find((f: { name: string }) => f.name === name);
    expect(frame.refId).toBe('Anno');
    expect(field('time').type).toBe(FieldType.time);
    expect(field('time').values).toEqual([FROM, FROM + 7_200_000]);
    expect(field('timeEnd').values).toEqual([FROM + 3_600_000, FROM + 7_200_000]);
    expect(field('title').values).toEqual(['Workflow failure rate critical', 'Orders below baseline']);
    expect(field('text').values[0]).toContain('Recommendation: check the payment provider.');
    expect(field('tags').values).toEqual([
      ['critical', 'rule:workflow_failure_rate_high', 'metric:workflow_failure_rate'],
      ['warning', 'rule:orders_drop', 'metric:orders_created'],
    ]);
    expect(field('color').values).toEqual(['red', 'orange']);
  });

  it('asks for every metric and severity when the annotation does not filter', async () => {
    const requests = installBackendSrv({ [`GET ${RESOURCES}/annotations`]: () => ({ body: [] }) });
    const response = await firstValueFrom(
      createDataSource().query(request([{ refId: 'Anno', queryType: ANNOTATIONS_QUERY_TYPE }]))
    );
    expect(requests[0].params).toEqual({ from: String(FROM), to: String(TO) });
    expect(response.data[0].length).toBe(0);
  });
});
