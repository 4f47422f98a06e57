import { DataSourceJsonData } from '@grafana/data';
import { DataQuery } from '@grafana/schema';

/** Aggregations the backend knows; each metric allows a subset (see the catalog). */
export const AGGREGATIONS = ['sum', 'count', 'avg', 'min', 'max', 'p50', 'p90', 'p95', 'p99', 'rate'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

export const FORMATS = ['timeseries', 'table', 'kpi', 'list'] as const;
/** format 'list': the backend's cap and default for `limit`. */
export const LIST_MAX_LIMIT = 1000;
export const LIST_DEFAULT_LIMIT = 50;
export type QueryFormat = (typeof FORMATS)[number];

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
  /** format 'list' only: how many events (1..1000, default 50). */
  limit?: number;
  /** format 'list' only: event attributes shown as columns (default: the metric's listColumns, else its dimensions). */
  columns?: string[];
  live?: boolean;
  /** Annotation queries only: keep alerts of this severity. */
  severity?: string;
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
};

/** Settings stored in plain jsonData; Grafana sends them to the browser. */
export interface MetricsHubOptions extends DataSourceJsonData {
  url?: string;
  timeoutSeconds?: number;
}

export const DEFAULT_TIMEOUT_SECONDS = 30;

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

/** One item of GET /api/v1/annotations: an alert transition. */
export interface BackendAnnotation {
  time: number;
  timeEnd?: number | null;
  title: string;
  text: string;
  tags?: string[];
  metric?: string;
  severity?: string;
  rule?: string;
  state?: string;
}
