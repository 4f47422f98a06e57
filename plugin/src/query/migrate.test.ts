import { MetricsHubQuery } from '../types';
import { QUERY_MODEL_VERSION, migrateQuery } from './migrate';

describe('migrateQuery', () => {
  it('brings an unversioned query to the current model', () => {
    const saved = {
      refId: 'A',
      metric: 'orders_created',
      groupBy: 'channel, country',
      filters: [
        { dimension: 'channel', op: 'in', value: 'web,app' },
        { dimension: 'country', op: 'eq', value: ['DE'] },
      ],
    } as unknown as MetricsHubQuery;

    expect(migrateQuery(saved)).toEqual({
      refId: 'A',
      metric: 'orders_created',
      groupBy: ['channel', 'country'],
      filters: [
        { dimension: 'channel', op: 'in', value: ['web', 'app'] },
        { dimension: 'country', op: 'eq', value: 'DE' },
      ],
      format: 'timeseries',
      version: QUERY_MODEL_VERSION,
    });
  });

  it('is idempotent and leaves current queries untouched', () => {
    const current: MetricsHubQuery = { refId: 'A', metric: 'm', groupBy: ['a'], filters: [], format: 'kpi', version: QUERY_MODEL_VERSION };
    expect(migrateQuery(current)).toBe(current);
    const once = migrateQuery({ refId: 'B', metric: 'm' });
    expect(migrateQuery(once)).toEqual(once);
  });

  it('keeps a filter it cannot read, so the editor can say what is wrong with it', () => {
    const odd = { refId: 'A', metric: 'm', filters: [{ dimension: 'channel', op: 'like', value: 'w%' }, null] } as unknown as MetricsHubQuery;
    expect(migrateQuery(odd).filters).toEqual([{ dimension: 'channel', op: 'like', value: 'w%' }]);
  });

  it('leaves annotation queries alone', () => {
    const annotation: MetricsHubQuery = { refId: 'Anno', queryType: 'annotations', severity: 'critical' };
    expect(migrateQuery(annotation)).toBe(annotation);
  });
});
