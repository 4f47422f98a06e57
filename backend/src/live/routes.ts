import { Router } from 'express';
import { RateLimiterRes } from 'rate-limiter-flexible';
import { z } from 'zod';
import { principalOf } from '../auth/middleware.js';
import { rateLimitChargeOf } from '../auth/rate-limit.js';
import type { Catalog } from '../catalog/load.js';
import type { AppContext } from '../context.js';
import { Admission } from '../http/admission.js';
import { HttpError } from '../http/errors.js';
import { LiveMetricError, liveMetrics } from './counters.js';
import { LiveHub } from './hub.js';

const paramsSchema = z.object({
  metrics: z
    .string({ error: 'required: a comma-separated list of metric keys' })
    .transform((value) => value.split(',').map((key) => key.trim()).filter(Boolean))
    .refine((keys) => keys.length > 0 && keys.length <= 20, 'must name 1 to 20 metrics'),
  intervalMs: z.coerce.number().int().min(250, 'must be at least 250').max(60_000, 'must be at most 60000').default(1_000),
});

/**
 * GET /api/v1/live?metrics=a,b: Server-Sent Events, one `counters` event per
 * interval with each metric's value over its live window (60 s unless the
 * metric sets `liveWindowSeconds`; levels: now). Feeds Grafana Live
 * through the plugin's Go stream handler.
 *
 * Streams are capped per API key and per process (beyond: a wait of up to
 * LIVE_QUEUE_MS for a slot, then 429), the counters
 * are read once per organization and interval (LiveHub), and an open stream
 * costs its key one rate-limit request per LIVE_RATE_COST_SECONDS.
 */
export function liveRouter(context: AppContext, catalog: () => Catalog): Router {
  const { config } = context;
  const router = Router();
  const hub = new LiveHub(context.pool, context.logger);
  const streams = new Admission('live streams', { perOwner: config.LIVE_MAX_STREAMS_PER_KEY, total: config.LIVE_MAX_STREAMS_PER_PROCESS, queueMs: config.LIVE_QUEUE_MS });
  context.onClose.push(async () => hub.close());

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
    const { organizationId, keyId } = principalOf(req);
    let release;
    try {
      release = await streams.acquire(keyId);
    } catch (error) {
      next(error);
      return;
    }
    // The client may have given up while the stream waited for its slot.
    if (req.socket.destroyed) {
      release();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(`retry: 2000\n\n`);
    let closed = false;
    const write = (event: string, data: unknown) => {
      if (!closed) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    const unsubscribe = hub.subscribe(organizationId, parsed.data.intervalMs, {
      metrics,
      send: (time, values) => write('counters', { time, values }),
      fail: () => write('error', { error: 'live counters are unavailable; retrying' }),
    });
    // A stream is charged for the time it stays open, not once: a key cannot hold many streams for free.
    const charge = rateLimitChargeOf(res);
    const billing = charge
      ? setInterval(() => {
          charge(1).catch((rejection: unknown) => {
            if (!(rejection instanceof RateLimiterRes)) return;
            write('error', { error: `rate limit of this API key exceeded while streaming; reconnect after ${Math.max(1, Math.ceil(rejection.msBeforeNext / 1000))} s` });
            stop();
          });
        }, config.LIVE_RATE_COST_SECONDS * 1000)
      : undefined;
    const stop = () => {
      if (closed) return;
      closed = true;
      clearInterval(billing);
      unsubscribe();
      release();
      context.shutdown.signal.removeEventListener('abort', stop);
      res.end();
    };
    req.on('close', stop);
    context.shutdown.signal.addEventListener('abort', stop);
  });
  return router;
}
