import React, { ChangeEvent, useEffect } from 'react';
import { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import {
  AdvancedHttpSettings,
  Auth,
  ConfigSection,
  ConnectionSettings,
  DataSourceDescription,
  SecureSocksProxyToggle,
  convertLegacyAuthProps,
} from '@grafana/plugin-ui';
import { config } from '@grafana/runtime';
import { Divider, Field, SecretInput } from '@grafana/ui';

import { migrateSettings } from '../settings';
import { MetricsHubOptions, MetricsHubSecureJsonData } from '../types';

type Props = DataSourcePluginOptionsEditorProps<MetricsHubOptions, MetricsHubSecureJsonData>;

const DOCS = 'https://github.com/metricshub/metricshub-datasource/blob/main/plugin/README.md';

/**
 * Grafana's standard connection, authentication and HTTP settings (the same
 * components as Grafana's own HTTP data sources), read by the Go component with
 * settings.HTTPClientOptions; then the Metrics Hub API key, which goes to
 * secureJsonData only: Grafana encrypts it, never sends it back to the browser,
 * and hands it to the Go component alone.
 */
export function ConfigEditor({ options, onOptionsChange }: Props) {
  const { secureJsonFields, secureJsonData } = options;

  // Data sources saved before 0.2 kept the URL and timeout in jsonData.
  useEffect(() => {
    const migrated = migrateSettings(options);
    if (migrated) {
      onOptionsChange(migrated);
    }
  }, [options, onOptionsChange]);

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
      <DataSourceDescription dataSourceName="Metrics Hub" docsLink={DOCS} hasRequiredFields />
      <Divider />
      <ConnectionSettings
        config={options}
        onChange={onOptionsChange}
        urlPlaceholder="http://metrics-hub:4100"
        urlTooltip="Where Grafana's server reaches the Metrics Hub backend; the browser never calls it directly"
      />
      <Divider />
      <ConfigSection title="Metrics Hub API key" description="A read key of the organization whose metrics this data source shows.">
        <Field label="API key" required>
          <SecretInput
            id="mh-api-key"
            width={40}
            isConfigured={Boolean(secureJsonFields?.apiKey)}
            value={secureJsonData?.apiKey ?? ''}
            placeholder="mh_..."
            onChange={onApiKeyChange}
            onReset={onApiKeyReset}
          />
        </Field>
      </ConfigSection>
      <Divider />
      <Auth {...convertLegacyAuthProps({ config: options, onChange: onOptionsChange })} />
      <Divider />
      <ConfigSection title="Additional settings" isCollapsible isInitiallyOpen={false}>
        <AdvancedHttpSettings config={options} onChange={onOptionsChange} />
        {config.secureSocksDSProxyEnabled && (
          <SecureSocksProxyToggle dataSourceConfig={options} onChange={onOptionsChange} labelWidth={26} />
        )}
      </ConfigSection>
    </>
  );
}
