import { RowBuilder, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import type { CatalogQueries } from '../catalog.js';
import type { QueryFilter } from '../query.js';
import { breakdownTable, dashboard, dimensionVariable, feedTable, kpiStat, trend } from '../panels.js';

const CHANNEL = 'channel';
const byChannel: QueryFilter[] = [{ dimension: CHANNEL, op: 'in', value: ['$channel'] }];

/** Conversation states, opt-outs and lead-source performance (the communications system's views). */
export function conversations(catalog: CatalogQueries): Dashboard {
  return dashboard(
    'metricshub-conversations',
    'Conversations and contacts',
    'Conversation states (open, pending, done, spam, unsubscribe) and the open and pending levels, spam and unsubscribe rates, ' +
      'opt-outs by type and initiator, and per lead source: new contacts, conversations and resolution time. Pick channels with $channel. ' +
      'Unique contacts per range come from the distinct-count metrics (unique_contacts). The organization is the one the data source\'s API key belongs to.',
    ['conversations', 'contacts'],
  )
    .withVariable(dimensionVariable('channel', 'Channel', 'conversations_opened', CHANNEL))
    .withRow(new RowBuilder('Key figures'))
    .withPanel(kpiStat(catalog, 'conversations_opened', { width: 4 }))
    .withPanel(kpiStat(catalog, 'conversations_open_now', { title: 'Open now', width: 4 }))
    .withPanel(kpiStat(catalog, 'conversations_pending_now', { title: 'Pending now', width: 4 }))
    .withPanel(kpiStat(catalog, 'spam_rate', { width: 4 }))
    .withPanel(kpiStat(catalog, 'unsubscribe_rate', { width: 4 }))
    .withPanel(kpiStat(catalog, 'opt_out_rate', { width: 4 }))
    .withRow(new RowBuilder('States'))
    .withPanel(trend(catalog, 'States entered', [catalog.query('conversation_state_changes', { groupBy: ['to'], filters: byChannel })], { width: 12, stacked: true, bars: true, description: 'Conversations entering each state (open, pending, done, spam, unsubscribe); a repeated change counts once.' }))
    .withPanel(
      trend(catalog, 'Open and pending conversations', [catalog.query('conversations_open_now', { filters: byChannel }), catalog.query('conversations_pending_now', { filters: byChannel })], {
        width: 12,
        description: 'Levels: conversations in the open and in the pending state at the end of each bucket, from +1/-1 state-change deltas.',
      }),
    )
    .withPanel(trend(catalog, 'Spam rate by channel', [catalog.query('spam_rate', { groupBy: [CHANNEL], filters: byChannel })], { width: 12, severity: catalog.severity('spam_rate') }))
    .withPanel(trend(catalog, 'Unsubscribe rate by channel', [catalog.query('unsubscribe_rate', { groupBy: [CHANNEL], filters: byChannel })], { width: 12 }))
    .withRow(new RowBuilder('Opt-outs'))
    .withPanel(trend(catalog, 'Opt-outs by type', [catalog.query('opt_outs', { groupBy: [CHANNEL], filters: byChannel })], { width: 8, stacked: true, bars: true }))
    .withPanel(trend(catalog, 'Opt-outs by initiator', [catalog.query('opt_outs', { groupBy: ['initiatedBy'], filters: byChannel })], { width: 8, stacked: true, bars: true }))
    .withPanel(trend(catalog, 'Opt-out rate of contacted contacts', [catalog.query('opt_out_rate', { groupBy: [CHANNEL], filters: byChannel })], { width: 8, severity: catalog.severity('opt_out_rate') }))
    .withPanel(feedTable(catalog, 'Latest opt-outs', 'opt_outs', { columns: ['contactId', 'channel', 'initiatedBy'], filters: byChannel, width: 24 }))
    .withRow(new RowBuilder('Lead sources'))
    .withPanel(
      breakdownTable(catalog, 'Lead-source performance', 'source', [
        { key: 'contacts_created', title: 'New contacts' },
        { key: 'conversations_opened', title: 'Conversations' },
        { key: 'conversation_resolution_s', aggregation: 'avg', title: 'Average resolution time' },
      ]),
    )
    .withPanel(
      breakdownTable(catalog, 'Performance by market', 'market', [
        { key: 'contacts_created', title: 'New contacts' },
        { key: 'conversations_opened', title: 'Conversations' },
        { key: 'conversation_resolution_s', aggregation: 'avg', title: 'Average resolution time' },
      ]),
    )
    .withPanel(trend(catalog, 'New contacts by lead source', [catalog.query('contacts_created', { groupBy: ['source'] })], { width: 12, stacked: true, bars: true }))
    .withPanel(trend(catalog, 'Conversations opened by lead source', [catalog.query('conversations_opened', { groupBy: ['source'], filters: byChannel })], { width: 12, stacked: true, bars: true }))
    .build();
}
