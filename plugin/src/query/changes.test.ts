import { CATALOG } from '../test/fixtures';
import { MetricsHubQuery } from '../types';
import { withGroupBy, withMetric } from './changes';

const orders: MetricsHubQuery = { refId: 'A', source: 'events', metric: 'orders_created', aggregation: 'sum', groupBy: ['channel'], filters: [] };

describe('query changes', () => {
  it('moves to the new metric default aggregation even when the old one is allowed there', () => {
    const summed: MetricsHubQuery = { ...orders, metric: 'bot_response_time', aggregation: 'avg' };
    expect(withMetric(summed, 'orders_created', CATALOG).aggregation).toBe('sum');
    expect(withMetric(orders, 'bot_response_time', CATALOG).aggregation).toBe('p95');
    expect(withMetric({ ...orders, aggregation: '$agg' }, 'bot_response_time', CATALOG).aggregation).toBe('$agg');
  });

  it('drops group-by dimensions, columns and the ordering the new metric cannot use', () => {
    const table: MetricsHubQuery = { ...orders, format: 'table', columns: ['market', 'botId'], orderBy: { by: 'channel', direction: 'asc' } };
    const next = withMetric(table, 'bot_response_time', CATALOG);
    expect(next.groupBy).toEqual([]);
    expect(next.columns).toEqual(['botId']);
    expect(next.orderBy).toEqual({ by: 'value', direction: 'asc' });
  });

  it('orders by the value once the ordering dimension is no longer grouped by', () => {
    const table: MetricsHubQuery = { ...orders, groupBy: ['channel', 'market'], orderBy: { by: 'market', direction: 'desc' } };
    expect(withGroupBy(table, ['channel', 'market']).orderBy).toEqual({ by: 'market', direction: 'desc' });
    expect(withGroupBy(table, ['channel']).orderBy).toEqual({ by: 'value', direction: 'desc' });
  });
});
