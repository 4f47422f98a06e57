import { Router } from 'express';
import { z } from 'zod';
import { principalOf } from '../auth/middleware.js';
import type { Catalog } from '../catalog/load.js';
import type { AppContext } from '../context.js';
import { HttpError } from '../http/errors.js';
import { LiveMetricError, liveMetrics, readLiveCounters } from './counters.js';

const paramsSchema = z.object({
  metrics: z
    .string({ error: 'required: a comma-separated list of metric keys' })
    .transform((value) => value.split(',').map((key) => key.trim()).filter(Boolean))
    .refine((keys) => keys.length > 0 && keys.length <= 20, 'must name 1 to 20 metrics'),
  intervalMs: z.coerce.number().int().min(250, 'must be at least 250').max(60_000, 'must be at most 60000').default(1_000),
});

/**
 * GET /api/v1/live?metrics=a,b: Server-Sent Events, one `counters` event per
 * interval with each metric's value over the last 60 s. Feeds Grafana Live
 * through the plugin's Go stream handler.
 */
export function liveRouter(context: AppContext, catalog: () => Catalog): Router {
  const router = Router();
  router.get('/live', async (req, res, next) => {
    const parsed = paramsSchema.safeParse(req.query);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      next(new HttpError(400, `${issue.path.join('.')}: ${issue.message}`, issue.path.join('.')));
      return;
    }
    let metrics;
    try {
      metrics = liveMetrics(catalog(), parsed.data.metrics);
    } catch (error) {
      next(error instanceof LiveMetricError ? new HttpError(400, error.message, 'metrics') : error);
      return;
    }
    const { organizationId } = principalOf(req);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(`retry: 2000\n\n`);
    let closed = false;
    let running = false;
    const tick = async () => {
      if (closed || running) return;
      running = true;
      try {
        const values = await readLiveCounters(context.pool, organizationId, metrics);
        if (!closed) res.write(`event: counters\ndata: ${JSON.stringify({ time: Date.now(), values })}\n\n`);
      } catch (error) {
        context.logger.warn({ err: error }, 'live counters failed');
        if (!closed) res.write(`event: error\ndata: ${JSON.stringify({ error: 'live counters are unavailable; retrying' })}\n\n`);
      } finally {
        running = false;
      }
    };
    const timer = setInterval(() => void tick(), parsed.data.intervalMs);
    void tick();
    const stop = () => {
      closed = true;
      clearInterval(timer);
      context.shutdown.signal.removeEventListener('abort', stop);
      res.end();
    };
    req.on('close', stop);
    context.shutdown.signal.addEventListener('abort', stop);
  });
  return router;
}
