import type { Catalog } from '../../src/catalog/load.js';
import type { SourceQuery } from '../../src/sources/types.js';

/**
 * A SourceQuery for adapter tests: the metric's sum over three buckets from
 * `start`, for `organizationId`; `overrides` changes any field.
 */
export function sourceQuery(
  catalog: Catalog,
  metric: string,
  base: { organizationId: string; start: number; bucketMs: number },
  overrides: Partial<SourceQuery> = {},
): SourceQuery {
  const found = catalog.metric(metric);
  if (!found) throw new Error(`test catalog has no metric '${metric}'`);
  return {
    organizationId: base.organizationId,
    metric: found,
    aggregation: 'sum',
    groupBy: [],
    filters: [],
    from: new Date(base.start),
    to: new Date(base.start + 3 * base.bucketMs),
    bucketMs: base.bucketMs,
    ...overrides,
  };
}
