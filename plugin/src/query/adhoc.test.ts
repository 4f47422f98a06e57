import { adHocFilters } from './adhoc';

describe('adHocFilters', () => {
  it('maps equality and one-of operators to query filters', () => {
    expect(
      adHocFilters(
        [
          { key: 'channel', operator: '=', value: 'web' },
          { key: 'country', operator: '!=', value: 'DE' },
          { key: 'botId', operator: '=|', value: 'faq', values: ['faq', 'sales'] },
          { key: 'status', operator: '!=|', value: 'missed', values: ['missed'] },
        ],
        undefined
      )
    ).toEqual([
      { dimension: 'channel', op: 'eq', value: 'web' },
      { dimension: 'country', op: 'neq', value: 'DE' },
      { dimension: 'botId', op: 'in', value: ['faq', 'sales'] },
      { dimension: 'status', op: 'not_in', value: ['missed'] },
    ]);
  });

  it('applies only the dimensions of the query metric and skips operators Metrics Hub lacks', () => {
    expect(
      adHocFilters(
        [
          { key: 'channel', operator: '=', value: 'web' },
          { key: 'botId', operator: '=', value: 'faq' },
          { key: 'channel', operator: '=~', value: 'w.*' },
        ],
        ['channel']
      )
    ).toEqual([{ dimension: 'channel', op: 'eq', value: 'web' }]);
  });
});
