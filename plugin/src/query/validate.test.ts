import { CATALOG } from '../test/fixtures';
import { DEFAULT_QUERY, MetricsHubQuery } from '../types';
import { catalogProblems, queryProblems } from './validate';

const complete: MetricsHubQuery = { refId: 'A', ...DEFAULT_QUERY };

describe('queryProblems', () => {
  it('finds nothing wrong with the default query', () => {
    expect(queryProblems(complete)).toEqual([]);
  });

  it('names each missing field', () => {
    expect(queryProblems({ refId: 'A' })).toEqual([
      'Choose a source.',
      'Choose a metric.',
      'Choose an aggregation.',
      'Choose a format: time series, table or KPI.',
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

  it('needs no aggregation in live mode but refuses comparing live counters', () => {
    const live: MetricsHubQuery = { ...complete, aggregation: undefined, live: true, compareToPrevious: true };
    expect(queryProblems(live)).toEqual(['Live mode streams current counters only; turn off "Compare to previous period".']);
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
      "Metric 'ordrs_created' is not in the catalog.",
    ]);
    expect(catalogProblems({ ...complete, source: 'ga4' }, CATALOG)[0]).toMatch(/^Source 'ga4' is not in the catalog; available: events, crm/);
    expect(catalogProblems({ ...complete, metric: '$metric', aggregation: '$agg', groupBy: ['$dim'] }, CATALOG)).toEqual([]);
  });
});
