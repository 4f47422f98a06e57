import type { Router } from 'express';
import type { AppContext } from './context.js';
import { distinctAttributesOf } from './ingest/distinct-attributes.js';
import { ingestRouter } from './ingest/routes.js';
import { createAnomalyModule, firingAlerts } from './anomalies/module.js';
import { liveRouter } from './live/routes.js';
import { createQueryModule } from './query/module.js';

/**
 * The capabilities mounted under /api/v1, in data-flow order
 * (events in -> rollups -> planner -> frames out). Each module gets the
 * shared context and returns its router; it registers its own readiness
 * checks, metrics and shutdown hooks on the context.
 */
export async function buildApiRouters(context: AppContext): Promise<Router[]> {
  const routers: Router[] = [];
  const query = await createQueryModule(context, { alertsFor: firingAlerts(context) });
  // Ingestion sketches the attributes whose distinct values catalog metrics count.
  routers.push(ingestRouter(context, distinctAttributesOf(query.service.catalog)));
  routers.push(query.router);
  routers.push(liveRouter(context, query.service.catalog));
  routers.push((await createAnomalyModule(context, query.service)).router);
  return routers;
}
