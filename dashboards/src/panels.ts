import type { Builder } from '@grafana/grafana-foundation-sdk/cog';
import {
  BigValueColorMode,
  BigValueGraphMode,
  BigValueTextMode,
  GraphDrawStyle,
  GraphThresholdsStyleMode,
  LegendDisplayMode,
  LegendPlacement,
  ReduceDataOptionsBuilder,
  SortOrder,
  StackingConfigBuilder,
  StackingMode,
  TableSortByFieldStateBuilder,
  TooltipDisplayMode,
  VizLegendOptionsBuilder,
  VizTooltipOptionsBuilder,
  GraphThresholdsStyleConfigBuilder,
} from '@grafana/grafana-foundation-sdk/common';
import {
  AnnotationQueryBuilder,
  DashboardBuilder,
  DashboardCursorSync,
  DashboardLinkBuilder,
  DashboardLinkType,
  PanelBuilder as GenericPanelBuilder,
  QueryVariableBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  VariableRefresh,
  VariableSort,
  type Panel,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as StatBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TableBuilder } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as TimeseriesBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import type { CatalogQueries } from './catalog.js';
import { AnomalyQueryBuilder, DATASOURCE, type Aggregation, type MetricsHubQueryBuilder, type QueryFilter, type VariableQuery } from './query.js';
import { thresholdSteps, type Severity } from './thresholds.js';

/** Tag every generated dashboard carries; the dashboards link to each other through it. */
export const TAG = 'metricshub';

const NEUTRAL_STEPS = [{ value: null, color: 'text' }];
/** Names of the two numbers a KPI stat shows. */
export const THIS_PERIOD = 'This period';
export const CHANGE = 'vs previous period';

function thresholds(steps: Array<{ value: number | null; color: string }>): ThresholdsConfigBuilder {
  return new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps(steps);
}

/** A dashboard with the settings every Metrics Hub dashboard shares. */
export function dashboard(uid: string, title: string, description: string, extraTags: string[] = []): DashboardBuilder {
  return new DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags([TAG, ...extraTags])
    .editable()
    .tooltip(DashboardCursorSync.Crosshair)
    .time({ from: 'now-7d', to: 'now' })
    .timezone('browser')
    .refresh('5m')
    .link(new DashboardLinkBuilder('Metrics Hub').type(DashboardLinkType.Dashboards).tags([TAG]).asDropdown(true).includeVars(true).keepTime(true))
    .annotation(anomalyAnnotations('critical'))
    .annotation(anomalyAnnotations('warning'));
}

const SEVERITY_COLOURS = { critical: 'red', warning: 'orange' } as const;

/**
 * Anomalies of one severity the backend detected, drawn on every time series.
 * Grafana paints all events of an annotation query in that query's colour (it
 * overrides any colour in the data), so colour by severity is one query per severity.
 */
export function anomalyAnnotations(severity: 'critical' | 'warning'): AnnotationQueryBuilder {
  return new AnnotationQueryBuilder()
    .name(severity === 'critical' ? 'Critical anomalies' : 'Warnings')
    .datasource(DATASOURCE)
    .enable(true)
    .iconColor(SEVERITY_COLOURS[severity])
    .target(new AnomalyQueryBuilder({ severity, refId: severity === 'critical' ? 'Critical' : 'Warnings' }));
}

/** A template variable listing the values of one dimension of a metric (POST /api/v1/variables). */
export function dimensionVariable(name: string, label: string, metric: string, dimension: string): QueryVariableBuilder {
  const query: VariableQuery = { refId: 'MetricsHubVariableQuery', query: 'dimension_values', metric, dimension };
  return new QueryVariableBuilder(name)
    .label(label)
    .datasource(DATASOURCE)
    .query(query)
    .definition(`dimension_values(${metric}, ${dimension})`)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalCaseInsensitiveAsc)
    .multi(true)
    .includeAll(true);
}

export interface KpiOptions {
  title?: string;
  aggregation?: Aggregation;
  /** Orange/red limits; default: the metric's threshold rule, which judges its default aggregation. */
  severity?: Severity;
  width?: number;
}

