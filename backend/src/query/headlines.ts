import { sourceHeadline } from '../catalog/headline.js';
import type { Catalog } from '../catalog/load.js';
import type { SourceHeadline } from '../context.js';
import { isPlanError } from './planner.js';
import type { QueryService } from './service.js';

/**
 * Each source's headline metric over [from, to) for one organization, as the
 * KPI the query API answers for it. A source that fails, or does not answer
 * within `deadlineMs`, gets a null value: its status and last error already
 * say why, and one slow source must not hold up the others' row.
 */
export async function sourceHeadlines(catalog: Catalog, service: QueryService, organizationId: string, from: Date, to: Date, deadlineMs: number): Promise<SourceHeadline[]> {
  const rows = await Promise.all(
    catalog.sources
      .filter((source) => source.type !== 'system')
      .map(async (source): Promise<SourceHeadline | undefined> => {
        const metric = sourceHeadline(catalog, source.id);
        if (!metric) return undefined;
        const row = { source: source.id, metric: metric.key, metricLabel: metric.label, unit: metric.unit, value: null };
        const plan = service.plan({ refId: metric.key, metric: metric.key, groupBy: [], filters: [], format: 'kpi', compareToPrevious: false, live: false, hide: false }, { from, to, intervalMs: undefined, maxDataPoints: 1 });
        if (isPlanError(plan)) return row;
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), deadlineMs)));
        const value = await Promise.race([service.kpi(organizationId, plan).then(({ kpi }) => kpi.value, () => null), late]);
        clearTimeout(timer);
        return { ...row, value };
      }),
  );
  return rows.filter((row): row is SourceHeadline => row !== undefined);
}
