import {
  AdHocVariableFilter,
  CoreApp,
  DataQueryRequest,
  DataQueryResponse,
  DataSourceGetTagKeysOptions,
  DataSourceGetTagValuesOptions,
  DataSourceInstanceSettings,
  LegacyMetricFindQueryOptions,
  MetricFindValue,
  ScopedVars,
} from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv } from '@grafana/runtime';
import { Observable, from, map, merge, mergeMap } from 'rxjs';

import { annotationSupport, isAnnotationQuery } from './annotations';
import { liveStream } from './live';
import { adHocFilters } from './query/adhoc';
import { queryDisplayText } from './query/displayText';
import { interpolateQuery } from './query/interpolate';
import { migrateQuery } from './query/migrate';
import { withLegends } from './query/legend';
import { queryProblems } from './query/validate';
import {
  Catalog,
  DEFAULT_QUERY,
  MetricsHubOptions,
  MetricsHubQuery,
  MetricsHubVariableQuery,
  VariableValue,
} from './types';
import { MetricsHubVariableSupport } from './variableSupport';
import { parseVariableQuery, toMetricFindValues, variableQueryProblem } from './variables';

/** How many metrics sharing a dimension are asked for its values (ad hoc filters). */
const TAG_VALUE_METRICS = 5;

/**
 * The Metrics Hub data source in the browser. Range and annotation queries go
 * through Grafana's server to the Go component (so alerting, public dashboards
 * and reports see the same answers, and the API key never reaches the browser);
 * the catalog and variables are resource calls the Go component forwards; live
 * queries subscribe to Grafana Live. Every saved query is migrated to the
 * current model (query/migrate.ts) before use.
 */
export class DataSource extends DataSourceWithBackend<MetricsHubQuery, MetricsHubOptions> {
  private catalog?: Promise<Catalog>;
  /** The catalog once loaded: ad hoc filters apply only to the dimensions of each query's metric. */
  private loadedCatalog?: Catalog;

  constructor(instanceSettings: DataSourceInstanceSettings<MetricsHubOptions>) {
    super(instanceSettings);
    this.annotations = annotationSupport;
    this.variables = new MetricsHubVariableSupport(this);
  }

  getDefaultQuery(_: CoreApp): Partial<MetricsHubQuery> {
    return DEFAULT_QUERY;
  }

  /** Grafana skips queries this rejects; the query editor shows the same reasons. */
  filterQuery(query: MetricsHubQuery): boolean {
    if (query.hide) {
      return false;
    }
    return isAnnotationQuery(query) || queryProblems(migrateQuery(query)).length === 0;
  }

  /** Template variables, then the dashboard's ad hoc filters on the dimensions the query's metric has. */
  applyTemplateVariables(query: MetricsHubQuery, scopedVars: ScopedVars, filters?: AdHocVariableFilter[]): MetricsHubQuery {
    const interpolated = interpolateQuery(migrateQuery(query), scopedVars, getTemplateSrv());
    if (isAnnotationQuery(interpolated) || !filters?.length) {
      return interpolated;
    }
    const dimensions = this.loadedCatalog?.metrics.find((m) => m.key === interpolated.metric)?.dimensions;
    return { ...interpolated, filters: [...(interpolated.filters ?? []), ...adHocFilters(filters, dimensions)] };
  }

  /** Explore's "copy to another data source" and mixed queries: the queries with their variables resolved. */
  interpolateVariablesInQueries(queries: MetricsHubQuery[], scopedVars: ScopedVars, filters?: AdHocVariableFilter[]): MetricsHubQuery[] {
    return queries.map((query) => ({ ...this.applyTemplateVariables(query, scopedVars, filters), datasource: this.getRef() }));
  }

  getQueryDisplayText(query: MetricsHubQuery): string {
    return queryDisplayText(migrateQuery(query));
  }

