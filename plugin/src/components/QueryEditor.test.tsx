import React from 'react';
import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';

import { installBackendSrv } from '../test/backendSrv';
import { CATALOG, RESOURCES, createDataSource } from '../test/fixtures';
import { installTemplateSrv } from '../test/templateSrv';
import { DEFAULT_QUERY, MetricsHubQuery } from '../types';
import { QueryEditor } from './QueryEditor';

const VALUES: Record<string, string[]> = { channel: ['email', 'webchat'], market: ['de', 'fr'], botId: ['faq', 'sales'] };

function setup(query: Partial<MetricsHubQuery> = {}, catalogAnswer = () => ({ body: CATALOG as unknown })) {
  installBackendSrv({
    [`GET ${RESOURCES}/catalog`]: catalogAnswer,
    [`POST ${RESOURCES}/variables`]: (request) => {
      const { dimension } = request.data as { dimension: string };
      return { body: (VALUES[dimension] ?? []).map((v) => ({ text: v, value: v })) };
    },
  });
  const onChange = jest.fn();
  const onRunQuery = jest.fn();
  // Grafana hands every change back as the next query.
  function Controlled() {
    const [current, setCurrent] = React.useState<MetricsHubQuery>({ refId: 'A', ...DEFAULT_QUERY, ...query });
    return (
      <QueryEditor
        query={current}
        datasource={createDataSource()}
        onChange={(next) => {
          onChange(next);
          setCurrent(next);
        }}
        onRunQuery={onRunQuery}
      />
    );
  }
  render(<Controlled />);
  return { onChange, onRunQuery };
}

// The metric picker shows the catalog label of the query's metric once the catalog is in.
const catalogLoaded = () => waitFor(() => expect(screen.getByLabelText(/^Metric/)).toHaveValue('Orders created'));

async function optionsOf(label: RegExp): Promise<string[]> {
  await userEvent.click(screen.getByLabelText(label));
  const options = await screen.findAllByRole('option');
  return options.map((o) => within(o).getAllByText(/.+/)[0].textContent ?? '');
}

