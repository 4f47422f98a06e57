import { AnnotationQuery, AnnotationSupport } from '@grafana/data';

import { AnnotationQueryEditor } from './components/AnnotationQueryEditor';
import { ANNOTATIONS_QUERY_TYPE, MetricsHubQuery } from './types';

export function isAnnotationQuery(query: MetricsHubQuery): boolean {
  return query.queryType === ANNOTATIONS_QUERY_TYPE;
}

/**
 * Annotations run as a query of type "annotations" with an optional metric and
 * severity. The Go component answers it (QueryData) with one frame whose fields
 * carry the names Grafana reads events from (time, timeEnd, title, text, tags),
 * so public dashboards and reports get the anomalies too. Grafana paints every
 * event of an annotation query in that query's colour: colour by severity is one
 * annotation query per severity, as the provisioned dashboards do.
 */
export const annotationSupport: AnnotationSupport<MetricsHubQuery> = {
  QueryEditor: AnnotationQueryEditor,
  prepareQuery(annotation: AnnotationQuery<MetricsHubQuery>): MetricsHubQuery {
    const target = annotation.target;
    return {
      refId: target?.refId ?? 'Anomalies',
      metric: target?.metric,
      severity: target?.severity,
      queryType: ANNOTATIONS_QUERY_TYPE,
    };
  },
};
