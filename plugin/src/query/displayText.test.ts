import { queryDisplayText } from './displayText';

describe('queryDisplayText', () => {
  it('says what a query asks for in one line', () => {
    expect(
      queryDisplayText({
        refId: 'A',
        metric: 'bot_response_time_ms',
        aggregation: 'p95',
        groupBy: ['botId'],
        filters: [
          { dimension: 'channel', op: 'eq', value: 'web' },
          { dimension: 'country', op: 'not_in', value: ['DE', 'FR'] },
        ],
        format: 'table',
        compareToPrevious: true,
      })
    ).toBe('p95 of bot_response_time_ms by botId where channel = web and country not in (DE, FR) as table vs previous period');
  });

  it('says when a query reads a rolling window', () => {
    expect(queryDisplayText({ refId: 'A', metric: 'orders_created', aggregation: 'count', rolling: true })).toBe(
      'count of orders_created over the exact range (rolling)'
    );
  });

  it('describes annotation and empty queries', () => {
    expect(queryDisplayText({ refId: 'A', queryType: 'annotations', severity: 'critical' })).toBe('Anomalies (critical)');
    expect(queryDisplayText({ refId: 'A' })).toBe('No metric chosen');
  });
});
