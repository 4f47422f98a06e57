import { FieldType, toDataFrame } from '@grafana/data';

import { MetricsHubQuery } from '../types';
import { renderLegend, withLegends } from './legend';

const query: MetricsHubQuery = { refId: 'A', metric: 'bot_response_time', aggregation: 'p95', legend: '{{botId}} {{aggregation}}' };

describe('legend templates', () => {
  it('fills labels and the query fields, leaving absent labels empty', () => {
    expect(renderLegend('{{botId}} p95', { botId: 'faq' }, query)).toBe('faq p95');
    expect(renderLegend('{{ metric }} / {{channel}}', {}, query)).toBe('bot_response_time /');
  });

  it('names the value fields of the frames of queries that have a template', () => {
    const frame = (refId: string) =>
      toDataFrame({
        refId,
        fields: [
          { name: 'time', type: FieldType.time, values: [1] },
          { name: 'value', type: FieldType.number, values: [2], labels: { botId: 'sales' } },
        ],
      });
    const { data } = withLegends({ data: [frame('A'), frame('B')] }, [query, { refId: 'B', metric: 'x' }]);
    expect(data[0].fields[1].config.displayNameFromDS).toBe('sales p95');
    expect(data[0].fields[0].config.displayNameFromDS).toBeUndefined();
    expect(data[1].fields[1].config.displayNameFromDS).toBeUndefined();
  });
});
