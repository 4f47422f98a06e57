import { ScopedVars, TypedVariableModel } from '@grafana/data';
import { TemplateSrv } from '@grafana/runtime';

import { MetricsHubQuery, QueryFilter } from '../types';
import { soleVariableName } from './templateSyntax';

// Grafana's value for the "All" option of a multi-value variable.
const ALL_VALUE = '$__all';

/** What one field resolves to once Grafana has interpolated it. */
interface Resolved {
  values: string[];
  /** The field is a variable set to "All": it restricts nothing. */
  all: boolean;
}

/**
 * Replaces template variables in every field of a query. A multi-value variable
 * in a filter turns it into an "in" (or "not_in") filter on all chosen values, a
 * variable set to "All" removes the filter, and one in group-by groups by each value.
 */
export function interpolateQuery(query: MetricsHubQuery, scopedVars: ScopedVars, templateSrv: TemplateSrv): MetricsHubQuery {
  const text = (value?: string) => (value === undefined ? undefined : templateSrv.replace(value, scopedVars));
  const groupBy = (query.groupBy ?? []).flatMap((entry) => {
    const resolved = resolve(entry, scopedVars, templateSrv);
    return resolved.all ? [] : resolved.values;
  });
  const filters = (query.filters ?? []).flatMap((filter) => interpolateFilter(filter, scopedVars, templateSrv));
  return {
    ...query,
    source: text(query.source),
    metric: text(query.metric),
    aggregation: text(query.aggregation),
    severity: text(query.severity),
    groupBy: unique(groupBy),
    filters,
  };
}

function interpolateFilter(filter: QueryFilter, scopedVars: ScopedVars, templateSrv: TemplateSrv): QueryFilter[] {
  const dimension = templateSrv.replace(filter.dimension, scopedVars);
  const entries = Array.isArray(filter.value) ? filter.value : [filter.value];
  const resolved = entries.map((entry) => resolve(entry, scopedVars, templateSrv));
  if (resolved.some((r) => r.all)) {
    return [];
  }
  const values = unique(resolved.flatMap((r) => r.values));
  const negated = filter.op === 'neq' || filter.op === 'not_in';
  if (values.length === 1 && !Array.isArray(filter.value)) {
    return [{ dimension, op: negated ? 'neq' : 'eq', value: values[0] }];
  }
  return [{ dimension, op: negated ? 'not_in' : 'in', value: values }];
}

function resolve(text: string, scopedVars: ScopedVars, templateSrv: TemplateSrv): Resolved {
  const name = soleVariableName(text);
  if (name === undefined) {
    return { values: [templateSrv.replace(text, scopedVars)], all: false };
  }
  // A repeated panel or row pins the variable to one value through scopedVars.
  if (!scopedVars[name] && isAllSelected(templateSrv.getVariables().find((v) => v.name === name))) {
    return { values: [], all: true };
  }
  let captured: string[] | undefined;
  const replaced = templateSrv.replace(text, scopedVars, (value: string | string[]) => {
    captured = Array.isArray(value) ? value : [value];
    return captured.join(',');
  });
  return { values: captured ?? [replaced], all: false };
}

function isAllSelected(variable: TypedVariableModel | undefined): boolean {
  if (!variable || !('current' in variable) || !variable.current) {
    return false;
  }
  const value: unknown = variable.current.value;
  return value === ALL_VALUE || (Array.isArray(value) && value.includes(ALL_VALUE));
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
