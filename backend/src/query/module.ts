import { Router } from 'express';
import { QueryCache } from '../cache/query-cache.js';
import { DEFAULT_CATALOG_FILE, type Catalog } from '../catalog/load.js';
import type { AppContext } from '../context.js';
import { LevelHistory } from '../levels/history.js';
import { ADAPTER_TYPES } from '../sources/adapters/index.js';
import { SourceRegistry } from '../sources/registry.js';
import { ActiveCatalog, type CatalogGeneration } from './active-catalog.js';
import { queryRouter, type AlertsFor } from './routes.js';
import { sourceHeadlines } from './headlines.js';
import { QueryService } from './service.js';
import { severityFor, type SeverityFor } from './severity.js';

/** What later capabilities plug into the query API: KPI severity and the summary's alerts. */
export interface QueryHooks {
  severityFor?: SeverityFor;
  alertsFor?: AlertsFor;
}

export interface QueryModule {
  /** Serves each request on the catalog generation in force when it arrived. */
  router: Router;
  active: ActiveCatalog;
  cache: QueryCache;
  /** The current generation's service and sources (they change on reload). */
  readonly service: QueryService;
  readonly registry: SourceRegistry;
}

/**
 * Loads the catalog (CATALOG_FILE or the built-in one), starts every source,
 * and serves the query API over them; `active.reload()` swaps in a new
 * version of the file without a restart.
 *
 * The `sources` readiness check reports each source but is not critical: one
 * external source down must not take every instance out of the load balancer,
 * since the other sources (and the built-in events) still answer. A source's
 * failure shows in its own queries' results, in /api/v1/catalog and here.
 */
export async function createQueryModule(context: AppContext, hooks: QueryHooks = {}): Promise<QueryModule> {
  const cache = new QueryCache(context.redis, context.cacheVersions, context.metrics.registry, context.logger);
  const levels = new LevelHistory(context.pool);
  const build = async (catalog: Catalog, version: string): Promise<CatalogGeneration> => {
    const registry = await SourceRegistry.create(catalog, context, ADAPTER_TYPES);
    const service = new QueryService(catalog, registry, cache, {
      maxRangeDays: context.config.QUERY_MAX_RANGE_DAYS,
      severityFor: hooks.severityFor ?? severityFor,
      logger: context.logger,
      catalogVersion: version,
      levels,
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
    return { version, catalog, registry, service, router, loadedAt: new Date() };
  };
  const active = await ActiveCatalog.create(context.config.CATALOG_FILE ?? DEFAULT_CATALOG_FILE, build, context.logger);
  context.onClose.push(() => active.close());
  context.sourceStatuses = () => active.current.registry.status();
  context.sourceHeadlines = (organizationId, from, to) => {
    const { catalog, service } = active.current;
    // Inside the system source's own timeout, so a slow source costs its headline, not the whole report.
    const system = catalog.sources.find((source) => source.type === 'system');
    return sourceHeadlines(catalog, service, organizationId, from, to, Math.max(100, (system?.timeoutMs ?? 5_000) - 1_000));
  };
  context.readinessChecks.push({
    name: 'sources',
    check: async () => {
      const statuses = await active.current.registry.checkHealth();
      const down = statuses.filter((source) => source.status !== 'up');
      return {
        ok: down.length === 0,
        critical: false,
        detail: down.length === 0 ? `${statuses.length} up` : down.map((source) => `${source.id} ${source.status}: ${source.lastError ?? 'no reason given'}`).join('; '),
      };
    },
  });

  const router = Router();
  router.use((req, res, next) => {
    const lease = active.acquire();
    res.once('finish', lease.release);
    res.once('close', lease.release);
    lease.generation.router(req, res, (error?: unknown) => {
      lease.release();
      next(error);
    });
  });
  return {
    router,
    active,
    cache,
    get service() {
      return active.current.service;
    },
    get registry() {
      return active.current.registry;
    },
  };
}