  query(request: DataQueryRequest<MetricsHubQuery>): Observable<DataQueryResponse> {
    const targets = request.targets.map(migrateQuery);
    const live = targets.filter((q) => q.live && !isAnnotationQuery(q));
    const ranged = targets.filter((q) => !q.live);

    const streams: Array<Observable<DataQueryResponse>> = [];
    if (live.length > 0) {
      // One channel for all live queries of the panel: one backend stream however many metrics.
      streams.push(liveStream(this.uid, live.map((q) => this.applyTemplateVariables(q, request.scopedVars)), request));
    }
    if (ranged.length > 0 || streams.length === 0) {
      // Ad hoc filters need the metric's dimensions: wait for the catalog (or its failure) first.
      const run = () => super.query({ ...request, targets: ranged });
      const legends = ranged.map((q) => ({ ...q, legend: q.legend && getTemplateSrv().replace(q.legend, request.scopedVars) }));
      const answers = request.filters?.length ? from(this.getCatalog().catch(() => undefined)).pipe(mergeMap(run)) : run();
      streams.push(answers.pipe(map((response) => withLegends(response, legends))));
    }
    return streams.length === 1 ? streams[0] : merge(...streams);
  }

  /** Ad hoc filter keys: the dimensions of the dashboard's Metrics Hub metrics (all metrics when unknown). */
  async getTagKeys(options?: DataSourceGetTagKeysOptions<MetricsHubQuery>): Promise<MetricFindValue[]> {
    const catalog = await this.getCatalog();
    const used = new Set((options?.queries ?? []).map((q) => getTemplateSrv().replace(q.metric ?? '')).filter(Boolean));
    const metrics = used.size > 0 ? catalog.metrics.filter((m) => used.has(m.key)) : catalog.metrics;
    const keys = [...new Set(metrics.flatMap((m) => m.dimensions))].sort();
    return keys.map((key) => ({ text: key, value: key }));
  }

  /** Ad hoc filter values: the values of that dimension, from the metrics that have it. */
  async getTagValues(options: DataSourceGetTagValuesOptions<MetricsHubQuery>): Promise<MetricFindValue[]> {
    const catalog = await this.getCatalog();
    const used = (options.queries ?? []).map((q) => getTemplateSrv().replace(q.metric ?? ''));
    const withKey = catalog.metrics.filter((m) => m.dimensions.includes(options.key));
    const metrics = [...withKey.filter((m) => used.includes(m.key)), ...withKey.filter((m) => !used.includes(m.key))].slice(0, TAG_VALUE_METRICS);
    const lists = await Promise.all(
      metrics.map((m) =>
        this.postResource<VariableValue[]>('variables', {
          query: 'dimension_values',
          metric: m.key,
          dimension: options.key,
          from: options.timeRange?.from.toISOString(),
          to: options.timeRange?.to.toISOString(),
        })
      )
    );
    const values = [...new Set(lists.flat().map((v) => v.value))].sort();
    return values.map((value) => ({ text: value, value }));
  }

  /** The catalog, fetched once per data source instance; a failed fetch is retried next time. */
  getCatalog(): Promise<Catalog> {
    if (!this.catalog) {
      this.catalog = this.getResource<Catalog>('catalog').then(
        (catalog) => (this.loadedCatalog = catalog),
        (error: unknown) => {
          this.catalog = undefined;
          throw error;
        }
      );
    }
    return this.catalog;
  }

  async metricFindQuery(raw: MetricsHubVariableQuery | string, options?: LegacyMetricFindQueryOptions): Promise<MetricFindValue[]> {
    const parsed = parseVariableQuery(raw);
    const problem = variableQueryProblem(parsed);
    if (problem) {
      throw new Error(problem);
    }
    const templateSrv = getTemplateSrv();
    const text = (value?: string) => (value ? templateSrv.replace(value, options?.scopedVars) : undefined);
    const body = {
      query: parsed.query,
      source: text(parsed.source),
      metric: text(parsed.metric),
      dimension: text(parsed.dimension),
      from: options?.range?.from.toISOString(),
      to: options?.range?.to.toISOString(),
    };
    const values = await this.postResource<VariableValue[]>('variables', body);
    return toMetricFindValues(values);
  }
}
