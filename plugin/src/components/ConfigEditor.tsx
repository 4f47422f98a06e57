import React, { ChangeEvent } from 'react';
import { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import { InlineField, Input, SecretInput } from '@grafana/ui';

import { DEFAULT_TIMEOUT_SECONDS, MetricsHubOptions, MetricsHubSecureJsonData } from '../types';

type Props = DataSourcePluginOptionsEditorProps<MetricsHubOptions, MetricsHubSecureJsonData>;

const LABEL_WIDTH = 20;

function urlProblem(url?: string): string | undefined {
  if (!url) {
    return 'Enter the URL of the Metrics Hub backend, for example http://metrics-hub:8080';
  }
  try {
    const { protocol } = new URL(url);
    return protocol === 'http:' || protocol === 'https:' ? undefined : 'The URL must start with http:// or https://';
  } catch {
    return 'This is not a valid URL';
  }
}

/**
 * The API key goes to secureJsonData only: Grafana encrypts it, never sends it
 * back to the browser, and hands it to the Go component alone.
 */
export function ConfigEditor({ options, onOptionsChange }: Props) {
  const { jsonData, secureJsonFields, secureJsonData } = options;
  const urlError = urlProblem(jsonData.url);

  const setJsonData = (changes: Partial<MetricsHubOptions>) =>
    onOptionsChange({ ...options, jsonData: { ...jsonData, ...changes } });

  const onTimeoutChange = (event: ChangeEvent<HTMLInputElement>) => {
    const seconds = Number.parseInt(event.target.value, 10);
    setJsonData({ timeoutSeconds: Number.isFinite(seconds) && seconds > 0 ? seconds : undefined });
  };

  const onApiKeyChange = (event: ChangeEvent<HTMLInputElement>) =>
    onOptionsChange({ ...options, secureJsonData: { ...secureJsonData, apiKey: event.target.value } });

  const onApiKeyReset = () =>
    onOptionsChange({
      ...options,
      secureJsonFields: { ...secureJsonFields, apiKey: false },
      secureJsonData: { ...secureJsonData, apiKey: '' },
    });

  return (
    <>
      <InlineField
        label="URL"
        labelWidth={LABEL_WIDTH}
        htmlFor="mh-url"
        invalid={Boolean(urlError)}
        error={urlError}
        tooltip="Where Grafana's server reaches the Metrics Hub backend; the browser never calls it directly"
      >
        <Input
          id="mh-url"
          width={40}
          value={jsonData.url ?? ''}
          placeholder="http://metrics-hub:8080"
          onChange={(e) => setJsonData({ url: e.currentTarget.value.trim() })}
        />
      </InlineField>
      <InlineField label="API key" labelWidth={LABEL_WIDTH} htmlFor="mh-api-key" tooltip="A key of the organization whose metrics this data source shows">
        <SecretInput
          id="mh-api-key"
          width={40}
          isConfigured={Boolean(secureJsonFields?.apiKey)}
          value={secureJsonData?.apiKey ?? ''}
          placeholder="mh_..."
          onChange={onApiKeyChange}
          onReset={onApiKeyReset}
        />
      </InlineField>
      <InlineField label="Timeout (seconds)" labelWidth={LABEL_WIDTH} htmlFor="mh-timeout" tooltip="How long one request to the backend may take before it fails">
        <Input
          id="mh-timeout"
          type="number"
          min={1}
          width={12}
          value={jsonData.timeoutSeconds ?? ''}
          placeholder={String(DEFAULT_TIMEOUT_SECONDS)}
          onChange={onTimeoutChange}
        />
      </InlineField>
    </>
  );
}
