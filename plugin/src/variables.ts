import { MetricFindValue } from '@grafana/data';

import { MetricsHubVariableQuery, VARIABLE_QUERY_KINDS, VariableQueryKind, VariableValue } from './types';

// Text form, handy in provisioned dashboards: metrics, sources, dimensions(metric),
// dimension_values(metric, dimension).
const TEXT_QUERY = /^\s*(\w+)\s*(?:\(\s*([^,()]*?)\s*(?:,\s*([^,()]*?)\s*)?\))?\s*$/;

/** Reads a variable query stored either as the editor's object or as text. */
export function parseVariableQuery(raw: MetricsHubVariableQuery | string): MetricsHubVariableQuery {
  if (typeof raw !== 'string') {
    return raw;
  }
  const refId = 'variable';
  const match = TEXT_QUERY.exec(raw);
  const kind = match?.[1];
  if (!match || !isKind(kind)) {
    throw new Error(`Metrics Hub variable query '${raw}' is not understood; use one of: metrics, sources, dimensions(metric), dimension_values(metric, dimension).`);
  }
  const [, , first, second] = match;
  if (kind === 'dimensions') {
    return { refId, query: kind, metric: first || undefined };
  }
  if (kind === 'dimension_values') {
    return { refId, query: kind, metric: first || undefined, dimension: second || undefined };
  }
  return { refId, query: kind, source: first || undefined };
}

function isKind(kind: string | undefined): kind is VariableQueryKind {
  return (VARIABLE_QUERY_KINDS as readonly string[]).includes(kind ?? '');
}

export function variableQueryProblem(query: MetricsHubVariableQuery): string | undefined {
  if (query.query === 'dimensions' && !query.metric) {
    return 'Choose the metric whose dimensions to list.';
  }
  if (query.query === 'dimension_values' && (!query.metric || !query.dimension)) {
    return 'Choose a metric and one of its dimensions.';
  }
  return undefined;
}

export function toMetricFindValues(values: VariableValue[]): MetricFindValue[] {
  return values.map((v) => ({ text: v.text, value: v.value }));
}
