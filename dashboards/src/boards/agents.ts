import { RowBuilder, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import type { CatalogQueries } from '../catalog.js';
import type { QueryFilter } from '../query.js';
import { breakdownTable, dashboard, dimensionVariable, trend } from '../panels.js';

const AGENT = 'agentId';
/** A multi-value $agent becomes an `in` filter; "All" removes it (the plugin's interpolation). */
const byAgent: QueryFilter[] = [{ dimension: AGENT, op: 'in', value: ['$agent'] }];
const perAgent = { groupBy: [AGENT], filters: byAgent };
const TIMINGS = [
  { key: 'first_response_time_s', title: 'First response time' },
  { key: 'resolution_time_h', title: 'Resolution time' },
];

/** Messages, calls and conversations handled per agent. */
export function agents(catalog: CatalogQueries): Dashboard {
  const board = dashboard(
    'metricshub-agents',
    'Agent performance',
    'Messages, calls and conversations handled by each agent; call handling, first response and resolution times; satisfaction, availability and workload. Pick agents with $agent (values of the agentId dimension). ' +
      'The organization is the one the data source\'s API key belongs to.',
    ['agents'],
  )
    .withVariable(dimensionVariable('agent', 'Agent', 'messages_sent', AGENT))
    .withRow(new RowBuilder('Messages'))
    .withPanel(trend(catalog, 'Messages sent by agent', [catalog.query('messages_sent', perAgent)], { width: 8 }))
    .withPanel(trend(catalog, 'Messages received by agent', [catalog.query('messages_received', perAgent)], { width: 8 }))
    .withPanel(trend(catalog, 'Delivery rate by agent', [catalog.query('delivery_rate', perAgent)], { width: 8 }))
    .withRow(new RowBuilder('Calls'))
    .withPanel(trend(catalog, 'Calls handled by agent', [catalog.query('calls_total', perAgent)], { width: 8, stacked: true, bars: true }))
    .withPanel(trend(catalog, 'Missed calls by agent', [catalog.query('calls_missed', perAgent)], { width: 8, stacked: true, bars: true }))
    .withPanel(
      trend(catalog, 'Call handling time (p50 / p95)', [catalog.query('call_duration_s', { aggregation: 'p50', filters: byAgent }), catalog.query('call_duration_s', { aggregation: 'p95', filters: byAgent })], {
        width: 8,
        description: 'Median and 95th percentile duration of the selected agents\' finished calls.',
      }),
    )
    .withRow(new RowBuilder('Conversations'))
    .withPanel(trend(catalog, 'Conversations opened by agent', [catalog.query('conversations_opened', perAgent)], { width: 12 }))
    .withPanel(trend(catalog, 'Conversations resolved by agent', [catalog.query('conversations_resolved', perAgent)], { width: 12 }));

  // Satisfaction, availability and workload come from ingested events (conversation and agent.status_changed events).
  board
    .withRow(new RowBuilder('Satisfaction, availability and workload'))
    .withPanel(trend(catalog, 'Satisfaction by agent (1-5)', [catalog.query('conversation_satisfaction', perAgent)], { width: 8, description: 'Average satisfaction score given on the agents\' closed conversations.' }))
    .withPanel(
      trend(catalog, 'Availability hours by status', [catalog.query('agent_availability_hours', { groupBy: ['status'], filters: byAgent })], {
        width: 8,
        stacked: true,
        bars: true,
        description: 'Hours the selected agents spent online, away and offline (closed intervals between availability changes).',
      }),
    )
    .withPanel(trend(catalog, 'Workload: open conversations by agent', [catalog.query('agent_workload', perAgent)], { width: 8, description: 'Conversations open or pending per agent at the end of each bucket.' }))
    .withPanel(
      breakdownTable(
        catalog,
        'Workload now and satisfaction by agent',
        AGENT,
        [
          { key: 'agent_workload', title: 'Open now' },
          { key: 'conversation_satisfaction', aggregation: 'avg', title: 'Satisfaction' },
          { key: 'agent_messages_handled', title: 'Messages handled' },
        ],
        { width: 8, description: 'Per agent: conversations open or pending at the end of the range, average satisfaction and messages handled over the range.' },
      ),
    )
    .withPanel(
      trend(catalog, 'First response time (avg / p95)', [catalog.query('conversation_first_response_s', { aggregation: 'avg', filters: byAgent }), catalog.query('conversation_first_response_s', { aggregation: 'p95', filters: byAgent })], {
        width: 8,
        description: 'Seconds from opening to the first response, from conversation.first_response events.',
      }),
    )
    .withPanel(
      trend(catalog, 'Resolution time (avg / p95)', [catalog.query('conversation_resolution_s', { aggregation: 'avg', filters: byAgent }), catalog.query('conversation_resolution_s', { aggregation: 'p95', filters: byAgent })], {
        width: 8,
        description: 'Seconds from opening to done, from the value of the change to done.',
      }),
    );

  // Response and resolution times come from the Communications module source, when the catalog has it.
  const timings = TIMINGS.filter(({ key }) => catalog.has(key) && catalog.dimension(key, AGENT));
  if (timings.length > 0) {
    board.withRow(new RowBuilder('Response and resolution'));
    for (const { key, title } of timings) {
      board.withPanel(
        trend(catalog, `${title} (p50 / p95)`, [catalog.query(key, { aggregation: 'p50', filters: byAgent }), catalog.query(key, { aggregation: 'p95', filters: byAgent })], {
          width: 24 / timings.length,
          description: `${catalog.metric(key).description} Median and 95th percentile for the selected agents.`,
        }),
      );
    }
  }
  return board.build();
}
