import { AdHocVariableFilter } from '@grafana/data';

import { QueryFilter } from '../types';

/**
 * Turns Grafana's dashboard-wide ad hoc filters into query filters. Only the
 * keys in `dimensions` (the query metric's dimensions) are applied: a filter on
 * a dimension another metric has must not make this query fail. Operators
 * without a Metrics Hub equivalent (regex, less/greater than) are left out.
 */
export function adHocFilters(filters: AdHocVariableFilter[] | undefined, dimensions: string[] | undefined): QueryFilter[] {
  return (filters ?? []).flatMap((filter): QueryFilter[] => {
    if (dimensions && !dimensions.includes(filter.key)) {
      return [];
    }
    const values = filter.values?.length ? filter.values : [filter.value];
    switch (filter.operator) {
      case '=':
        return [{ dimension: filter.key, op: 'eq', value: filter.value }];
      case '!=':
        return [{ dimension: filter.key, op: 'neq', value: filter.value }];
      case '=|':
        return [{ dimension: filter.key, op: 'in', value: values }];
      case '!=|':
        return [{ dimension: filter.key, op: 'not_in', value: values }];
      default:
        return [];
    }
  });
}
