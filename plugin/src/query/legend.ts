import { DataFrame, DataQueryResponse, FieldType } from '@grafana/data';

import { MetricsHubQuery } from '../types';

const PLACEHOLDER = /\{\{\s*([\w.-]+)\s*\}\}/g;

/**
 * A series name from a legend template: `{{botId}} p95` with the series' labels,
 * plus `{{metric}}` and `{{aggregation}}` from the query. A label the series
 * lacks renders empty, as in Prometheus' legend format.
 */
export function renderLegend(template: string, labels: Record<string, string> | undefined, query: MetricsHubQuery): string {
  const known: Record<string, string | undefined> = { metric: query.metric, aggregation: query.aggregation, ...labels };
  return template.replace(PLACEHOLDER, (_, name: string) => known[name] ?? '').trim();
}

/** Names the value fields of each frame whose query has a legend template. */
export function withLegends(response: DataQueryResponse, queries: MetricsHubQuery[]): DataQueryResponse {
  const templates = new Map(queries.filter((q) => q.legend?.trim()).map((q) => [q.refId, q]));
  if (templates.size === 0) {
    return response;
  }
  const data = response.data.map((frame: DataFrame) => {
    const query = frame.refId ? templates.get(frame.refId) : undefined;
    if (!query) {
      return frame;
    }
    return {
      ...frame,
      fields: frame.fields.map((field) =>
        field.type === FieldType.number
          ? { ...field, config: { ...field.config, displayNameFromDS: renderLegend(query.legend!, field.labels, query) } }
          : field
      ),
    };
  });
  return { ...response, data };
}
