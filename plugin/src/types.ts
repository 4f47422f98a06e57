import { DataSourceJsonData } from '@grafana/data';
import { DataQuery } from '@grafana/schema';

/** Aggregations the backend knows; each metric allows a subset (see the catalog). */
export const AGGREGATIONS = ['sum', 'count', 'avg', 'min', 'max', 'p50', 'p90', 'p95', 'p99', 'rate', 'distinct'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

export const FORMATS = ['timeseries', 'table', 'kpi', 'list'] as const;
export type QueryFormat = (typeof FORMATS)[number];

/** A saved query without a format runs as a time series, in the editor as in the Go component. */
export const DEFAULT_FORMAT: QueryFormat = 'timeseries';

/** Bounds of `limit` (table top-N and list format), as the backend checks them. */
export const LIMIT_MIN = 1;
export const LIMIT_MAX = 1000;
/** Rows the list format returns when the query names no limit. */
export const DEFAULT_LIST_LIMIT = 50;

export const ORDER_DIRECTIONS = ['asc', 'desc'] as const;
export type OrderDirection = (typeof ORDER_DIRECTIONS)[number];

/** Table top-N: sort rows by the value or by one of the query's group-by dimensions. */
export interface QueryOrderBy {
  by: string;
  direction: OrderDirection;
}

export const FILTER_OPS = ['eq', 'neq', 'in', 'not_in'] as const;
export type FilterOp = (typeof FILTER_OPS)[number];

/** Restricts a query to some values of one dimension: a string for eq/neq, a list for in/not_in. */
export interface QueryFilter {
  dimension: string;
  op: FilterOp;
  value: string | string[];
}

/** Marks the query an annotation runs, so the data source fetches anomalies instead of series. */
export const ANNOTATIONS_QUERY_TYPE = 'annotations';

export const SEVERITIES = ['warning', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/**
 * One Metrics Hub query as the query editor writes it (docs/api.md, "The query model").
 * Text fields may hold template variables, so they are plain strings until interpolated.
 */
export interface MetricsHubQuery extends DataQuery {
  source?: string;
  metric?: string;
  aggregation?: string;
  groupBy?: string[];
  filters?: QueryFilter[];
  format?: QueryFormat;
  compareToPrevious?: boolean;
  live?: boolean;
  /**
   * The metric over exactly the panel's or alert rule's range, to the millisecond, from raw
   * events: one point per series at the range's end (time series and tables, at most 24 h).
   */
  rolling?: boolean;
  /** Series names from a label template such as `{{botId}} p95` (time series only). */
  legend?: string;
  /** Table only: sort by "value" or a group-by dimension; with limit, the top N rows. */
  orderBy?: QueryOrderBy;
  /** Table and list: at most this many rows (LIMIT_MIN..LIMIT_MAX). */
  limit?: number;
  /** List only: the event attributes to show beside the time. */
  columns?: string[];
  /** Annotation queries only: keep alerts of this severity. */
  severity?: string;
  /** Version of the query model it was saved with (query/migrate.ts); absent before version 2. */
  version?: number;
}

/** A new panel shows orders at once: the built-in events source and its busiest metric. */
export const DEFAULT_QUERY: Partial<MetricsHubQuery> = {
  source: 'events',
  metric: 'orders_created',
  aggregation: 'sum',
  groupBy: [],
  filters: [],
  format: 'timeseries',
  compareToPrevious: false,
  live: false,
  version: 2,
};

/**
 * Settings stored in plain jsonData; Grafana sends them to the browser. The URL
 * lives in the data source's standard `url`, the HTTP settings (timeout, TLS,
 * headers...) in the standard jsonData fields @grafana/plugin-ui edits.
 */
export interface MetricsHubOptions extends DataSourceJsonData {
  /** Seconds one backend request may take (Grafana's standard HTTP setting). */
  timeout?: number;
  /** Before 0.2: the URL. Moved to the standard `url` by migrateSettings. */
  url?: string;
  /** Before 0.2: the timeout. Moved to `timeout` by migrateSettings. */
  timeoutSeconds?: number;
}

/** Settings Grafana keeps encrypted and hands only to the Go component. */
export interface MetricsHubSecureJsonData {
  apiKey?: string;
}

/** GET /api/v1/catalog */
export interface CatalogSource {
  id: string;
  type: string;
  label: string;
  status: string;
  latencyMs?: number | null;
  lastError?: string | null;
  /** When the source last answered (ISO time), null when it has not since the backend started. */
  lastSuccessAt?: string | null;
}

export interface CatalogMetric {
  key: string;
  label: string;
  description?: string;
  unit?: string;
  source: string;
  kind?: string;
  aggregations: string[];
  defaultAggregation: string;
  dimensions: string[];
  /** Present on list-friendly metrics: the default columns of format 'list'. */
  listColumns?: string[];
}

export interface Catalog {
  sources: CatalogSource[];
  metrics: CatalogMetric[];
}

/** The variable query model; the same shape as the body of POST /api/v1/variables. */
export const VARIABLE_QUERY_KINDS = ['metrics', 'sources', 'dimensions', 'dimension_values'] as const;
export type VariableQueryKind = (typeof VARIABLE_QUERY_KINDS)[number];

export interface MetricsHubVariableQuery extends DataQuery {
  query: VariableQueryKind;
  source?: string;
  metric?: string;
  dimension?: string;
}

/** One answer item of POST /api/v1/variables. */
export interface VariableValue {
  text: string;
  value: string;
}
