import React from 'react';
import { DataSourceSettings } from '@grafana/data';
import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';

import { dataSourceSettings } from '../test/fixtures';
import { MetricsHubOptions, MetricsHubSecureJsonData } from '../types';
import { ConfigEditor } from './ConfigEditor';

type Settings = DataSourceSettings<MetricsHubOptions, MetricsHubSecureJsonData>;

const settings = (changes: Partial<Settings> = {}) => ({ ...dataSourceSettings(), ...changes });

// Renders the editor the way Grafana does: every change becomes the next props.
function ControlledEditor({ initial, onSaved }: { initial: Settings; onSaved: (s: Settings) => void }) {
  const [options, setOptions] = React.useState(initial);
  return (
    <ConfigEditor
      options={options}
      onOptionsChange={(next) => {
        setOptions(next);
        onSaved(next);
      }}
    />
  );
}

describe('ConfigEditor', () => {
  it('stores the API key in secureJsonData only', async () => {
    const onSaved = jest.fn();
    render(<ControlledEditor initial={settings()} onSaved={onSaved} />);

    await userEvent.type(screen.getByLabelText(/^API key/), 'mh_secret');

    const last: Settings = onSaved.mock.lastCall[0];
    expect(last.secureJsonData).toEqual({ apiKey: 'mh_secret' });
    expect(JSON.stringify(last.jsonData)).not.toContain('mh_secret');
  });

  it('shows a saved key as configured without its value, and a reset clears it', async () => {
    const onSaved = jest.fn();
    render(<ControlledEditor initial={settings({ secureJsonFields: { apiKey: true } })} onSaved={onSaved} />);

    const input = screen.getByLabelText(/^API key/);
    expect(input).toBeDisabled();
    expect(input).toHaveValue('configured');

    await userEvent.click(screen.getByRole('button', { name: 'Reset' }));
    const last: Settings = onSaved.mock.lastCall[0];
    expect(last.secureJsonFields.apiKey).toBe(false);
    expect(last.secureJsonData).toEqual({ apiKey: '' });
    expect(screen.getByLabelText(/^API key/)).toBeEnabled();
  });

  it('stores the URL in the standard url field, not in jsonData', async () => {
    const onSaved = jest.fn();
    render(<ControlledEditor initial={settings({ url: '', jsonData: {} })} onSaved={onSaved} />);

    await userEvent.type(screen.getByRole('textbox', { name: /URL/ }), 'http://mh:8080');

    const last: Settings = onSaved.mock.lastCall[0];
    expect(last.url).toBe('http://mh:8080');
    expect(last.jsonData.url).toBeUndefined();
  });

  it('moves the URL and timeout of a data source saved before 0.2 to the standard fields', async () => {
    const onSaved = jest.fn();
    render(<ControlledEditor initial={settings({ url: '', jsonData: { url: 'http://old:8080', timeoutSeconds: 15 } })} onSaved={onSaved} />);

    await waitFor(() => expect(onSaved).toHaveBeenCalled());
    const last: Settings = onSaved.mock.lastCall[0];
    expect(last.url).toBe('http://old:8080');
    expect(last.jsonData).toEqual({ timeout: 15 });
    expect(screen.getByRole('textbox', { name: /URL/ })).toHaveValue('http://old:8080');
  });

  it('offers Grafana\'s standard authentication and HTTP settings', () => {
    render(<ControlledEditor initial={settings()} onSaved={jest.fn()} />);
    expect(screen.getByText('Authentication')).toBeInTheDocument();
    expect(screen.getByText('Additional settings')).toBeInTheDocument();
  });
});

describe('ConfigEditor for a new data source', () => {
  it('shows no error before anything is typed and suggests the backend port 4100', () => {
    render(<ControlledEditor initial={settings({ jsonData: {} })} onSaved={jest.fn()} />);
    expect(screen.getByRole('textbox', { name: /URL/ })).toHaveAttribute('placeholder', 'http://metrics-hub:4100');
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
    expect(screen.queryByText(/not a valid URL|must start with|is required/i)).not.toBeInTheDocument();
  });
});
