import React from 'react';
import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';

import { installBackendSrv } from '../test/backendSrv';
import { CATALOG, RESOURCES, createDataSource } from '../test/fixtures';
import { installTemplateSrv } from '../test/templateSrv';
import { DEFAULT_QUERY, MetricsHubQuery } from '../types';
import { QueryEditor } from './QueryEditor';

function setup(query: Partial<MetricsHubQuery> = {}, catalogAnswer = () => ({ body: CATALOG as unknown })) {
  installBackendSrv({ [`GET ${RESOURCES}/catalog`]: catalogAnswer });
  const onChange = jest.fn();
  const onRunQuery = jest.fn();
  render(
    <QueryEditor
      query={{ refId: 'A', ...DEFAULT_QUERY, ...query }}
      datasource={createDataSource()}
      onChange={onChange}
      onRunQuery={onRunQuery}
    />
  );
  return { onChange, onRunQuery };
}

// The metric picker shows the catalog label of the query's metric once the catalog is in.
const catalogLoaded = () => waitFor(() => expect(screen.getByLabelText('Metric')).toHaveValue('Orders created'));

async function optionsOf(label: string): Promise<string[]> {
  await userEvent.click(screen.getByLabelText(label));
  const options = await screen.findAllByRole('option');
  return options.map((o) => within(o).getAllByText(/.+/)[0].textContent ?? '');
}

describe('QueryEditor', () => {
  beforeEach(() => installTemplateSrv([{ name: 'bot', options: ['faq', 'sales'], current: 'faq' }]));

  it('offers the metrics of the chosen source from the catalog, then the variables', async () => {
    setup();
    await catalogLoaded();
    expect(await optionsOf('Metric')).toEqual(['Orders created', 'Bot response time', '$bot']);
  });

  it('offers only the aggregations the metric allows', async () => {
    setup();
    await catalogLoaded();
    expect(await optionsOf('Aggregation')).toEqual(['sum', 'count', '$bot']);
  });

  it('offers the metric dimensions for group-by', async () => {
    setup();
    await catalogLoaded();
    expect(await optionsOf('Group by')).toEqual(['channel', 'market', '$bot']);
  });

  it('moves to the new metric default aggregation and drops dimensions it lacks', async () => {
    const { onChange, onRunQuery } = setup({
      groupBy: ['channel'],
      filters: [{ dimension: 'market', op: 'eq', value: 'de' }],
    });
    await catalogLoaded();
    await userEvent.click(screen.getByLabelText('Metric'));
    await userEvent.click(await screen.findByRole('option', { name: /Bot response time/ }));

    expect(onChange).toHaveBeenLastCalledWith({
      ...DEFAULT_QUERY,
      refId: 'A',
      source: 'events',
      metric: 'bot_response_time',
      aggregation: 'p95',
      groupBy: [],
      filters: [],
    });
    expect(onRunQuery).toHaveBeenCalled();
  });

  it('changing the source picks a metric of that source', async () => {
    const { onChange } = setup();
    await catalogLoaded();
    await userEvent.click(screen.getByLabelText('Source'));
    await userEvent.click(await screen.findByRole('option', { name: /CRM/ }));
    expect(onChange).toHaveBeenLastCalledWith(
      expect.objectContaining({ source: 'crm', metric: 'deals_won', aggregation: 'count' })
    );
  });

  it('writes the chosen format and the comparison switch into the query', async () => {
    const { onChange } = setup();
    await catalogLoaded();
    await userEvent.click(screen.getByLabelText('KPI'));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ format: 'kpi' }));
    await userEvent.click(screen.getByLabelText('Compare to previous period'));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ compareToPrevious: true }));
  });

  it('adds a filter and turns a list operator into an array value', async () => {
    const { onChange } = setup({ filters: [{ dimension: 'channel', op: 'eq', value: 'web' }] });
    await catalogLoaded();
    await userEvent.click(screen.getByRole('combobox', { name: 'Filter 1 operator' }));
    await userEvent.click(await screen.findByRole('option', { name: /not in/ }));
    expect(onChange).toHaveBeenLastCalledWith(
      expect.objectContaining({ filters: [{ dimension: 'channel', op: 'not_in', value: ['web'] }] })
    );
    await userEvent.click(screen.getByRole('button', { name: /Add filter/ }));
    expect(onChange).toHaveBeenLastCalledWith(
      expect.objectContaining({
        filters: [
          { dimension: 'channel', op: 'eq', value: 'web' },
          { dimension: '', op: 'eq', value: '' },
        ],
      })
    );
  });

  it('says why an incomplete query does not run', async () => {
    setup({ aggregation: 'p99', filters: [{ dimension: 'channel', op: 'eq', value: '' }] });
    expect(await screen.findByText('Filter 1 on channel: enter a value.')).toBeInTheDocument();
    expect(await screen.findByText('Orders created allows sum, count; not p99.')).toBeInTheDocument();
  });

  it('moves a default query to a metric the catalog has', async () => {
    const catalog = { sources: CATALOG.sources, metrics: CATALOG.metrics.slice(1) };
    const { onChange } = setup({}, () => ({ body: catalog }));
    await waitFor(() =>
      expect(onChange).toHaveBeenCalledWith(expect.objectContaining({ metric: 'bot_response_time', aggregation: 'p95' }))
    );
  });

  it('shows the error of the Go component when the catalog cannot be loaded', async () => {
    setup({}, () => ({ status: 502, body: { error: 'Metrics Hub backend unreachable at http://metrics-hub:8080' } }));
    expect(await screen.findByText('Cannot load the Metrics Hub catalog')).toBeInTheDocument();
    expect(screen.getByText('Metrics Hub backend unreachable at http://metrics-hub:8080')).toBeInTheDocument();
  });
});
