import { CATALOG } from '../test/fixtures';
import { DEFAULT_QUERY, MetricsHubQuery } from '../types';
import { catalogProblems, queryProblems } from './validate';

const complete: MetricsHubQuery = { refId: 'A', ...DEFAULT_QUERY };

describe('queryProblems', () => {
  it('finds nothing wrong with the default query', () => {
    expect(queryProblems(complete)).toEqual([]);
  });

  it('needs only a metric: source, aggregation and format have defaults', () => {
    expect(queryProblems({ refId: 'A' })).toEqual(['Choose a metric.']);
    expect(queryProblems({ refId: 'A', metric: 'orders_created' })).toEqual([]);
  });

  it('refuses an unknown format and a limit outside 1..1000', () => {
    expect(queryProblems({ ...complete, format: 'graph' as never, limit: 0 })).toEqual([
      'Choose a format: time series, table, KPI or list.',
      'Limit must be a whole number from 1 to 1000.',
    ]);
    expect(queryProblems({ ...complete, format: 'list', limit: 1000 })).toEqual([]);
  });

  it('orders a table by the value or a group-by dimension only', () => {
    const table: MetricsHubQuery = { ...complete, format: 'table', groupBy: ['channel'], limit: 5 };
    expect(queryProblems({ ...table, orderBy: { by: 'channel', direction: 'desc' } })).toEqual([]);
    expect(queryProblems({ ...table, orderBy: { by: 'market', direction: 'asc' } })).toEqual([
      "Order by 'market': choose the value or one of the group-by dimensions (channel).",
    ]);
  });

  it('names the incomplete filter and what it lacks', () => {
    const query: MetricsHubQuery = {
      ...complete,
      filters: [
        { dimension: '', op: 'eq', value: 'web' },
        { dimension: 'channel', op: 'eq', value: ' ' },
        { dimension: 'market', op: 'in', value: [] },
      ],
    };
    expect(queryProblems(query)).toEqual([
      'Filter 1: choose a dimension.',
      'Filter 2 on channel: enter a value.',
      'Filter 3 on market: enter a value.',
    ]);
  });

  it('keeps the comparison setting of a live query, which live mode ignores', () => {
    const live: MetricsHubQuery = { ...complete, aggregation: undefined, live: true, compareToPrevious: true };
    expect(queryProblems(live)).toEqual([]);
  });
});

describe('catalogProblems', () => {
  it('rejects an aggregation the metric does not allow, naming the allowed ones', () => {
    expect(catalogProblems({ ...complete, aggregation: 'p95' }, CATALOG)).toEqual([
      'Orders created allows sum, count; not p95.',
    ]);
  });

  it('rejects group-by and filter dimensions the metric lacks', () => {
    const query: MetricsHubQuery = {
      ...complete,
      groupBy: ['botId'],
      filters: [{ dimension: 'owner', op: 'eq', value: 'x' }],
    };
    expect(catalogProblems(query, CATALOG)).toEqual([
      "'botId' is not a dimension of Orders created; use one of: channel, market.",
      "'owner' is not a dimension of Orders created; use one of: channel, market.",
    ]);
  });

  it('rejects unknown metrics and sources but leaves template variables to Grafana', () => {
    expect(catalogProblems({ ...complete, metric: 'ordrs_created' }, CATALOG)).toEqual([
      "Metric 'ordrs_created' is not in the catalog; did you mean 'orders_created' (Orders created)?",
    ]);
    expect(catalogProblems({ ...complete, metric: 'bot response' }, CATALOG)).toEqual([
      "Metric 'bot response' is not in the catalog; did you mean 'bot_response_time' (Bot response time)?",
    ]);
    expect(catalogProblems({ ...complete, metric: 'zzz' }, CATALOG)).toEqual(["Metric 'zzz' is not in the catalog."]);
    expect(catalogProblems({ ...complete, source: 'ga4' }, CATALOG)[0]).toMatch(/^Source 'ga4' is not in the catalog; available: events, crm/);
    expect(catalogProblems({ ...complete, metric: '$metric', aggregation: '$agg', groupBy: ['$dim'] }, CATALOG)).toEqual([]);
  });
});
