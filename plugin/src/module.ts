import { DataSourcePlugin } from '@grafana/data';

import { ConfigEditor } from './components/ConfigEditor';
import { QueryEditor } from './components/QueryEditor';
import { DataSource } from './datasource';
import { MetricsHubOptions, MetricsHubQuery, MetricsHubSecureJsonData } from './types';

export const plugin = new DataSourcePlugin<DataSource, MetricsHubQuery, MetricsHubOptions, MetricsHubSecureJsonData>(DataSource)
  .setConfigEditor(ConfigEditor)
  .setQueryEditor(QueryEditor);
