import type { NextFunction, Request, Response } from 'express';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The process's Prometheus registry. Other modules register their own
 * collectors on `registry` (cache hit ratio, source latency, ingest rate).
 */
export class Metrics {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly httpErrors: Counter<'route' | 'status'>;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'metricshub_' });
    this.httpDuration = new Histogram({
      name: 'metricshub_http_request_duration_seconds',
      help: 'HTTP request duration by route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
    this.httpErrors = new Counter({
      name: 'metricshub_http_server_errors_total',
      help: 'HTTP answers with status >= 500',
      labelNames: ['route', 'status'],
      registers: [this.registry],
    });
  }

  /** Times every request, labelled by the matched route pattern (bounded cardinality). */
  middleware() {
    return (req: Request, res: Response, next: NextFunction): void => {
      const stop = this.httpDuration.startTimer({ method: req.method });
      res.on('finish', () => {
        const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
        const status = String(res.statusCode);
        stop({ route, status });
        if (res.statusCode >= 500) this.httpErrors.inc({ route, status });
      });
      next();
    };
  }
}
