import { AnnotationQuery, AnnotationSupport, DataFrame, FieldType, createDataFrame } from '@grafana/data';

import { AnnotationQueryEditor } from './components/AnnotationQueryEditor';
import { ANNOTATIONS_QUERY_TYPE, BackendAnnotation, MetricsHubQuery } from './types';

// Colours by severity so a critical anomaly stands out from a warning on the graph.
const SEVERITY_COLORS: Record<string, string> = {
  critical: 'red',
  warning: 'orange',
  healthy: 'green',
};

export function isAnnotationQuery(query: MetricsHubQuery): boolean {
  return query.queryType === ANNOTATIONS_QUERY_TYPE;
}

/**
 * Turns alert transitions from GET /api/v1/annotations into one frame whose
 * fields carry the names Grafana reads annotation events from (time, timeEnd,
 * title, text, tags, color), so Grafana's standard processing makes the events.
 */
export function toAnnotationFrame(items: BackendAnnotation[], refId: string): DataFrame {
  return createDataFrame({
    refId,
    name: 'annotations',
    fields: [
      { name: 'time', type: FieldType.time, values: items.map((a) => a.time) },
      // An alert that has not ended yet is a point in time, not an open region.
      { name: 'timeEnd', type: FieldType.time, values: items.map((a) => a.timeEnd ?? a.time) },
      { name: 'title', type: FieldType.string, values: items.map((a) => a.title) },
      { name: 'text', type: FieldType.string, values: items.map((a) => a.text) },
      { name: 'tags', type: FieldType.other, values: items.map(tagsOf) },
      { name: 'color', type: FieldType.string, values: items.map((a) => SEVERITY_COLORS[a.severity ?? ''] ?? 'blue') },
    ],
  });
}

function tagsOf(annotation: BackendAnnotation): string[] {
  const tags = annotation.tags ?? [];
  const extra = [annotation.severity, annotation.rule && `rule:${annotation.rule}`, annotation.metric && `metric:${annotation.metric}`];
  return [...new Set([...tags, ...extra.filter((t): t is string => Boolean(t))])];
}

/** Annotations run as a query of type "annotations" with an optional metric and severity. */
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
