import { Router, type Request } from 'express';
import { principalOf } from '../auth/middleware.js';
import type { AppContext } from '../context.js';
import { HttpError } from '../http/errors.js';
import { NO_DISTINCT_ATTRIBUTES, type DistinctAttributes } from './distinct-attributes.js';
import { BatchTooLargeError, ingestEvents } from './ingest.js';
import { IngestMetrics } from './metrics.js';

function eventsOf(req: Request): unknown[] {
  const body: unknown = req.body;
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new HttpError(400, 'request body must be a JSON object {"events": [...]} sent with Content-Type: application/json');
  }
  const { events } = body as { events?: unknown };
  if (!Array.isArray(events)) throw new HttpError(400, 'events: required: an array of events', 'events');
  return events;
}

/** `POST /api/v1/events`: batches of events for the key's organization. */
export function ingestRouter(context: AppContext, distinct: DistinctAttributes = NO_DISTINCT_ATTRIBUTES): Router {
  const { config } = context;
  const metrics = new IngestMetrics(context.metrics.registry);
  const router = Router();

  router.post('/events', async (req, res) => {
    const events = eventsOf(req);
    try {
      const result = await ingestEvents(context.pool, principalOf(req).organizationId, events, {
        maxEvents: config.INGEST_MAX_EVENTS,
        maxFutureSkewSeconds: config.INGEST_MAX_FUTURE_SKEW_SECONDS,
        retentionDays: config.RAW_RETENTION_DAYS,
        cacheVersions: context.cacheVersions,
        metrics,
        distinct,
        perEvent: {
          maxAttributes: config.INGEST_MAX_ATTRIBUTES,
          maxKeyLength: config.INGEST_MAX_KEY_LENGTH,
          maxStringLength: config.INGEST_MAX_STRING_LENGTH,
          maxEventBytes: config.INGEST_MAX_EVENT_BYTES,
        },
      });
      res.json(result);
    } catch (error) {
      if (error instanceof BatchTooLargeError) throw new HttpError(413, error.message, 'events');
      throw error;
    }
  });
  return router;
}