describe('QueryEditor', () => {
  beforeEach(() => installTemplateSrv([{ name: 'bot', options: ['faq', 'sales'], current: 'faq' }]));

  it('shows a loading state until the catalog is in, not raw keys', async () => {
    setup();
    expect(screen.getByText('Loading the Metrics Hub catalog…')).toBeInTheDocument();
    await catalogLoaded();
  });

  it('searches the metrics of every source, each with its source beside it', async () => {
    setup();
    await catalogLoaded();
    expect(await optionsOf(/^Metric/)).toEqual(['Orders created', 'Bot response time', 'Deals won', '$bot']);
    expect(screen.getByRole('option', { name: /Deals won/ })).toHaveTextContent('CRM');
  });

  it('offers only the aggregations the metric allows, with help and the default marked, no variables', async () => {
    setup();
    await catalogLoaded();
    expect(await optionsOf(/^Aggregation/)).toEqual(['sum', 'count']);
    expect(screen.getByRole('option', { name: /^sum/ })).toHaveTextContent('Default for Orders created');
  });

  it('offers the metric dimensions for group-by, described by their known values', async () => {
    setup();
    await catalogLoaded();
    await waitFor(async () => expect(await optionsOf(/^Group by/)).toEqual(['channel', 'market', '$bot']));
    expect(screen.getByRole('option', { name: /^channel/ })).toHaveTextContent('e.g. email, webchat');
  });

  it('moves to the new metric default aggregation and drops dimensions it lacks, in one change and one run', async () => {
    const { onChange, onRunQuery } = setup({
      groupBy: ['channel'],
      filters: [{ dimension: 'market', op: 'eq', value: 'de' }],
    });
    await catalogLoaded();
    await userEvent.click(screen.getByLabelText(/^Metric/));
    await userEvent.click(await screen.findByRole('option', { name: /Bot response time/ }));

    expect(onChange).toHaveBeenCalledTimes(1);
    expect(onRunQuery).toHaveBeenCalledTimes(1);
    expect(onChange).toHaveBeenLastCalledWith({
      ...DEFAULT_QUERY,
      refId: 'A',
      source: 'events',
      metric: 'bot_response_time',
      aggregation: 'p95',
      groupBy: [],
      filters: [],
    });
  });

  it('hides what does nothing for the format: group-by and comparison for KPI, aggregation for lists', async () => {
    const { onChange } = setup();
    await catalogLoaded();
    await userEvent.click(screen.getByLabelText('KPI'));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ format: 'kpi' }));
    expect(screen.queryByLabelText(/^Group by/)).not.toBeInTheDocument();
    expect(screen.queryByLabelText(/^Compare to previous period/)).not.toBeInTheDocument();
    await userEvent.click(screen.getByLabelText('List'));
    expect(screen.queryByLabelText(/^Aggregation/)).not.toBeInTheDocument();
    expect(screen.getByLabelText(/^Columns/)).toBeInTheDocument();
  });

  it('shows a query saved without format as a time series', async () => {
    setup({ format: undefined });
    await catalogLoaded();
    expect(screen.getByLabelText('Time series')).toBeChecked();
    expect(screen.queryByText('This query does not run yet')).not.toBeInTheDocument();
  });

  it('keeps a filter being made out of the query until it has a dimension and a value', async () => {
    const { onChange, onRunQuery } = setup();
    await catalogLoaded();
    await userEvent.click(screen.getByRole('button', { name: /Add filter/ }));
    await userEvent.click(screen.getByRole('combobox', { name: 'Filter 1 dimension' }));
    await userEvent.click(await screen.findByRole('option', { name: /^channel/ }));
    expect(onChange).not.toHaveBeenCalled();
    expect(screen.queryByText('This query does not run yet')).not.toBeInTheDocument();

    await userEvent.click(screen.getByRole('combobox', { name: 'Filter 1 value' }));
    await userEvent.click(await screen.findByRole('option', { name: /^webchat/ }));
    expect(onChange).toHaveBeenCalledTimes(1);
    expect(onRunQuery).toHaveBeenCalledTimes(1);
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ filters: [{ dimension: 'channel', op: 'eq', value: 'webchat' }] }));
  });

  it('turns a list operator into an array value', async () => {
    const { onChange } = setup({ filters: [{ dimension: 'channel', op: 'eq', value: 'webchat' }] });
    await catalogLoaded();
    await userEvent.click(screen.getByRole('combobox', { name: 'Filter 1 operator' }));
    await userEvent.click(await screen.findByRole('option', { name: /not in/ }));
    expect(onChange).toHaveBeenLastCalledWith(
      expect.objectContaining({ filters: [{ dimension: 'channel', op: 'not_in', value: ['webchat'] }] })
    );
    expect(screen.getByRole('combobox', { name: 'Filter 1 values' })).toBeInTheDocument();
  });

  it('says why a query does not run apart from why the backend will refuse it, listing every reason', async () => {
    setup({ aggregation: 'p99', groupBy: ['botId'], filters: [{ dimension: 'channel', op: 'eq', value: '' }], limit: 0 });
    expect(await screen.findByText('The backend will refuse this query')).toBeInTheDocument();
    expect(screen.getByText('Orders created allows sum, count; not p99.')).toBeInTheDocument();
    expect(screen.getByText("'botId' is not a dimension of Orders created; use one of: channel, market.")).toBeInTheDocument();
    expect(screen.getByText('This query does not run yet')).toBeInTheDocument();
    expect(screen.getByText('Limit must be a whole number from 1 to 1000.')).toBeInTheDocument();
  });

  it('writes the legend template when the analyst is done typing', async () => {
    const { onChange, onRunQuery } = setup({ groupBy: ['channel'] });
    await catalogLoaded();
    await userEvent.type(screen.getByLabelText(/^Legend/), '{{{{channel}} sum{Enter}');
    expect(onChange).toHaveBeenCalledTimes(1);
    expect(onRunQuery).toHaveBeenCalledTimes(1);
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ legend: '{{channel}} sum' }));
  });

  it('turns on a rolling window for alert rules on the last N minutes, and drops it when turned off', async () => {
    const { onChange } = setup({ format: 'timeseries' });
    await catalogLoaded();
    await userEvent.click(screen.getByLabelText(/^Rolling window/));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ rolling: true }));
    await userEvent.click(screen.getByLabelText(/^Rolling window/));
    expect(onChange.mock.calls.at(-1)[0].rolling).toBeUndefined();
  });

  it('keeps format and comparison through Live on and off', async () => {
    const { onChange } = setup({ compareToPrevious: true, format: 'timeseries' });
    await catalogLoaded();
    await userEvent.click(screen.getByLabelText(/^Live/));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ live: true, compareToPrevious: true, format: 'timeseries' }));
    expect(screen.queryByLabelText(/^Compare to previous period/)).not.toBeInTheDocument();
    await userEvent.click(screen.getByLabelText(/^Live/));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ live: false, compareToPrevious: true, format: 'timeseries' }));
    expect(screen.getByLabelText(/^Compare to previous period/)).toBeChecked();
  });

  it('flags a filter value the backend has not seen, since values are case-sensitive', async () => {
    setup({ filters: [{ dimension: 'channel', op: 'eq', value: 'Webchat' }] });
    await catalogLoaded();
    expect(
      await screen.findByText("'Webchat' not seen for channel in the last 30 days; values are case-sensitive. Known: email, webchat.")
    ).toBeInTheDocument();
  });

  it('moves a default query to a metric the catalog has', async () => {
    const catalog = { sources: CATALOG.sources, metrics: CATALOG.metrics.slice(1) };
    const { onChange } = setup({}, () => ({ body: catalog }));
    await waitFor(() =>
      expect(onChange).toHaveBeenCalledWith(expect.objectContaining({ metric: 'bot_response_time', aggregation: 'p95' }))
    );
  });

  it('shows the error of the Go component and links an API key problem to the data source settings', async () => {
    setup({}, () => ({ status: 502, body: { error: 'the Metrics Hub backend rejected the API key (HTTP 401: invalid key)' } }));
    expect(await screen.findByText('Cannot load the Metrics Hub catalog')).toBeInTheDocument();
    expect(screen.getByRole('link', { name: /data source settings/ })).toHaveAttribute('href', '/connections/datasources/edit/metricshub');
  });
});
