import { DataSourceSettings } from '@grafana/data';

import { MetricsHubOptions, MetricsHubSecureJsonData } from './types';

type Settings = DataSourceSettings<MetricsHubOptions, MetricsHubSecureJsonData>;

/**
 * Moves the settings of data sources saved before 0.2 to Grafana's standard
 * fields: jsonData.url to `url`, jsonData.timeoutSeconds to jsonData.timeout.
 * Returns undefined when there is nothing to move. A value already in the
 * standard field wins. The Go component reads both until the next save.
 */
export function migrateSettings(settings: Settings): Settings | undefined {
  const { url: legacyUrl, timeoutSeconds, ...jsonData } = settings.jsonData;
  if (legacyUrl === undefined && timeoutSeconds === undefined) {
    return undefined;
  }
  if (jsonData.timeout === undefined && typeof timeoutSeconds === 'number' && timeoutSeconds > 0) {
    jsonData.timeout = timeoutSeconds;
  }
  return { ...settings, url: settings.url || (legacyUrl ?? '').trim(), jsonData };
}