/**
 * A KPI stat: the value over the dashboard's range and its change against the
 * previous period of equal length (the backend's `kpi` format). The value is
 * coloured by severity, the change by whether it is good news for this metric.
 */
export function kpiStat(catalog: CatalogQueries, key: string, options: KpiOptions = {}): StatBuilder {
  const metric = catalog.metric(key);
  const aggregation = options.aggregation ?? metric.defaultAggregation;
  const severity = options.severity ?? (aggregation === metric.defaultAggregation ? catalog.severity(key) : undefined);
  const goodWhenUp = severity ? severity.bad === 'below' : metric.higherIsBetter;
  return new StatBuilder()
    .title(options.title ?? metric.label)
    .description(`${metric.description} Change against the previous period of the same length.`)
    .datasource(DATASOURCE)
    .withTarget(catalog.query(key, { format: 'kpi', aggregation }))
    .unit(metric.unit)
    .decimals(metric.unit === 'percentunit' ? 1 : metric.unit === 'short' ? 0 : 2)
    .height(5)
    .span(options.width ?? 4)
    // Grafana matches fields by display name, and the backend names the value field after the metric's label:
    // rename both before anything else reads them, and drop the previous value (the change says it).
    .withTransformation({
      id: 'organize',
      options: {
        excludeByName: { previous: true },
        indexByName: {},
        renameByName: { value: THIS_PERIOD, [metric.label]: THIS_PERIOD, deltaPercent: CHANGE },
      },
    })
    .reduceOptions(new ReduceDataOptionsBuilder().values(false).calcs(['lastNotNull']))
    .textMode(BigValueTextMode.ValueAndName)
    .colorMode(BigValueColorMode.Value)
    .graphMode(BigValueGraphMode.None)
    .thresholds(thresholds(severity ? thresholdSteps(severity) : NEUTRAL_STEPS))
    .noValue('no data in range')
    .overrideByName(CHANGE, [
      { id: 'unit', value: 'percent' },
      { id: 'decimals', value: 1 },
      { id: 'thresholds', value: thresholds(goodWhenUp ? [{ value: null, color: 'red' }, { value: 0, color: 'green' }] : [{ value: null, color: 'green' }, { value: 0, color: 'red' }]).build() },
    ]);
}

export interface TrendOptions {
  unit?: string;
  width?: number;
  height?: number;
  stacked?: boolean;
  bars?: boolean;
  severity?: Severity;
  description?: string;
}

/** A time series of one or more queries; the first query's metric gives the unit unless told. */
export function trend(catalog: CatalogQueries, title: string, queries: MetricsHubQueryBuilder[], options: TrendOptions = {}): TimeseriesBuilder {
  const first = queries[0]!.build();
  const metric = catalog.metric(first.metric);
  const refIds = 'ABCDEFGHIJ';
  const panel = new TimeseriesBuilder()
    .title(title)
    .description(options.description ?? metric.description)
    .datasource(DATASOURCE)
    .targets(queries.map((query, index) => query.refId(refIds[index]!)))
    .unit(options.unit ?? metric.unit)
    .height(options.height ?? 8)
    .span(options.width ?? 12)
    .fillOpacity(options.bars ? 80 : 10)
    .drawStyle(options.bars ? GraphDrawStyle.Bars : GraphDrawStyle.Line)
    .legend(new VizLegendOptionsBuilder().showLegend(true).displayMode(LegendDisplayMode.List).placement(LegendPlacement.Bottom).calcs([]))
    .tooltip(new VizTooltipOptionsBuilder().mode(TooltipDisplayMode.Multi).sort(SortOrder.Descending));
  if (options.stacked) panel.stacking(new StackingConfigBuilder().mode(StackingMode.Normal));
  if (options.severity) {
    panel.thresholds(thresholds(thresholdSteps(options.severity))).thresholdsStyle(new GraphThresholdsStyleConfigBuilder().mode(GraphThresholdsStyleMode.Dashed));
  }
  return panel;
}

