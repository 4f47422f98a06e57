import { RowBuilder, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import type { CatalogQueries } from '../catalog.js';
import { alertList, anomalyTable, bandTrend, dashboard, feedTable, kpiStat, trend } from '../panels.js';

export const OVERVIEW_UID = 'metricshub-overview';

/** Candidate metrics for "active prospects", from the LeadTracker module source when the catalog has it. */
const ACTIVE_PROSPECTS = ['prospects_active', 'active_prospects'];

/** What a team opens in the morning: KPIs with trend and severity, the main trends, workflow health, alerts. */
export function overview(catalog: CatalogQueries): Dashboard {
  const prospects = ACTIVE_PROSPECTS.find((key) => catalog.has(key));
  const kpis = [
    kpiStat(catalog, 'orders_created', { title: 'Orders' }),
    kpiStat(catalog, 'payment_success_rate'),
    kpiStat(catalog, 'order_value', { title: 'Revenue' }),
    kpiStat(catalog, 'workflow_failure_rate'),
    kpiStat(catalog, 'delivery_rate'),
    ...(prospects ? [kpiStat(catalog, prospects, { title: 'Active prospects' })] : []),
    ...['unique_contacts', 'active_users'].filter((key) => catalog.has(key)).map((key) => kpiStat(catalog, key)),
  ];
  const width = Math.floor(24 / kpis.length);
  const board = dashboard(
    OVERVIEW_UID,
    'Business overview',
    'KPIs, trends, workflow health and alerts of one organization. The organization is the one the data source\'s API key belongs to: ' +
      'to see another organization, add a Metrics Hub data source with that organization\'s key and switch data source. ' +
      'Every KPI compares the selected range with the previous range of the same length.',
    ['overview'],
  ).withRow(new RowBuilder('Key figures'));
  for (const kpi of kpis) board.withPanel(kpi.span(width));

  board
    .withRow(new RowBuilder('Orders and payments'))
    .withPanel(
      bandTrend(
        catalog,
        'Orders, against what was expected',
        'orders_unusual',
        { description: 'Orders per hour; the shaded band is where the orders_unusual rule expected them (the dashed line its prediction), outside it the rule alerts.' },
      ),
    )
    .withPanel(
      trend(catalog, 'Orders and payments', [catalog.query('orders_created'), catalog.query('payments_successful'), catalog.query('payments_failed')], {
        description: 'Orders placed, successful and failed payments per interval.',
      }),
    )
    .withPanel(
      trend(catalog, 'Revenue, against the previous period', [catalog.query('order_value', { compareToPrevious: true })], {
        description: 'Value of orders placed; the dashed series is the previous period of the same length.',
      }),
    )
    .withRow(new RowBuilder('Workflow health'))
    .withPanel(kpiStat(catalog, 'workflows_total', { title: 'Workflow runs', width: 8 }))
    .withPanel(kpiStat(catalog, 'workflow_success_rate', { width: 8 }))
    .withPanel(kpiStat(catalog, 'workflow_duration_ms', { title: 'Workflow duration p95', aggregation: 'p95', width: 8 }))
    .withPanel(
      trend(catalog, 'Workflow runs by status', [catalog.query('workflows_total', { groupBy: ['status'] })], {
        stacked: true,
        bars: true,
        description: 'Finished workflow runs per interval, stacked by outcome (SUCCESS, FAILED, FAILED_SAFETY_LIMIT).',
      }),
    )
    .withPanel(
      bandTrend(
        catalog,
        'Workflow failure rate',
        'workflow_failure_rate_high',
        {
          severity: catalog.severity('workflow_failure_rate'),
          description: "Failed runs / all runs per hour; the shaded band is the failure rate over the rule's window with 95% confidence, and the rule alerts when all of it lies above its bound (dashed).",
        },
      ),
    )
    .withPanel(
      bandTrend(
        catalog,
        'Delivery rate',
        'delivery_rate_low',
        {
          severity: catalog.severity('delivery_rate'),
          description: "Delivered / sent messages per hour; the shaded band is the delivery rate over the rule's window with 95% confidence, and the rule alerts when all of it lies below its bound (dashed).",
        },
      ),
    )
    .withPanel(
      feedTable(catalog, 'Recent workflow failures', 'workflows_failed', {
        columns: ['workflowId', 'status', 'error'],
        width: 12,
        description: 'The newest failed workflow runs (FAILED and FAILED_SAFETY_LIMIT) in the range, with the workflow, its status and error message (format list on workflows_failed). Refreshes with the dashboard.',
      }),
    )
    .withRow(new RowBuilder('Alerts'))
    .withPanel(alertList('Firing and pending alert rules'))
    .withPanel(anomalyTable('Recent anomalies'));
  return board.build();
}
