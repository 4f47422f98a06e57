import { getTemplateSrv } from '@grafana/runtime';

import { installTemplateSrv } from '../test/templateSrv';
import { MetricsHubQuery } from '../types';
import { interpolateQuery } from './interpolate';

const base: MetricsHubQuery = {
  refId: 'A',
  source: 'events',
  metric: 'orders_created',
  aggregation: 'sum',
  format: 'timeseries',
  groupBy: [],
  filters: [],
};

describe('interpolateQuery', () => {
  beforeEach(() => {
    installTemplateSrv([
      { name: 'source', options: ['events', 'crm'], current: 'events' },
      { name: 'metric', options: ['orders_created', 'bot_response_time'], current: 'bot_response_time' },
      { name: 'agg', options: ['p50', 'p95'], current: 'p95' },
      { name: 'channel', options: ['web', 'app', 'shop'], current: 'web' },
      { name: 'bot', options: ['faq', 'sales', 'support'], current: ['faq', 'sales'] },
      { name: 'market', options: ['de', 'fr'], current: '$__all' },
      { name: 'dims', options: ['channel', 'market'], current: ['channel', 'market'] },
    ]);
  });

  const run = (query: Partial<MetricsHubQuery>, scopedVars = {}) =>
    interpolateQuery({ ...base, ...query }, scopedVars, getTemplateSrv());

  it('replaces variables in source, metric and aggregation', () => {
    const result = run({ source: '$source', metric: '${metric}', aggregation: '[[agg]]' });
    expect(result).toMatchObject({ source: 'events', metric: 'bot_response_time', aggregation: 'p95' });
  });

  it('keeps a single-value variable in an eq filter as one string', () => {
    const result = run({ filters: [{ dimension: 'channel', op: 'eq', value: '$channel' }] });
    expect(result.filters).toEqual([{ dimension: 'channel', op: 'eq', value: 'web' }]);
  });

  it('turns a multi-value variable in an eq filter into an in filter on every chosen value', () => {
    const result = run({ filters: [{ dimension: 'botId', op: 'eq', value: '$bot' }] });
    expect(result.filters).toEqual([{ dimension: 'botId', op: 'in', value: ['faq', 'sales'] }]);
  });

  it('turns a multi-value variable in a neq filter into not_in', () => {
    const result = run({ filters: [{ dimension: 'botId', op: 'neq', value: '${bot}' }] });
    expect(result.filters).toEqual([{ dimension: 'botId', op: 'not_in', value: ['faq', 'sales'] }]);
  });

  it('flattens variables inside an in list and drops duplicates', () => {
    const result = run({ filters: [{ dimension: 'botId', op: 'in', value: ['$bot', 'faq', 'support'] }] });
    expect(result.filters).toEqual([{ dimension: 'botId', op: 'in', value: ['faq', 'sales', 'support'] }]);
  });

  it('removes a filter whose variable is set to All', () => {
    const result = run({
      filters: [
        { dimension: 'market', op: 'eq', value: '$market' },
        { dimension: 'channel', op: 'eq', value: 'web' },
      ],
    });
    expect(result.filters).toEqual([{ dimension: 'channel', op: 'eq', value: 'web' }]);
  });

  it('uses the value a repeated panel pins instead of All', () => {
    const result = run(
      { filters: [{ dimension: 'market', op: 'eq', value: '$market' }] },
      { market: { text: 'fr', value: 'fr' } }
    );
    expect(result.filters).toEqual([{ dimension: 'market', op: 'eq', value: 'fr' }]);
  });

  it('groups by each value of a multi-value variable and by nothing for All', () => {
    expect(run({ groupBy: ['$dims'] }).groupBy).toEqual(['channel', 'market']);
    expect(run({ groupBy: ['$market', 'channel'] }).groupBy).toEqual(['channel']);
  });

  it('interpolates the filter dimension and leaves text without variables alone', () => {
    const result = run({ filters: [{ dimension: '$dims', op: 'eq', value: 'web-$channel' }] });
    expect(result.filters).toEqual([{ dimension: '{channel,market}', op: 'eq', value: 'web-web' }]);
  });
});
