import { RowBuilder, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import type { CatalogQueries } from '../catalog.js';
import { dashboard, trend } from '../panels.js';

/** Counters worth watching as they happen; each streams events ingested in the last 60 seconds. */
const LIVE_METRICS = ['orders_created', 'payments_total', 'payments_failed', 'workflows_total', 'workflows_failed', 'messages_sent', 'calls_total', 'bot_responses'];

/** Streaming panels: Grafana Live pushes the backend's realtime counters, no refresh or reload. */
export function live(catalog: CatalogQueries): Dashboard {
  const board = dashboard(
    'metricshub-live',
    'Live counters',
    'Realtime counters streamed through Grafana Live (the plugin\'s live mode, GET /api/v1/live): each point is the number of events ' +
      'ingested for the metric in the previous 60 seconds. Panels update as events arrive; no refresh needed. ' +
      'The organization is the one the data source\'s API key belongs to.',
    ['live'],
  )
    .time({ from: 'now-15m', to: 'now' })
    .refresh('')
    .liveNow(true)
    .withRow(new RowBuilder('Realtime'));
  for (const key of LIVE_METRICS) {
    board.withPanel(
      trend(catalog, `${catalog.metric(key).label} (last 60 s, live)`, [catalog.query(key, { live: true })], {
        width: 6,
        height: 7,
        unit: 'short',
        description: `${catalog.metric(key).description} Streamed: events in the previous 60 seconds, updated every second.`,
      }),
    );
  }
  return board.build();
}
