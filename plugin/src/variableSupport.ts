import { CustomVariableSupport, DataQueryRequest, DataQueryResponse } from '@grafana/data';
import { Observable, from, map } from 'rxjs';

import { VariableQueryEditor } from './components/VariableQueryEditor';
import type { DataSource } from './datasource';
import { MetricsHubVariableQuery } from './types';

/**
 * Template variables (metrics, sources, dimensions, values of a dimension) run
 * through metricFindQuery and its resource call; Grafana reads the text/value pairs.
 */
export class MetricsHubVariableSupport extends CustomVariableSupport<DataSource, MetricsHubVariableQuery> {
  editor = VariableQueryEditor;

  constructor(private readonly datasource: DataSource) {
    super();
  }

  query(request: DataQueryRequest<MetricsHubVariableQuery>): Observable<DataQueryResponse> {
    const [target] = request.targets;
    return from(this.datasource.metricFindQuery(target, { range: request.range, scopedVars: request.scopedVars })).pipe(
      map((values) => ({ data: values }))
    );
  }
}
