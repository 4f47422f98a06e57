import { MetricsHubQuery, QueryFilter } from '../types';

const OPS: Record<string, string> = { eq: '=', neq: '!=', in: 'in', not_in: 'not in' };

/**
 * One line that says what a query asks for, for Grafana's collapsed query rows,
 * query history and library panels: "p95 of bot_response_time_ms by botId where channel = web".
 */
export function queryDisplayText(query: MetricsHubQuery): string {
  if (query.queryType === 'annotations') {
    return `Anomalies${query.metric ? ` of ${query.metric}` : ''}${query.severity ? ` (${query.severity})` : ''}`;
  }
  if (!query.metric) {
    return 'No metric chosen';
  }
  const parts = [query.aggregation ? `${query.aggregation} of ${query.metric}` : query.metric];
  if (query.groupBy?.length) {
    parts.push(`by ${query.groupBy.join(', ')}`);
  }
  if (query.filters?.length) {
    parts.push(`where ${query.filters.map(filterText).join(' and ')}`);
  }
  if (query.format && query.format !== 'timeseries') {
    parts.push(`as ${query.format}`);
  }
  if (query.rolling) {
    parts.push('over the exact range (rolling)');
  }
  if (query.compareToPrevious) {
    parts.push('vs previous period');
  }
  if (query.live) {
    parts.push('(live)');
  }
  return parts.join(' ');
}

function filterText(filter: QueryFilter): string {
  const value = Array.isArray(filter.value) ? `(${filter.value.join(', ')})` : filter.value;
  return `${filter.dimension} ${OPS[filter.op] ?? filter.op} ${value}`;
}
