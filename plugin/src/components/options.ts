import { ComboboxOption } from '@grafana/ui';
import { getTemplateSrv } from '@grafana/runtime';

import { Catalog, CatalogMetric, FilterOp, OrderDirection, QueryFormat } from '../types';

export const FORMAT_OPTIONS: Array<{ label: string; value: QueryFormat; description: string }> = [
  { label: 'Time series', value: 'timeseries', description: 'One series per group-by value over the time range' },
  { label: 'Table', value: 'table', description: 'One row per group-by value, optionally the top N' },
  { label: 'KPI', value: 'kpi', description: 'One value with the previous period, change, trend and severity' },
  { label: 'List', value: 'list', description: 'The most recent raw events of the metric, newest first' },
];

export const OP_OPTIONS: Array<ComboboxOption<FilterOp>> = [
  { label: '=', value: 'eq', description: 'equals' },
  { label: '!=', value: 'neq', description: 'does not equal' },
  { label: 'in', value: 'in', description: 'is one of' },
  { label: 'not in', value: 'not_in', description: 'is none of' },
];

export const DIRECTION_OPTIONS: Array<{ label: string; value: OrderDirection; description: string }> = [
  { label: 'Highest first', value: 'desc', description: 'descending' },
  { label: 'Lowest first', value: 'asc', description: 'ascending' },
];

/** What each aggregation computes, shown beside it in the picker. */
const AGGREGATION_HELP: Record<string, string> = {
  sum: 'Total of the values in each bucket',
  count: 'Number of events in each bucket',
  avg: 'Mean of the values',
  min: 'Smallest value',
  max: 'Largest value',
  p50: 'Median (50th percentile)',
  p90: '90th percentile',
  p95: '95th percentile',
  p99: '99th percentile',
  rate: 'Events per second',
};

export function aggregationOptions(metric: CatalogMetric): ComboboxOption[] {
  return metric.aggregations.map((a) => ({
    label: a,
    value: a,
    description: [a === metric.defaultAggregation && `Default for ${metric.label}`, AGGREGATION_HELP[a]].filter(Boolean).join(' · '),
  }));
}

/** Every metric of every source, with its source beside it, so one search finds any metric. */
export function metricOptions(catalog: Catalog): ComboboxOption[] {
  const sourceLabel = new Map(catalog.sources.map((s) => [s.id, s.label]));
  return catalog.metrics.map((m) => ({
    label: m.label,
    value: m.key,
    description: [sourceLabel.get(m.source) ?? m.source, m.description, m.unit && `unit: ${m.unit}`].filter(Boolean).join(' · '),
  }));
}

/** The metric's dimensions; known values, once loaded, describe each one. */
export function dimensionOptions(metric: CatalogMetric | undefined, valuesOf: (dimension: string) => string[] | undefined): ComboboxOption[] {
  return (metric?.dimensions ?? []).map((d) => {
    const values = valuesOf(d);
    return { label: d, value: d, description: values?.length ? `e.g. ${values.slice(0, 4).join(', ')}${values.length > 4 ? ', …' : ''}` : undefined };
  });
}

/** The dashboard's variables, offered in the pickers whose field can be templated. */
export function variableOptions(): ComboboxOption[] {
  return getTemplateSrv()
    .getVariables()
    .map((v) => ({ label: `$${v.name}`, value: `$${v.name}`, group: 'Variables' }));
}

/** Keeps a value the options lack (a variable typed by hand, a renamed metric) visible. */
export function withCurrent(options: ComboboxOption[], value?: string): ComboboxOption[] {
  if (!value || options.some((o) => o.value === value)) {
    return options;
  }
  return [...options, { label: value, value }];
}
