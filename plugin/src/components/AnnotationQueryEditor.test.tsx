import React from 'react';
import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';

import { installBackendSrv } from '../test/backendSrv';
import { CATALOG, RESOURCES, createDataSource } from '../test/fixtures';
import { installTemplateSrv } from '../test/templateSrv';
import { ANNOTATIONS_QUERY_TYPE, MetricsHubQuery } from '../types';
import { AnnotationQueryEditor } from './AnnotationQueryEditor';

describe('AnnotationQueryEditor', () => {
  it('filters anomalies by a catalog metric and a severity', async () => {
    installTemplateSrv([]);
    installBackendSrv({ [`GET ${RESOURCES}/catalog`]: () => ({ body: CATALOG }) });
    const query: MetricsHubQuery = { refId: 'Anno', queryType: ANNOTATIONS_QUERY_TYPE };
    const onChange = jest.fn();
    render(<AnnotationQueryEditor query={query} datasource={createDataSource()} onChange={onChange} onRunQuery={jest.fn()} />);

    await userEvent.click(screen.getByLabelText('Metric'));
    await waitFor(() => expect(screen.getAllByRole('option').map((o) => o.textContent)).toEqual(
      expect.arrayContaining([expect.stringContaining('Orders created'), expect.stringContaining('Deals won')])
    ));
    await userEvent.click(screen.getByRole('option', { name: /Orders created/ }));
    expect(onChange).toHaveBeenLastCalledWith({ ...query, metric: 'orders_created' });

    await userEvent.click(screen.getByLabelText('Severity'));
    await userEvent.click(await screen.findByRole('option', { name: 'critical' }));
    expect(onChange).toHaveBeenLastCalledWith({ ...query, severity: 'critical' });
  });
});
