import React, { ChangeEvent, useState } from 'react';
import { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import { InlineField, Input, SecretInput } from '@grafana/ui';

import { DEFAULT_TIMEOUT_SECONDS, MetricsHubOptions, MetricsHubSecureJsonData } from '../types';

type Props = DataSourcePluginOptionsEditorProps<MetricsHubOptions, MetricsHubSecureJsonData>;

const LABEL_WIDTH = 20;

const EXAMPLE_URL = 'http://metrics-hub:4100';

/** No error before anything is typed: an empty URL of a new data source is not a mistake yet. */
function urlProblem(url?: string): string | undefined {
  if (!url) {
    return undefined;
  }
  try {
    const { protocol } = new URL(url);
    return protocol === 'http:' || protocol === 'https:' ? undefined : 'The URL must start with http:// or https://';
  } catch {
    return 'This is not a valid URL';
  }
}

function timeoutProblem(text: string): string | undefined {
  if (text.trim() === '') {
    return undefined;
  }
  const seconds = Number(text);
  return Number.isInteger(seconds) && seconds >= 1 ? undefined : 'The timeout must be a whole number of seconds, at least 1 second';
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

  // What is typed stays in the box; only a valid timeout (or none: the default) reaches jsonData.
  const [timeoutText, setTimeoutText] = useState(jsonData.timeoutSeconds === undefined ? '' : String(jsonData.timeoutSeconds));
  const timeoutError = timeoutProblem(timeoutText);
  const onTimeoutChange = (event: ChangeEvent<HTMLInputElement>) => {
    const text = event.target.value;
    setTimeoutText(text);
    if (!timeoutProblem(text)) {
      setJsonData({ timeoutSeconds: text.trim() === '' ? undefined : Number(text) });
    }
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
          placeholder={EXAMPLE_URL}
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
      <InlineField
        label="Timeout (seconds)"
        labelWidth={LABEL_WIDTH}
        htmlFor="mh-timeout"
        invalid={Boolean(timeoutError)}
        error={timeoutError}
        tooltip={`How long one request to the backend may take before it fails; empty means ${DEFAULT_TIMEOUT_SECONDS} seconds`}
      >
        <Input
          id="mh-timeout"
          type="number"
          min={1}
          width={12}
          value={timeoutText}
          placeholder={String(DEFAULT_TIMEOUT_SECONDS)}
          onChange={onTimeoutChange}
        />
      </InlineField>
    </>
  );
}
