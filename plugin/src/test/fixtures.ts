import { DataSourceInstanceSettings, DataSourceSettings, PluginType } from '@grafana/data';

import { DataSource } from '../datasource';
import { Catalog, MetricsHubOptions, MetricsHubSecureJsonData } from '../types';

export const DATASOURCE_UID = 'metricshub';
export const RESOURCES = `/api/datasources/uid/${DATASOURCE_UID}/resources`;

/** A catalog in the shape of GET /api/v1/catalog, small enough to read at a glance. */
export const CATALOG: Catalog = {
  sources: [
    { id: 'events', type: 'events', label: 'Events', status: 'up', latencyMs: 2, lastError: null },
    { id: 'crm', type: 'postgres', label: 'CRM', status: 'down', latencyMs: null, lastError: 'connection refused' },
  ],
  metrics: [
    {
      key: 'orders_created',
      label: 'Orders created',
      description: 'Orders placed in the shop',
      unit: 'short',
      source: 'events',
      kind: 'counter',
      aggregations: ['sum', 'count'],
      defaultAggregation: 'sum',
      dimensions: ['channel', 'market'],
    },
    {
      key: 'bot_response_time',
      label: 'Bot response time',
      description: 'Time a bot takes to answer',
      unit: 'ms',
      source: 'events',
      kind: 'distribution',
      aggregations: ['avg', 'p50', 'p95', 'p99'],
      defaultAggregation: 'p95',
      dimensions: ['botId'],
    },
    {
      key: 'deals_won',
      label: 'Deals won',
      source: 'crm',
      kind: 'counter',
      aggregations: ['count'],
      defaultAggregation: 'count',
      dimensions: ['owner'],
    },
  ],
};

export function instanceSettings(): DataSourceInstanceSettings<MetricsHubOptions> {
  return {
    id: 1,
    uid: DATASOURCE_UID,
    type: 'metricshub-metrics-datasource',
    name: 'Metrics Hub',
    access: 'proxy',
    readOnly: false,
    url: 'http://metrics-hub:8080',
    jsonData: { timeout: 30 },
    meta: {
      id: 'metricshub-metrics-datasource',
      name: 'Metrics Hub',
      type: PluginType.datasource,
      module: 'public/plugins/metricshub-metrics-datasource/module.js',
      baseUrl: 'public/plugins/metricshub-metrics-datasource',
      info: {
        author: { name: 'Metrics Hub' },
        description: '',
        links: [],
        logos: { small: '', large: '' },
        screenshots: [],
        updated: '',
        version: '0.1.0',
      },
    },
  };
}

export function createDataSource(): DataSource {
  return new DataSource(instanceSettings());
}

/** The settings Grafana hands the config editor for a data source saved with a URL. */
export function dataSourceSettings(): DataSourceSettings<MetricsHubOptions, MetricsHubSecureJsonData> {
  return {
    id: 1,
    uid: DATASOURCE_UID,
    orgId: 1,
    name: 'Metrics Hub',
    type: 'metricshub-metrics-datasource',
    typeName: 'Metrics Hub',
    typeLogoUrl: '',
    access: 'proxy',
    url: 'http://metrics-hub:8080',
    user: '',
    database: '',
    basicAuth: false,
    basicAuthUser: '',
    isDefault: false,
    readOnly: false,
    withCredentials: false,
    jsonData: {},
    secureJsonFields: {},
  };
}
