import express, { type Express, type Router } from 'express';
import { pinoHttp } from 'pino-http';
import { KeyUsage } from './auth/key-usage.js';
import { requireApiKey, requireRouteScope } from './auth/middleware.js';
import { rateLimitPerKey } from './auth/rate-limit.js';
import type { AppContext } from './context.js';
import { healthRouter } from './health/routes.js';
import { admitByOrganization, Admission } from './http/admission.js';
import { errorHandler } from './http/errors.js';
import { requireMetricsToken } from './observability/metrics-auth.js';
import { rejectUnstorableStrings, requireUtf8Body } from './http/input-guard.js';

/** Routes whose work grows with the question (reads over ranges): admitted per organization. */
const HEAVY_ROUTES = ['/query', '/export.csv', '/summary', '/variables'];

const heavyWorkAdmission = ({ config }: AppContext) =>
  new Admission('queries', { perOwner: config.ADMISSION_PER_ORG, total: config.ADMISSION_PER_PROCESS, queueMs: config.ADMISSION_QUEUE_MS, perOwnerPerSecond: config.ADMISSION_RATE_PER_ORG });

/** Builds the HTTP app from a context and the API routers of each capability. */
export function createApp(context: AppContext, apiRouters: Router[]): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(
    pinoHttp({
      logger: context.logger,
      autoLogging: { ignore: (req) => req.url === '/health/live' || req.url === '/metrics' },
      customLogLevel: (_req, res, error) => (error || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
    }),
  );
  app.use(context.metrics.middleware());

  app.use(healthRouter(() => context.readinessChecks));
  app.get('/metrics', requireMetricsToken(context.config.METRICS_TOKEN), async (_req, res) => {
    res.set('Content-Type', context.metrics.registry.contentType).send(await context.metrics.registry.metrics());
  });

  const usage = new KeyUsage(context.pool, context.logger).start();
  // Before the pool closes, so the last uses are recorded.
  context.onClose.push(() => usage.close());
  const api = express.Router();
  const rateLimit = rateLimitPerKey(context.config.RATE_LIMIT_PER_MINUTE, context.redis, context.logger);
  api.use(rateLimit.early);
  api.use(requireApiKey(context.pool, usage));
  api.use(requireRouteScope());
  api.use(rateLimit.charge);
  api.use(HEAVY_ROUTES, admitByOrganization(heavyWorkAdmission(context), context.metrics.registry));
  api.use(express.json({ limit: context.config.MAX_BODY_BYTES, verify: requireUtf8Body }));
  api.use(rejectUnstorableStrings(['/events']));
  for (const router of apiRouters) api.use(router);
  app.use('/api/v1', api);

  app.use((req, res) => {
    res.status(404).json({ error: `no route for ${req.method} ${req.path}` });
  });
  app.use(errorHandler(context.logger));
  return app;
}
