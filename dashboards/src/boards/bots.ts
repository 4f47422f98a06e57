import { RowBuilder, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import type { CatalogQueries } from '../catalog.js';
import type { QueryFilter } from '../query.js';
import { anomalyTable, dashboard, dimensionVariable, kpiStat, trend } from '../panels.js';

const BOT = 'botId';
const byBot: QueryFilter[] = [{ dimension: BOT, op: 'in', value: ['$bot'] }];

/** Response times, errors and volume of the bots, overall and per bot. */
export function bots(catalog: CatalogQueries): Dashboard {
  const latency = catalog.severity('bot_response_time_ms');
  return dashboard(
    'metricshub-bots',
    'Bot performance',
    'Response time percentiles (merged from rollup sketches, not averaged), error rate and volume of the bots chosen in $bot. ' +
      'The organization is the one the data source\'s API key belongs to.',
    ['bots'],
  )
    .withVariable(dimensionVariable('bot', 'Bot', 'bot_responses', BOT))
    .withRow(new RowBuilder('Key figures'))
    .withPanel(kpiStat(catalog, 'bot_responses', { width: 6 }))
    .withPanel(kpiStat(catalog, 'bot_error_rate', { width: 6 }))
    .withPanel(kpiStat(catalog, 'bot_response_time_ms', { title: 'Response time p95', aggregation: 'p95', width: 6 }))
    .withPanel(kpiStat(catalog, 'bot_response_time_ms', { title: 'Response time p99', aggregation: 'p99', width: 6 }))
    .withRow(new RowBuilder('Response time'))
    .withPanel(
      trend(catalog, 'Response time p50 / p95 / p99', (['p50', 'p95', 'p99'] as const).map((aggregation) => catalog.query('bot_response_time_ms', { aggregation, filters: byBot })), {
        severity: latency,
        description: 'Percentiles of the selected bots\' response time; dashed lines mark the limits of the p95 alert rule.',
      }),
    )
    .withPanel(
      trend(catalog, 'Response time p95 by bot', [catalog.query('bot_response_time_ms', { aggregation: 'p95', groupBy: [BOT], filters: byBot })], {
        severity: latency,
      }),
    )
    .withRow(new RowBuilder('Errors and volume'))
    .withPanel(trend(catalog, 'Error rate by bot', [catalog.query('bot_error_rate', { groupBy: [BOT], filters: byBot })], { width: 8, severity: catalog.severity('bot_error_rate') }))
    .withPanel(trend(catalog, 'Responses by bot', [catalog.query('bot_responses', { groupBy: [BOT], filters: byBot })], { width: 8, stacked: true, bars: true }))
    .withPanel(trend(catalog, 'Responses by status', [catalog.query('bot_responses', { groupBy: ['status'], filters: byBot })], { width: 8, stacked: true, bars: true }))
    .withRow(new RowBuilder('Activity'))
    .withPanel(kpiStat(catalog, 'active_bots', { width: 4 }))
    .withPanel(kpiStat(catalog, 'active_users', { width: 4 }))
    .withPanel(
      trend(catalog, 'Active users and bots', [catalog.query('active_users'), catalog.query('active_bots')], {
        width: 16,
        description: 'Distinct users who talked to a bot or had a conversation change state, and distinct bots that responded, per interval. ' +
          'Merged from sketches: a user active in two intervals counts once in the KPI of the range.',
      }),
    )
    .withRow(new RowBuilder('Anomalies'))
    .withPanel(anomalyTable('Bot response time anomalies', { metric: 'bot_response_time_ms', width: 24 }))
    .build();
}