/**
 * A key series with what its anomaly rule expects, shaded: the `band` of the catalog rule `ruleId`
 * (docs/api.md). For a baseline rule the band runs from `lower` to `upper` around the dashed
 * `expected` line; for a ratio rule it is the rate's Wilson interval over the rule's window. The
 * score stays in the tooltip; anomalies are marked by the dashboard's anomaly annotations. Bands
 * are computed on the rule's hourly buckets, so the panel asks for hours.
 */
export function bandTrend(catalog: CatalogQueries, title: string, ruleId: string, options: TrendOptions): TimeseriesBuilder {
  const { metric } = catalog.rule(ruleId);
  const name = (field: string) => `${metric.label} ${field}`;
  return trend(catalog, title, [catalog.query(metric.key, { band: ruleId })], options)
    .interval('1h')
    .maxDataPoints(24 * 400)
    .overrideByName(name('upper'), [
      { id: 'custom.fillBelowTo', value: name('lower') },
      { id: 'custom.lineWidth', value: 0 },
      { id: 'custom.fillOpacity', value: 20 },
      { id: 'color', value: { mode: 'fixed', fixedColor: 'blue' } },
      { id: 'displayName', value: 'expected band' },
    ])
    .overrideByName(name('lower'), [
      { id: 'custom.lineWidth', value: 0 },
      { id: 'custom.fillOpacity', value: 0 },
      { id: 'color', value: { mode: 'fixed', fixedColor: 'blue' } },
      { id: 'custom.hideFrom', value: { legend: true, tooltip: false, viz: false } },
    ])
    .overrideByName(name('expected'), [
      { id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } },
      { id: 'color', value: { mode: 'fixed', fixedColor: 'blue' } },
    ])
    .overrideByName(name('score'), [{ id: 'custom.hideFrom', value: { legend: true, tooltip: false, viz: true } }]);
}

/** The anomalies the backend raised in the dashboard's range, newest first. */
export function anomalyTable(title: string, options: { metric?: string; width?: number } = {}): TableBuilder {
  return new TableBuilder()
    .title(title)
    .description('Alert transitions from Metrics Hub anomaly rules (GET /api/v1/annotations): title, message with recommendation, severity and rule tags.')
    .datasource(DATASOURCE)
    .withTarget(new AnomalyQueryBuilder({ metric: options.metric }))
    .height(8)
    .span(options.width ?? 12)
    .noValue('no anomalies in range')
    // Sorting and overrides see the names after the organize step.
    .withTransformation({ id: 'organize', options: { excludeByName: { color: true }, indexByName: {}, renameByName: { time: 'Started', timeEnd: 'Ended', title: 'Alert', text: 'Message', tags: 'Tags' } } })
    .sortBy([new TableSortByFieldStateBuilder().displayName('Started').desc(true)]);
}

/** Grafana-managed alert rules provisioned by Metrics Hub, by state. */
export function alertList(title: string, width = 12): Builder<Panel> {
  return new GenericPanelBuilder()
    .type('alertlist')
    .title(title)
    .description('Grafana alert rules provisioned from provisioning/alerting (label team=metricshub) that are firing or pending.')
    .height(8)
    .span(width)
    .options({
      viewMode: 'list',
      groupMode: 'default',
      groupBy: [],
      maxItems: 20,
      sortOrder: 1,
      dashboardAlerts: false,
      alertName: '',
      alertInstanceLabelFilter: '{team="metricshub"}',
      stateFilter: { firing: true, pending: true, noData: true, normal: false, error: true },
    });
}

/**
 * "Is data arriving?" for a source: how many records its busiest metric saw in
 * the recent window, red when none. A source that is down shows its error here.
 */
export function freshnessStat(catalog: CatalogQueries, key: string, window: string): StatBuilder {
  const metric = catalog.metric(key);
  const aggregation: Aggregation = metric.aggregations.includes('count') ? 'count' : metric.defaultAggregation;
  return new StatBuilder()
    .title(`Records in the last ${window}`)
    .description(`Number of ${metric.label.toLowerCase()} records in the last ${window} (${key}, ${aggregation}); red when nothing arrived. A source that cannot be reached shows its error on this panel.`)
    .datasource(DATASOURCE)
    .withTarget(catalog.query(key, { aggregation, format: 'timeseries' }))
    .timeFrom(window)
    .unit('short')
    .decimals(0)
    .height(5)
    .span(6)
    .reduceOptions(new ReduceDataOptionsBuilder().values(false).calcs(['sum']))
    .colorMode(BigValueColorMode.Background)
    .graphMode(BigValueGraphMode.Area)
    .thresholds(thresholds([{ value: null, color: 'red' }, { value: 1, color: 'green' }]))
    .noValue('no data');
}

