import type { Builder, Dataquery } from '@grafana/grafana-foundation-sdk/cog';
import type { DataSourceRef } from '@grafana/grafana-foundation-sdk/common';

/** The data source every generated panel, variable and alert rule uses; provisioning declares the same uid. */
export const DATASOURCE: Required<DataSourceRef> = { type: 'metricshub-metrics-datasource', uid: 'metricshub' };

export type Aggregation = 'sum' | 'count' | 'avg' | 'min' | 'max' | 'p50' | 'p90' | 'p95' | 'p99' | 'rate' | 'distinct';
export type QueryFormat = 'timeseries' | 'table' | 'kpi' | 'list';

export interface QueryFilter {
  dimension: string;
  op: 'eq' | 'neq' | 'in' | 'not_in';
  value: string | string[];
}

/**
 * One Metrics Hub query as the plugin's query editor writes it (docs/api.md,
 * "The query model"), so a generated panel opens in the editor unchanged.
 */
export interface MetricsHubQuery extends Dataquery {
  refId: string;
  datasource: DataSourceRef;
  source: string;
  metric: string;
  aggregation: Aggregation;
  groupBy: string[];
  filters: QueryFilter[];
  format: QueryFormat;
  compareToPrevious?: boolean;
  live?: boolean;
  /** What an anomaly rule of the metric judges (docs/api.md, "Bands"). */
  band?: string;
  bandField?: BandField;
  /** The metric over exactly the query's range, from raw events (docs/api.md, "Rolling windows"). */
  rolling?: boolean;
  /** format 'list' only: how many events and which attributes as columns. */
  limit?: number;
  columns?: string[];
}

export type BandField = 'expected' | 'lower' | 'upper' | 'score';

export interface QueryOptions {
  aggregation?: Aggregation;
  groupBy?: string[];
  filters?: QueryFilter[];
  format?: QueryFormat;
  compareToPrevious?: boolean;
  live?: boolean;
  band?: string;
  bandField?: BandField;
  rolling?: boolean;
  limit?: number;
  columns?: string[];
  refId?: string;
}

/** Builds a Metrics Hub query; `resolve` has already checked it against the catalog. */
export class MetricsHubQueryBuilder implements Builder<Dataquery> {
  private readonly internal: MetricsHubQuery;

  constructor(source: string, metric: string, aggregation: Aggregation, options: QueryOptions = {}) {
    this.internal = {
      refId: options.refId ?? 'A',
      datasource: DATASOURCE,
      source,
      metric,
      aggregation,
      groupBy: options.groupBy ?? [],
      filters: options.filters ?? [],
      format: options.format ?? 'timeseries',
      ...(options.compareToPrevious ? { compareToPrevious: true } : {}),
      ...(options.live ? { live: true } : {}),
      ...(options.band ? { band: options.band } : {}),
      ...(options.bandField ? { bandField: options.bandField } : {}),
      ...(options.rolling ? { rolling: true } : {}),
      ...(options.limit !== undefined ? { limit: options.limit } : {}),
      ...(options.columns ? { columns: options.columns } : {}),
      _implementsDataqueryVariant() {},
    };
  }

  refId(refId: string): this {
    this.internal.refId = refId;
    return this;
  }

  build(): MetricsHubQuery {
    return this.internal;
  }
}

/** The query type the plugin routes to GET /api/v1/annotations (plugin/src/types.ts, ANNOTATIONS_QUERY_TYPE). */
export const ANNOTATIONS_QUERY_TYPE = 'annotations';

export interface AnomalyQuery extends Dataquery {
  refId: string;
  datasource: DataSourceRef;
  queryType: typeof ANNOTATIONS_QUERY_TYPE;
  metric?: string;
  severity?: 'warning' | 'critical';
}

/** Anomalies the backend detected, as annotations or as rows of a table panel. */
export class AnomalyQueryBuilder implements Builder<Dataquery> {
  private readonly internal: AnomalyQuery;

  constructor(options: { metric?: string; severity?: 'warning' | 'critical'; refId?: string } = {}) {
    this.internal = {
      refId: options.refId ?? 'Anomalies',
      datasource: DATASOURCE,
      queryType: ANNOTATIONS_QUERY_TYPE,
      ...(options.metric ? { metric: options.metric } : {}),
      ...(options.severity ? { severity: options.severity } : {}),
      _implementsDataqueryVariant() {},
    };
  }

  build(): AnomalyQuery {
    return this.internal;
  }
}

/** The variable query model (plugin/src/types.ts, MetricsHubVariableQuery): the body of POST /api/v1/variables. */
export interface VariableQuery {
  refId: string;
  query: 'metrics' | 'sources' | 'dimensions' | 'dimension_values';
  source?: string;
  metric?: string;
  dimension?: string;
}
