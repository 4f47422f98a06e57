import type { Router } from 'express';
import { QueryCache } from '../cache/query-cache.js';
import { DEFAULT_CATALOG_FILE, loadCatalog } from '../catalog/load.js';
import type { AppContext } from '../context.js';
import { ADAPTER_TYPES } from '../sources/adapters/index.js';
import { SourceRegistry } from '../sources/registry.js';
import { queryRouter, type AlertsFor } from './routes.js';
import { QueryService } from './service.js';
import { severityFor, type SeverityFor } from './severity.js';

/** What later capabilities plug into the query API: KPI severity and the summary's alerts. */
export interface QueryHooks {
  severityFor?: SeverityFor;
  alertsFor?: AlertsFor;
}

export interface QueryModule {
  router: Router;
  service: QueryService;
  registry: SourceRegistry;
}

/**
 * Loads the catalog (CATALOG_FILE or the built-in one), starts every source,
 * and serves the query API over them.
 *
 * The `sources` readiness check reports each source but is not critical: one
 * external source down must not take every instance out of the load balancer,
 * since the other sources (and the built-in events) still answer. A source's
 * failure shows in its own queries' results, in /api/v1/catalog and here.
 */
export async function createQueryModule(context: AppContext, hooks: QueryHooks = {}): Promise<QueryModule> {
  const catalog = loadCatalog(context.config.CATALOG_FILE ?? DEFAULT_CATALOG_FILE);
  const registry = await SourceRegistry.create(catalog, context, ADAPTER_TYPES);
  context.onClose.push(() => registry.close());
  context.readinessChecks.push({
    name: 'sources',
    check: async () => {
      const statuses = await registry.checkHealth();
      const down = statuses.filter((source) => source.status !== 'up');
      return {
        ok: down.length === 0,
        critical: false,
        detail: down.length === 0 ? `${statuses.length} up` : down.map((source) => `${source.id} ${source.status}: ${source.lastError ?? 'no reason given'}`).join('; '),
      };
    },
  });
  const cache = new QueryCache(context.redis, context.cacheVersions, context.metrics.registry, context.logger);
  const service = new QueryService(catalog, registry, cache, {
    maxRangeDays: context.config.QUERY_MAX_RANGE_DAYS,
    severityFor: hooks.severityFor ?? severityFor,
    logger: context.logger,
    limits: {
      maxSeries: context.config.QUERY_MAX_SERIES,
      maxCells: context.config.QUERY_MAX_CELLS,
      maxResponseBytes: context.config.QUERY_MAX_RESPONSE_BYTES,
      maxExportRows: context.config.EXPORT_MAX_ROWS,
    },
  });
  const router = queryRouter({
    service,
    registry,
    alertsFor: hooks.alertsFor ?? (async () => []),
    cacheMode: () => (context.redis?.status === 'ready' ? 'redis' : 'in-process'),
  });
  return { router, service, registry };
}