/**
 * A feed: the newest events of a metric as table rows (format 'list'), newest
 * first, refreshed with the dashboard. Columns default to the catalog's.
 */
export function feedTable(catalog: CatalogQueries, title: string, key: string, options: { limit?: number; columns?: string[]; filters?: QueryFilter[]; width?: number; description?: string } = {}): TableBuilder {
  const metric = catalog.metric(key);
  return new TableBuilder()
    .title(title)
    .description(options.description ?? `${metric.description} The newest first.`)
    .datasource(DATASOURCE)
    .withTarget(catalog.query(key, { format: 'list', limit: options.limit ?? 20, ...(options.columns && { columns: options.columns }), filters: options.filters ?? [] }))
    .height(9)
    .span(options.width ?? 24)
    .noValue('no events in range')
    .sortBy([new TableSortByFieldStateBuilder().displayName('time').desc(true)]);
}

/** A table with one row per value of `dimension` and one column per metric (format 'table', merged). */
export function breakdownTable(catalog: CatalogQueries, title: string, dimension: string, columns: Array<{ key: string; aggregation?: Aggregation; title: string }>, options: { width?: number; description?: string } = {}): TableBuilder {
  const refIds = 'ABCDEFGHIJ';
  const panel = new TableBuilder()
    .title(title)
    .description(options.description ?? `Per ${dimension}: ${columns.map((column) => column.title.toLowerCase()).join(', ')} over the dashboard's range.`)
    .datasource(DATASOURCE)
    .targets(columns.map((column, index) => catalog.query(column.key, { format: 'table', groupBy: [dimension], ...(column.aggregation && { aggregation: column.aggregation }) }).refId(refIds[index]!)))
    .height(8)
    .span(options.width ?? 12)
    .noValue('no data in range')
    // Each frame's value is named after its metric's label; one row per value of the dimension.
    .withTransformation({ id: 'joinByField', options: { byField: dimension, mode: 'outer' } })
    .withTransformation({ id: 'organize', options: { excludeByName: {}, indexByName: {}, renameByName: Object.fromEntries(columns.map((column) => [catalog.metric(column.key).label, column.title])) } });
  for (const column of columns) {
    const unit = catalog.metric(column.key).unit;
    // Averages of small scores (satisfaction 1-5) need their decimal; counts do not.
    panel.overrideByName(column.title, [{ id: 'unit', value: unit }, { id: 'decimals', value: unit === 'percentunit' || column.aggregation === 'avg' ? 1 : 0 }]);
  }
  return panel;
}

/**
 * One figure of a real-time card, streamed through Grafana Live (the plugin's
 * live mode): counts and sums over the last 60 s, averages and ratios over
 * the last 60 s, levels as they are now (GET /api/v1/live).
 */
export function liveStat(catalog: CatalogQueries, key: string, title: string, options: { aggregation?: Aggregation; width?: number; description?: string } = {}): StatBuilder {
  const metric = catalog.metric(key);
  return new StatBuilder()
    .title(title)
    .description(options.description ?? `${metric.description} Live.`)
    .datasource(DATASOURCE)
    .withTarget(catalog.query(key, { live: true, ...(options.aggregation && { aggregation: options.aggregation }) }))
    .unit(metric.unit)
    .decimals(metric.unit === 'percentunit' ? 1 : 0)
    .height(5)
    .span(options.width ?? 6)
    .reduceOptions(new ReduceDataOptionsBuilder().values(false).calcs(['lastNotNull']))
    .colorMode(BigValueColorMode.Value)
    .graphMode(BigValueGraphMode.Area)
    .thresholds(thresholds(catalog.severity(key) ? thresholdSteps(catalog.severity(key)!) : NEUTRAL_STEPS))
    .noValue('waiting for events');
}
