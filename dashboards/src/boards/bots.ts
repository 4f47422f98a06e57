import { RowBuilder, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import type { CatalogQueries } from '../catalog.js';
import type { QueryFilter } from '../query.js';
import { anomalyTable, dashboard, dimensionVariable, feedTable, kpiStat, liveStat, trend } from '../panels.js';

const BOT = 'botId';
const byBot: QueryFilter[] = [{ dimension: BOT, op: 'in', value: ['$bot'] }];
const perBot = { groupBy: [BOT], filters: byBot };

/** Response times, errors and volume of the bots, overall and per bot. */
export function bots(catalog: CatalogQueries): Dashboard {
  const latency = catalog.severity('bot_response_time_ms');
  return dashboard(
    'metricshub-bots',
    'Bot performance',
    'Response time percentiles (merged from rollup sketches, not averaged), error rate and volume of the bots chosen in $bot; ' +
      'their conversations (engagement, success, handoffs, satisfaction), AI quality (fallbacks, knowledge-base hits), tokens and cost, and a live feed of conversations. ' +
      'The organization is the one the data source\'s API key belongs to.',
    ['bots'],
  )
    .refresh('30s')
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
    .withRow(new RowBuilder('Real-time'))
    .withPanel(liveStat(catalog, 'bot_active_conversations', 'Active conversations (live)', { description: 'Bot conversations started and not ended, now (all bots). Streamed through Grafana Live.' }))
    .withPanel(liveStat(catalog, 'bot_response_time_ms', 'Average response time (live, last 60 s)', { aggregation: 'avg', description: 'Average bot response time over the last 60 seconds (all bots). Streamed through Grafana Live.' }))
    .withPanel(liveStat(catalog, 'bot_success_rate', 'Success rate (live, last 60 s)', { description: 'Bot conversations resolved / ended in the last 60 seconds (all bots). Streamed through Grafana Live.' }))
    .withPanel(liveStat(catalog, 'bot_messages_per_hour', 'Messages per hour (live, last 60 min)', { description: 'Bot messages in the last 60 minutes (all bots), a trailing window. Streamed through Grafana Live.' }))
    .withRow(new RowBuilder('Conversation feed'))
    .withPanel(feedTable(catalog, 'Latest bot conversations', 'bot_conversations', { filters: byBot, description: 'The newest bot conversation events: started (status active) and ended (resolved, escalated, abandoned, failed), with bot, channel and time. Refreshes with the dashboard.' }))
    .withRow(new RowBuilder('Engagement'))
    .withPanel(trend(catalog, 'Conversations started by bot', [catalog.query('bot_conversations_started', perBot)], { width: 8, stacked: true, bars: true }))
    .withPanel(trend(catalog, 'Active conversations', [catalog.query('bot_active_conversations', perBot)], { width: 8 }))
    .withPanel(trend(catalog, 'Messages per conversation', [catalog.query('bot_messages_per_conversation', { aggregation: 'avg', ...perBot })], { width: 8 }))
    .withPanel(
      trend(catalog, 'Conversation duration (avg / p50 / p95)', (['avg', 'p50', 'p95'] as const).map((aggregation) => catalog.query('bot_conversation_duration_s', { aggregation, filters: byBot })), { width: 8 }),
    )
    .withPanel(trend(catalog, 'Success and handoff rate', [catalog.query('bot_success_rate', { filters: byBot }), catalog.query('bot_handoff_rate', { filters: byBot })], { width: 8, severity: catalog.severity('bot_handoff_rate') }))
    .withPanel(trend(catalog, 'Satisfaction by bot (1-5)', [catalog.query('bot_satisfaction', perBot)], { width: 8 }))
    .withRow(new RowBuilder('AI quality'))
    .withPanel(trend(catalog, 'Fallback rate by bot', [catalog.query('bot_fallback_rate', perBot)], { width: 8 }))
    .withPanel(trend(catalog, 'Knowledge-base hit rate by bot', [catalog.query('bot_knowledge_hit_rate', perBot)], { width: 8 }))
    .withPanel(trend(catalog, 'Handoffs by bot', [catalog.query('bot_conversations_escalated', perBot)], { width: 8, stacked: true, bars: true }))
    .withRow(new RowBuilder('Cost'))
    .withPanel(kpiStat(catalog, 'bot_cost', { width: 6 }))
    .withPanel(kpiStat(catalog, 'bot_cost_per_conversation', { width: 6 }))
    .withPanel(kpiStat(catalog, 'bot_tokens', { title: 'Tokens used', width: 6 }))
    .withPanel(kpiStat(catalog, 'bot_tokens_per_conversation', { width: 6 }))
    .withPanel(trend(catalog, 'Cost by bot', [catalog.query('bot_cost', perBot)], { width: 12, stacked: true, bars: true }))
    .withPanel(trend(catalog, 'Tokens per conversation by bot', [catalog.query('bot_tokens_per_conversation', perBot)], { width: 12 }))
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
