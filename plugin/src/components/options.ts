import { ComboboxOption } from '@grafana/ui';
import { getTemplateSrv } from '@grafana/runtime';

import { FilterOp, QueryFormat } from '../types';

export const FORMAT_OPTIONS: Array<{ label: string; value: QueryFormat; description: string }> = [
  { label: 'Time series', value: 'timeseries', description: 'One series per group-by value' },
  { label: 'Table', value: 'table', description: 'One wide table' },
  { label: 'KPI', value: 'kpi', description: 'Value, previous value, change, trend and severity' },
];

export const OP_OPTIONS: Array<ComboboxOption<FilterOp>> = [
  { label: '=', value: 'eq', description: 'equals' },
  { label: '!=', value: 'neq', description: 'does not equal' },
  { label: 'in', value: 'in', description: 'is one of' },
  { label: 'not in', value: 'not_in', description: 'is none of' },
];

/** The dashboard's variables, offered in every picker so any field can be templated. */
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
