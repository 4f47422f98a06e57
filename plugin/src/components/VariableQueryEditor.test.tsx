import React from 'react';
import { act, render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';

import { installBackendSrv } from '../test/backendSrv';
import { CATALOG, RESOURCES, createDataSource } from '../test/fixtures';
import { installTemplateSrv } from '../test/templateSrv';
import { MetricsHubVariableQuery } from '../types';
import { VariableQueryEditor } from './VariableQueryEditor';

function setup(query: MetricsHubVariableQuery) {
  installBackendSrv({ [`GET ${RESOURCES}/catalog`]: () => ({ body: CATALOG }) });
  const onChange = jest.fn();
  const datasource = createDataSource();
  render(<VariableQueryEditor query={query} datasource={datasource} onChange={onChange} onRunQuery={jest.fn()} />);
  return { onChange, datasource };
}

describe('VariableQueryEditor', () => {
  beforeEach(() => installTemplateSrv([]));

  it('switches to dimension values and keeps only the fields that kind uses', async () => {
    const { onChange } = setup({ refId: 'v', query: 'metrics', source: 'events' });
    await userEvent.click(screen.getByLabelText('Dimension values'));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'v', query: 'dimension_values', metric: undefined, dimension: undefined });
  });

  it('offers the dimensions of the chosen metric', async () => {
    const { onChange } = setup({ refId: 'v', query: 'dimension_values', metric: 'bot_response_time' });
    await waitFor(() => expect(screen.getByLabelText('Metric')).toHaveValue('Bot response time'));
    await userEvent.click(screen.getByLabelText('Dimension'));
    const options = await screen.findAllByRole('option');
    expect(options.map((o) => o.textContent)).toEqual(['botId']);
    await userEvent.click(options[0]);
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'v', query: 'dimension_values', metric: 'bot_response_time', dimension: 'botId' });
  });

  it('says what a dimension values query still needs', async () => {
    const { datasource } = setup({ refId: 'v', query: 'dimension_values' });
    expect(screen.getByText('Choose a metric and one of its dimensions.')).toBeInTheDocument();
    // Let the editor take in the catalog before the test ends.
    await act(() => datasource.getCatalog());
  });
});
