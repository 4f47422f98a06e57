import {
  CoreApp,
  DataQueryRequest,
  DataQueryResponse,
  DataSourceInstanceSettings,
  LegacyMetricFindQueryOptions,
  MetricFindValue,
  ScopedVars,
} from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv } from '@grafana/runtime';
import { Observable, from, map, merge } from 'rxjs';

import { annotationSupport, isAnnotationQuery, toAnnotationFrame } from './annotations';
import { liveStream } from './live';
import { interpolateQuery } from './query/interpolate';
import { withLegends } from './query/legend';
import { queryProblems } from './query/validate';
import {
  BackendAnnotation,
  Catalog,
  DEFAULT_QUERY,
  MetricsHubOptions,
  MetricsHubQuery,
  MetricsHubVariableQuery,
  VariableValue,
} from './types';
import { MetricsHubVariableSupport } from './variableSupport';
import { parseVariableQuery, toMetricFindValues, variableQueryProblem } from './variables';

/**
 * The Metrics Hub data source in the browser. Range queries go through Grafana's
 * server to the Go component (so alerting sees the same queries and the API key
 * never reaches the browser); the catalog, variables and annotations are resource
 * calls the Go component forwards; live queries subscribe to Grafana Live.
 */
export class DataSource extends DataSourceWithBackend<MetricsHubQuery, MetricsHubOptions> {
  private catalog?: Promise<Catalog>;

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
    return isAnnotationQuery(query) || queryProblems(query).length === 0;
  }

  applyTemplateVariables(query: MetricsHubQuery, scopedVars: ScopedVars): MetricsHubQuery {
    return interpolateQuery(query, scopedVars, getTemplateSrv());
  }

  query(request: DataQueryRequest<MetricsHubQuery>): Observable<DataQueryResponse> {
    const annotations = request.targets.filter(isAnnotationQuery);
    const live = request.targets.filter((q) => q.live && !isAnnotationQuery(q));
    const ranged = request.targets.filter((q) => !q.live && !isAnnotationQuery(q));

    const streams: Array<Observable<DataQueryResponse>> = [
      ...annotations.map((q) => this.annotationResponse(this.applyTemplateVariables(q, request.scopedVars), request)),
      ...live.map((q) => liveStream(this.uid, this.applyTemplateVariables(q, request.scopedVars), request)),
    ];
    if (ranged.length > 0 || streams.length === 0) {
      const legends = ranged.map((q) => ({ ...q, legend: q.legend && getTemplateSrv().replace(q.legend, request.scopedVars) }));
      streams.push(super.query({ ...request, targets: ranged }).pipe(map((response) => withLegends(response, legends))));
    }
    return streams.length === 1 ? streams[0] : merge(...streams);
  }

  /** The catalog, fetched once per data source instance; a failed fetch is retried next time. */
  getCatalog(): Promise<Catalog> {
    if (!this.catalog) {
      this.catalog = this.getResource<Catalog>('catalog').catch((error: unknown) => {
        this.catalog = undefined;
        throw error;
      });
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

  private annotationResponse(query: MetricsHubQuery, request: DataQueryRequest<MetricsHubQuery>): Observable<DataQueryResponse> {
    const params: Record<string, string> = {
      from: String(request.range.from.valueOf()),
      to: String(request.range.to.valueOf()),
    };
    if (query.metric) {
      params.metric = query.metric;
    }
    if (query.severity) {
      params.severity = query.severity;
    }
    return from(this.getResource<BackendAnnotation[]>('annotations', params)).pipe(
      map((items) => ({ data: [toAnnotationFrame(items, query.refId)] }))
    );
  }
}
