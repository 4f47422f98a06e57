import type { Router } from 'express';
import type { AppContext } from './context.js';
import { distinctAttributesOf } from './ingest/distinct-attributes.js';
import { ingestRouter } from './ingest/routes.js';
import { createAnomalyModule, firingAlerts, type AnomalyModule } from './anomalies/module.js';
import { liveRouter } from './live/routes.js';
import { createQueryModule } from './query/module.js';
import { createAdminModule } from './admin/module.js';

/**
 * The capabilities mounted under /api/v1, in data-flow order
 * (events in -> rollups -> planner -> frames out). Each module gets the
 * shared context and returns its router; it registers its own readiness
 * checks, metrics and shutdown hooks on the context.
 */
export async function buildApiModules(context: AppContext): Promise<{ routers: Router[]; anomalies: AnomalyModule }> {
  const routers: Router[] = [];
  const query = await createQueryModule(context, { alertsFor: firingAlerts(context) });
  // Ingestion sketches the attributes whose distinct values catalog metrics count.
  routers.push(ingestRouter(context, distinctAttributesOf(query.service.catalog)));
  routers.push(query.router);
  routers.push(liveRouter(context, () => query.active.current.catalog));
  const anomalies = await createAnomalyModule(context, query.active);
  routers.push(anomalies.router);
  routers.push((await createAdminModule(context, query)).router);
  return { routers, anomalies };
}
