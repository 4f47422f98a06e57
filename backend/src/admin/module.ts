import type { Router } from 'express';
import type { AppContext } from '../context.js';
import type { QueryModule } from '../query/module.js';
import { audit, type Actor } from './audit.js';
import { ReloadBus } from './reload-bus.js';
import { adminRouter, type ReloadCatalog } from './routes.js';

export interface AdminModule {
  router: Router;
  reloadCatalog: ReloadCatalog;
}

/**
 * Operator controls: the sources view, per-source cache clears, key
 * management over HTTP, and catalog reloads (HTTP, SIGHUP) that reach every
 * process through Redis.
 */
export async function createAdminModule(context: AppContext, query: QueryModule): Promise<AdminModule> {
  const bus = await ReloadBus.start(context.redis, context.logger, async (announced) => {
    if (query.active.current.version === announced) return;
    const result = await query.active.reload();
    if (result.version !== announced) {
      context.logger.warn({ announced, loaded: result.version }, 'catalog reloaded, but this process read a different file than the one announced');
    }
  });
  context.onClose.push(() => bus.close());

  const reloadCatalog: ReloadCatalog = async (actor: Actor) => {
    try {
      const result = await query.active.reload();
      audit(context.logger, actor, 'catalog.reload', { ...result });
      if (result.changed) await bus.announce(result.version).catch((error: unknown) => context.logger.warn({ err: error }, 'other processes could not be told of the reload; reload them too'));
      return result;
    } catch (error) {
      audit(context.logger, actor, 'catalog.reload.refused', { reason: error instanceof Error ? error.message : String(error) });
      throw error;
    }
  };
  context.reloadCatalog = reloadCatalog;
  return { router: adminRouter(context, query, reloadCatalog), reloadCatalog };
}
